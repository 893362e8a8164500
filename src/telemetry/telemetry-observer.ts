import { context as otelContext, isSpanContextValid, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span, SpanContext } from '@opentelemetry/api';
import type { HostPoolEvent, HostPoolObserver, TraceParent } from '../pool/host-pool-events.js';
import { jumpConnectionOf } from '../pool/jump-dialer.js';
import type { PoolConnection } from '../ssh/connection.js';
import type { ResolvedPoolConfig } from '../config/pool-config.js';
import type { TelemetryConfig } from '../config/types.js';
import type { ConnectionEventDetails } from '../pool/types.js';
import { connectPhasesOf } from '../ssh/connect-phases.js';
import {
  ATTR_ACQUIRE_OUTCOME,
  ATTR_CHANNEL_OPEN_TIME,
  ATTR_CHANNEL_PREPARED,
  EVENT_CHANNEL_OPENED,
  EVENT_CONNECT_PHASES,
  ATTR_ACQUIRE_WAIT,
  ATTR_CONNECTION_ID,
  ATTR_ERROR_TYPE,
  ATTR_HEALTH_CHECK_OUTCOME,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_SSH_AUTH_METHOD,
  ATTR_RECONNECT_OUTCOME,
  ATTR_ROUTE,
} from './constants.js';
import { attemptLink, connectionLink, PoolTelemetry } from './pool-telemetry.js';

// Connect attempts' span contexts by attempt id, for links from the acquires and commands that
// waited on them; bounded, oldest dropped first (Map keeps insertion order).
const MAX_REMEMBERED_ATTEMPTS = 512;

// The `ssh.connect` span that opened each connection: acquires, commands, probes and
// reconnects that use the connection link to it.
const connectSpans = new WeakMap<PoolConnection, SpanContext>();

/** The `ssh.connect` span of the connection, for links. */
export function connectSpanOf(connection: PoolConnection): SpanContext | undefined {
  return connectSpans.get(connection);
}

/**
 * Spans and metrics of one host pool, as an observer of its event stream (docs/architecture.md, "Observers"). With no
 * tracer provider, spans are skipped (see `PoolTelemetry.tracing`); with no meter provider,
 * so are metric points. `route`:
 * for a pool key behind jump hosts, the endpoints its connections pass (`ssh.route`).
 */
export function telemetryObserver(telemetry: PoolTelemetry, details: ConnectionEventDetails, config: ResolvedPoolConfig, route?: string): HostPoolObserver {
  const observer = new HostPoolTelemetry(telemetry, details, config.telemetry, route);
  return (event) => observer.observe(event);
}

/**
 * The state behind one host pool's observer. A fleet has one per host, so everything is on the
 * prototype, and each map exists only while it holds something: most hosts never have a probe,
 * a reconnect or a span context worth remembering.
 */
class HostPoolTelemetry {
  readonly #telemetry: PoolTelemetry;
  readonly #details: ConnectionEventDetails;
  readonly #config: Required<TelemetryConfig>;
  readonly #route: string | undefined;
  /** `ssh.connect` spans of attempts in flight. */
  #connects: Map<number, Span> | undefined;
  #probes: Map<number, Span> | undefined;
  /** Probe start times (epoch ms) for spans made only when a probe fails. */
  #probeStarts: Map<number, number> | undefined;
  #attempts: Map<number, SpanContext> | undefined;
  #reconnect: Span | undefined;

  constructor(telemetry: PoolTelemetry, details: ConnectionEventDetails, config: Required<TelemetryConfig>, route: string | undefined) {
    this.#telemetry = telemetry;
    this.#details = details;
    this.#config = config;
    this.#route = route;
  }

  #rememberAttempt(attemptId: number, context: SpanContext): void {
    // A context without ids (no SDK yet) links nothing: not worth a map per host.
    if (!isSpanContextValid(context)) return;
    const attempts = (this.#attempts ??= new Map());
    attempts.set(attemptId, context);
    if (attempts.size > MAX_REMEMBERED_ATTEMPTS) attempts.delete(attempts.keys().next().value!);
  }

