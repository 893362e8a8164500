import { ERROR_CODES } from '../core/errors.js';
import { context as otelContext, metrics, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context, MeterProvider, ObservableCallback, ObservableGauge, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { errorTypeOf } from '../command/error-mapping.js';
import * as names from '../telemetry/constants.js';
import { execAttributesOf, withExecAttributes } from '../telemetry/exec-attributes.js';
import type { HostGroupStrategy } from './types.js';

/** Where a group's telemetry goes: the providers injected into its pool, else the global ones. */
export interface TelemetryProviders {
  readonly tracerProvider?: TracerProvider | undefined;
  readonly meterProvider?: MeterProvider | undefined;
  /** The pool instance's `ssh.pool.instance`. @default 'global' */
  readonly instanceName?: string | undefined;
}

/** One member as telemetry names it. */
export interface MemberLabel {
  /** `host:port` */
  readonly label: string;
  readonly host: string;
  readonly port: number;
  readonly poolName: string;
}

/** Read at each metric collection: the members of one group and whether each is up. */
export interface HostStateSource {
  readonly groupName: string;
  hostStates(): Iterable<{ readonly poolName: string; readonly up: boolean }>;
}

/**
 * The host group attributes the `ssh.exec` span started inside `context` carries
 * (`ssh.group.name`, `ssh.group.strategy`, `ssh.group.attempt`), or undefined outside a group
 * command.
 */
export function groupExecAttributes(context: Context): Attributes | undefined {
  return execAttributesOf(context);
}

/**
 * Spans of group commands, fan-outs and host state changes, and the `ssh.client.host.state`
 * gauge. Like the pool's telemetry, it costs next to nothing with no SDK registered, and finds
 * an SDK registered after the group was made.
 */
export class GroupTelemetry {
  readonly #groupName: string;
  readonly #strategy: HostGroupStrategy;
  readonly #providers: () => TelemetryProviders;
  readonly #gaugeSource: WeakRef<HostStateSource>;
  #gaugeProvider: MeterProvider | undefined;

  constructor(groupName: string, strategy: HostGroupStrategy, providers: () => TelemetryProviders, source: HostStateSource) {
    this.#groupName = groupName;
    this.#strategy = strategy;
    this.#providers = providers;
    this.#gaugeSource = new WeakRef(source);
  }

  get #instance(): string {
    return this.#providers().instanceName ?? 'global';
  }

  get #tracer(): Tracer {
    return (this.#providers().tracerProvider ?? trace.getTracerProvider()).getTracer(names.INSTRUMENTATION_SCOPE, names.INSTRUMENTATION_VERSION);
  }

  /** Starts the span of one group command, child of the caller's active context. */
  startCommand(template: string): { span: Span; context: Context } {
    this.#observeHostStates();
    const parent = otelContext.active();
    const span = this.#tracer.startSpan(names.SPAN_GROUP_EXEC, {
      kind: SpanKind.INTERNAL,
      attributes: {
        [names.ATTR_GROUP_NAME]: this.#groupName,
        [names.ATTR_GROUP_STRATEGY]: this.#strategy,
        [names.ATTR_POOL_INSTANCE]: this.#instance,
        [names.ATTR_COMMAND_TEMPLATE]: template,
      },
    }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }

  /** The context one try runs in: the `ssh.exec` started there is a child of `commandContext`. */
  attemptContext(commandContext: Context, attempt: number): Context {
    return withExecAttributes(commandContext, {
      [names.ATTR_GROUP_NAME]: this.#groupName,
      [names.ATTR_GROUP_STRATEGY]: this.#strategy,
      [names.ATTR_GROUP_ATTEMPT]: attempt,
    } satisfies Attributes);
  }

  attemptFailed(span: Span, member: MemberLabel, error: unknown): void {
    span.addEvent(names.EVENT_GROUP_ATTEMPT_FAILED, {
      [names.ATTR_GROUP_HOST]: member.label,
      [names.ATTR_POOL_NAME]: member.poolName,
      [names.ATTR_ERROR_TYPE]: errorTypeOf(error),
    });
  }

  /** Ends a command's span with the member that ran it (if any) and its error code (if any). */
  endCommand(span: Span, attempts: number, member: MemberLabel | undefined, errorType: string | undefined, message?: string): void {
    span.setAttribute(names.ATTR_GROUP_ATTEMPTS, attempts);
    if (member) {
      span.setAttributes({
        [names.ATTR_GROUP_HOST]: member.label,
        [names.ATTR_POOL_NAME]: member.poolName,
        [names.ATTR_SERVER_ADDRESS]: member.host,
        [names.ATTR_SERVER_PORT]: member.port,
      });
    }
    if (errorType) {
      span.setAttribute(names.ATTR_ERROR_TYPE, errorType);
      span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message });
    }
    span.end();
  }

  startFanOut(template: string, hostCount: number): { span: Span; context: Context } {
    this.#observeHostStates();
    const parent = otelContext.active();
    const span = this.#tracer.startSpan(names.SPAN_GROUP_FAN_OUT, {
      kind: SpanKind.INTERNAL,
      attributes: {
        [names.ATTR_GROUP_NAME]: this.#groupName,
        [names.ATTR_POOL_INSTANCE]: this.#instance,
        [names.ATTR_COMMAND_TEMPLATE]: template,
        [names.ATTR_GROUP_HOST_COUNT]: hostCount,
      },
    }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }

  endFanOut(span: Span, failed: number): void {
    span.setAttribute(names.ATTR_GROUP_FAILED_COUNT, failed);
    if (failed > 0) {
      span.setAttribute(names.ATTR_ERROR_TYPE, ERROR_CODES.fanOut);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  /**
   * A host went down or came back. Its own short trace (many commands are affected, none
   * owns it), linked from the span of `trigger` (the command that saw it, if any), which
   * also gets an event of the same name.
   */
  hostStateChanged(member: MemberLabel, state: 'down' | 'up', trigger: Context, error?: Error): void {
    this.#observeHostStates();
    const attributes: Attributes = {
      [names.ATTR_GROUP_NAME]: this.#groupName,
      [names.ATTR_GROUP_HOST]: member.label,
      [names.ATTR_POOL_NAME]: member.poolName,
      [names.ATTR_POOL_INSTANCE]: this.#instance,
      [names.ATTR_SERVER_ADDRESS]: member.host,
      [names.ATTR_SERVER_PORT]: member.port,
      [names.ATTR_HOST_STATE]: state,
    };
    if (error) attributes[names.ATTR_ERROR_TYPE] = errorTypeOf(error);
    const name = state === 'down' ? names.SPAN_HOST_DOWN : names.SPAN_HOST_UP;
    const active = trace.getSpan(trigger);
    active?.addEvent(name, attributes);
    const span = this.#tracer.startSpan(name, {
      kind: SpanKind.INTERNAL,
      root: true,
      attributes,
      links: active ? [{ context: active.spanContext() }] : [],
    }, ROOT_CONTEXT);
    // Down is the failure worth finding; the message is the connect error's, which holds no secret.
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    span.end();
  }

  /** Makes sure the gauge observes this group on the current meter provider. */
  #observeHostStates(): void {
    const provider = this.#providers().meterProvider ?? metrics.getMeterProvider();
    if (provider === this.#gaugeProvider) return;
    if (this.#gaugeProvider) HostStateGauge.forget(this.#gaugeProvider, this.#gaugeSource);
    this.#gaugeProvider = provider;
    HostStateGauge.observe(provider, this.#gaugeSource, this.#instance);
  }

  /** For the group's constructor: the gauge should list its hosts before the first command. */
  start(): void {
    this.#observeHostStates();
  }
}

/**
 * One `ssh.client.host.state` gauge per meter provider, observing every live group that uses
 * it. Groups are held weakly: a group dropped by its user stops being reported once collected.
 */
class HostStateGauge {
  static readonly #byProvider = new Map<MeterProvider, HostStateGauge>();
  readonly #gauge: ObservableGauge;
  /** Each group, held weakly, with its pool instance's name. */
  readonly #sources = new Map<WeakRef<HostStateSource>, string>();
  readonly #callback: ObservableCallback;

  static observe(provider: MeterProvider, source: WeakRef<HostStateSource>, instance: string): void {
    let gauge = HostStateGauge.#byProvider.get(provider);
    if (!gauge) HostStateGauge.#byProvider.set(provider, (gauge = new HostStateGauge(provider)));
    gauge.#sources.set(source, instance);
  }

  static forget(provider: MeterProvider, source: WeakRef<HostStateSource>): void {
    const gauge = HostStateGauge.#byProvider.get(provider);
    if (!gauge) return;
    gauge.#sources.delete(source);
    if (gauge.#sources.size === 0) gauge.#detach(provider);
  }

  private constructor(provider: MeterProvider) {
    const meter = provider.getMeter(names.INSTRUMENTATION_SCOPE, names.INSTRUMENTATION_VERSION);
    this.#gauge = meter.createObservableGauge(names.METRIC_HOST_STATE, {
      unit: '{state}',
      description: 'Host group member state: 1 up, 0 down (marked down by its circuit breaker, probing included)',
    });
    this.#callback = (result) => {
      for (const [ref, instance] of this.#sources) {
        const source = ref.deref();
        if (!source) {
          this.#sources.delete(ref);
          continue;
        }
        for (const { poolName, up } of source.hostStates()) {
          result.observe(up ? 1 : 0, { [names.ATTR_POOL_NAME]: poolName, [names.ATTR_POOL_INSTANCE]: instance, [names.ATTR_GROUP_NAME]: source.groupName });
        }
      }
    };
    this.#gauge.addCallback(this.#callback);
  }

  #detach(provider: MeterProvider): void {
    this.#gauge.removeCallback(this.#callback);
    HostStateGauge.#byProvider.delete(provider);
  }
}