  /**
   * Links `span`, and the command span the acquire ran under, to the connect attempts it waited
   * on. `connection`: the connect span of the connection it got, linked as the connection
   * already; the attempt that opened it is not linked a second time (each span once).
   */
  #linkAttempts(span: Span | undefined, parent: Context | undefined, attemptIds: readonly number[], connection?: SpanContext): void {
    const attempts = this.#attempts;
    if (attemptIds.length === 0 || attempts === undefined) return;
    const exec = parent ? trace.getSpan(parent) : undefined;
    for (const attemptId of attemptIds) {
      const context = attempts.get(attemptId);
      if (!context || context.spanId === connection?.spanId) continue;
      span?.addLink(attemptLink(context));
      exec?.addLink(attemptLink(context));
    }
  }

  #wantsAcquireSpan(outcome: string): boolean {
    const wanted = this.#config.acquireSpans;
    return wanted === 'all' || (wanted === 'non-reused' && outcome !== 'reused');
  }

  observe(event: HostPoolEvent): void {
    const telemetry = this.#telemetry;
    const name = this.#details.poolName;
    switch (event.type) {
      case 'acquired': {
        telemetry.recordAcquire(name, event.outcome, event.waitMs);
        // Under a command span that records nothing (no SDK, or sampled out), its children
        // would record nothing either: skip building them, on the hot path of every command.
        if (!this.#wantsAcquireSpan(event.outcome) || !telemetry.tracing || !parentRecords(contextOf(event.parent))) break;
        // Made once the outcome is known, back-dated to the start: that is what lets
        // `acquireSpans: 'non-reused'` keep only the interesting ones.
        const span = telemetry.startAcquire(contextOf(event.parent) ?? otelContext.active(), name, event.startedAtEpoch);
        span.setAttributes({
          [ATTR_ACQUIRE_OUTCOME]: event.outcome,
          [ATTR_ACQUIRE_WAIT]: event.waitMs / 1000,
          [ATTR_CONNECTION_ID]: event.connection.id,
        });
        const link = connectSpans.get(event.connection);
        if (link) span.addLink(connectionLink(link));
        this.#linkAttempts(span, contextOf(event.parent), event.connectAttempts, link);
        span.end();
        break;
      }
      case 'acquire-failed': {
        telemetry.recordAcquire(name, event.outcome, event.waitMs);
        if (!this.#wantsAcquireSpan(event.outcome)) {
          this.#linkAttempts(undefined, contextOf(event.parent), event.connectAttempts);
          break;
        }
        const span = telemetry.startAcquire(contextOf(event.parent) ?? otelContext.active(), name, event.startedAtEpoch);
        span.setAttributes({ [ATTR_ACQUIRE_OUTCOME]: event.outcome, [ATTR_ACQUIRE_WAIT]: event.waitMs / 1000 });
        // A command that never ran because its connection failed points at every failed attempt.
        this.#linkAttempts(span, contextOf(event.parent), event.connectAttempts);
        PoolTelemetry.fail(span, event.errorType);
        break;
      }
      case 'released':
        telemetry.recordUseTime(name, event.heldMs);
        break;
      case 'channel-opened': {
        // exec = acquire + channel open + remote run: this event marks the middle boundary.
        const parent = contextOf(event.parent);
        const exec = parent ? trace.getSpan(parent) : undefined;
        exec?.addEvent(EVENT_CHANNEL_OPENED, { [ATTR_CHANNEL_OPEN_TIME]: event.openMs / 1000 }, event.atEpoch);
        exec?.setAttribute(ATTR_CHANNEL_PREPARED, event.prepared);
        break;
      }
      case 'connect-started': {
        const cause = this.#config.connectSpans === 'child' ? contextOf(event.cause) : undefined;
        const span = telemetry.startConnect(name, this.#details.host, this.#details.port, cause);
        if (this.#route) span.setAttribute(ATTR_ROUTE, this.#route);
        (this.#connects ??= new Map()).set(event.attemptId, span);
        this.#rememberAttempt(event.attemptId, span.spanContext());
        break;
      }
      case 'connected': {
        const span = this.#takeConnect(event.attemptId);
        telemetry.recordCreateTime(name, event.durationMs);
        if (!span) break;
        if (event.connection.peerAddress) span.setAttribute(ATTR_NETWORK_PEER_ADDRESS, event.connection.peerAddress);
        if (event.connection.peerPort !== undefined) span.setAttribute(ATTR_NETWORK_PEER_PORT, event.connection.peerPort);
        if (event.connection.authMethod) span.setAttribute(ATTR_SSH_AUTH_METHOD, event.connection.authMethod);
        span.setAttribute(ATTR_CONNECTION_ID, event.connection.id);
        // A tunnelled connection's connect span links to the jump host connection carrying it.
        const carrier = jumpConnectionOf(event.connection);
        const carrierSpan = carrier ? connectSpans.get(carrier) : undefined;
        if (carrierSpan) span.addLink(connectionLink(carrierSpan));
        addPhases(span, event.connection);
        span.end();
        // A context without ids (no SDK) links nothing: no entry for it.
        const context = span.spanContext();
        if (isSpanContextValid(context)) connectSpans.set(event.connection, context);
        break;
      }
      case 'connect-failed': {
        const span = this.#takeConnect(event.attemptId);
        telemetry.recordCreateTime(name, event.durationMs, event.error.code);
        if (!span) break;
        addPhases(span, event.error);
        PoolTelemetry.fail(span, event.error.code, event.error.message);
        break;
      }
      case 'closed':
        telemetry.recordClosed(name, event.reason);
        break;
      case 'channel-refused':
        telemetry.recordRefusal(name);
        break;
      case 'reconnect-started':
        this.#reconnect?.end();
        this.#reconnect = telemetry.startReconnect(name, event.attempt);
        break;
      case 'reconnect-finished': {
        telemetry.recordReconnectAttempt(name, event.outcome);
        const span = this.#reconnect;
        this.#reconnect = undefined;
        if (!span) break;
        span.setAttribute(ATTR_RECONNECT_OUTCOME, event.outcome);
        // Success links to the connection it opened; failure to the connect attempt that failed.
        const link = event.connection ? connectSpans.get(event.connection) : undefined;
        const attempt = event.attemptId === undefined ? undefined : this.#attempts?.get(event.attemptId);
        if (link) span.addLink(connectionLink(link));
        else if (attempt) span.addLink(attemptLink(attempt));
        if (event.error) PoolTelemetry.fail(span, event.error.code, event.error.message);
        else span.end();
        break;
      }
      case 'probe-started':
        if (this.#config.healthCheckSpans === 'all') (this.#probes ??= new Map()).set(event.probeId, telemetry.startHealthCheck(name, connectSpans.get(event.connection)));
        else if (this.#config.healthCheckSpans === 'failures') (this.#probeStarts ??= new Map()).set(event.probeId, Date.now());
        break;
      case 'probe-finished': {
        const outcome = event.healthy ? 'healthy' : 'unhealthy';
        telemetry.recordHealthCheck(name, event.durationMs, outcome);
        let span = takeFrom(this.#probes, event.probeId);
        const startedAt = takeFrom(this.#probeStarts, event.probeId);
        if (!span && startedAt !== undefined && !event.healthy && !event.lost) {
          span = telemetry.startHealthCheck(name, connectSpans.get(event.connection), startedAt);
        }
        if (!span) break;
        span.setAttribute(ATTR_HEALTH_CHECK_OUTCOME, outcome);
        if (event.healthy || event.lost) span.end();
        else PoolTelemetry.fail(span, event.errorType ?? 'Error', event.error?.message);
        break;
      }
      case 'channel-io':
        telemetry.recordChannelIo(name, event.channelType, event.direction, event.bytes);
        break;
      case 'tunnel-closed': {
        if (!telemetry.tracing) break;
        const span = telemetry.startTunnel({
          poolName: name, host: this.#details.host, port: this.#details.port, kind: event.kind, channelType: event.channelType,
          destination: event.destination, startTime: event.startedAtEpoch, receivedBytes: event.receivedBytes,
          transmittedBytes: event.transmittedBytes, link: event.connection ? connectSpans.get(event.connection) : undefined,
        });
        if (event.connection) span.setAttribute(ATTR_CONNECTION_ID, event.connection.id);
        const endTime = event.startedAtEpoch + event.durationMs;
        if (event.errorType) span.setAttribute(ATTR_ERROR_TYPE, event.errorType).setStatus({ code: SpanStatusCode.ERROR });
        span.end(endTime);
        break;
      }
      default:
        break;
    }
  }

  /** The span of a connect attempt that just ended; the map goes once no attempt is in flight. */
  #takeConnect(attemptId: number): Span | undefined {
    const span = this.#connects?.get(attemptId);
    if (this.#connects?.delete(attemptId) && this.#connects.size === 0) this.#connects = undefined;
    return span;
  }
}

/** Removes and returns `key`'s value. */
function takeFrom<V>(map: Map<number, V> | undefined, key: number): V | undefined {
  const value = map?.get(key);
  map?.delete(key);
  return value;
}

function parentRecords(parent: Context | undefined): boolean {
  const span = parent ? trace.getSpan(parent) : undefined;
  return span === undefined || span.isRecording();
}

function addPhases(span: Span, target: object): void {
  for (const { phase, at } of connectPhasesOf(target)) span.addEvent(EVENT_CONNECT_PHASES[phase], at);
}

/** The pool carries a command's trace parent without looking inside; only this layer puts contexts there. */
function contextOf(parent: TraceParent | undefined): Context | undefined {
  return parent as Context | undefined;
}
