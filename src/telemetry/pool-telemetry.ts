import { context as otelContext, metrics, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type {
  Attributes,
  BatchObservableCallback,
  Context,
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  ObservableUpDownCounter,
  Span,
  SpanContext,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import * as names from './constants.js';
import type { AcquireSpanOutcome } from './constants.js';

/** Live numbers of one pool key, read by the observable instruments at collection time. */
export interface ObservedPool {
  readonly name: string;
  readonly maxConnections: number;
  readonly activeConnections: number;
  readonly idleConnections: number;
  readonly pendingRequests: number;
  readonly openChannels: number;
}

export interface TelemetryOptions {
  readonly tracerProvider?: TracerProvider | undefined;
  readonly meterProvider?: MeterProvider | undefined;
  /** Called at each metric collection: the host pools of one pool instance. */
  readonly observe: () => Iterable<ObservedPool>;
}

interface Instruments {
  readonly meter: Meter;
  readonly createTime: Histogram;
  readonly waitTime: Histogram;
  readonly useTime: Histogram;
  readonly acquires: Counter;
  readonly timeouts: Counter;
  readonly closed: Counter;
  readonly refusals: Counter;
  readonly healthCheckDuration: Histogram;
  readonly reconnectAttempts: Counter;
  readonly commandDuration: Histogram;
  readonly observables: ObservableUpDownCounter[];
  readonly callback: BatchObservableCallback;
}

/** Where a span starts from and what it links to. */
export interface ExecSpanInput {
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
  readonly template: string;
  readonly text: string | undefined;
}

/** A started span plus the context that makes it the parent of what happens inside it. */
export interface TracedScope {
  readonly span: Span;
  readonly context: Context;
}

const seconds = (ms: number): number => ms / 1000;

/**
 * The telemetry layer one pool instance calls at each lifecycle point. It depends on the
 * OpenTelemetry API only. Tracers go through the API's proxy, so an SDK registered after
 * import still receives spans; instruments are re-created whenever the global meter provider
 * changes, because instruments made from the no-op provider stay no-ops forever.
 */
export class PoolTelemetry {
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #meterProvider: MeterProvider | undefined;
  readonly #observe: TelemetryOptions['observe'];
  #tracer: Tracer | undefined;
  #instruments: Instruments | undefined;
  #instrumentsFrom: MeterProvider | undefined;
  #shutdown = false;

  constructor(options: TelemetryOptions) {
    this.#tracerProvider = options.tracerProvider;
    this.#meterProvider = options.meterProvider;
    this.#observe = options.observe;
  }

  get tracer(): Tracer {
    this.#tracer ??= (this.#tracerProvider ?? trace.getTracerProvider()).getTracer(names.INSTRUMENTATION_SCOPE, names.INSTRUMENTATION_VERSION);
    return this.#tracer;
  }

  /** Makes sure observable instruments exist on the current provider, so a scrape sees them. */
  ensureInstruments(): void {
    this.#current();
  }

  // ---- spans ----

  startExec(input: ExecSpanInput): TracedScope {
    const attributes: Attributes = {
      [names.ATTR_SERVER_ADDRESS]: input.host,
      [names.ATTR_SERVER_PORT]: input.port,
      [names.ATTR_POOL_NAME]: input.poolName,
      [names.ATTR_COMMAND_TEMPLATE]: input.template,
    };
    if (input.text !== undefined) attributes[names.ATTR_COMMAND_TEXT] = input.text;
    const parent = otelContext.active();
    const span = this.tracer.startSpan(names.SPAN_EXEC, { kind: SpanKind.CLIENT, attributes }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }

  /** `startTime` in epoch ms: acquire spans are made when their outcome is known, back-dated. */
  startAcquire(parent: Context, poolName: string, startTime: number): Span {
    return this.tracer.startSpan(
      names.SPAN_ACQUIRE,
      { kind: SpanKind.INTERNAL, startTime, attributes: { [names.ATTR_POOL_NAME]: poolName } },
      parent,
    );
  }

  /** A connect attempt is its own trace: many commands share the connection it opens. */
  startConnect(poolName: string, host: string, port: number): Span {
    return this.tracer.startSpan(
      names.SPAN_CONNECT,
      {
        kind: SpanKind.CLIENT,
        root: true,
        attributes: { [names.ATTR_SERVER_ADDRESS]: host, [names.ATTR_SERVER_PORT]: port, [names.ATTR_POOL_NAME]: poolName },
      },
      ROOT_CONTEXT,
    );
  }

  startHealthCheck(poolName: string, link: SpanContext | undefined): Span {
    return this.tracer.startSpan(names.SPAN_HEALTH_CHECK, {
      kind: SpanKind.INTERNAL,
      root: true,
      attributes: { [names.ATTR_POOL_NAME]: poolName },
      links: link ? [{ context: link }] : [],
    }, ROOT_CONTEXT);
  }

  startReconnect(poolName: string, attempt: number): Span {
    return this.tracer.startSpan(names.SPAN_RECONNECT, {
      kind: SpanKind.INTERNAL,
      root: true,
      attributes: { [names.ATTR_POOL_NAME]: poolName, [names.ATTR_RECONNECT_ATTEMPT]: attempt },
    }, ROOT_CONTEXT);
  }

  /** Ends a span as failed, with the low-cardinality `error.type` and a message without secrets. */
  static fail(span: Span, errorType: string, message?: string): void {
    span.setAttribute(names.ATTR_ERROR_TYPE, errorType);
    span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message });
    span.end();
  }

  // ---- metrics ----

  recordAcquire(poolName: string, outcome: AcquireSpanOutcome, waitMs: number): void {
    const instruments = this.#current();
    if (!instruments) return;
    const attributes = { [names.ATTR_POOL_NAME]: poolName, [names.ATTR_ACQUIRE_OUTCOME]: outcome };
    instruments.acquires.add(1, attributes);
    instruments.waitTime.record(seconds(waitMs), attributes);
    if (outcome === 'timeout') instruments.timeouts.add(1, { [names.ATTR_POOL_NAME]: poolName });
  }

  recordCreateTime(poolName: string, durationMs: number, errorType?: string): void {
    const attributes: Attributes = { [names.ATTR_POOL_NAME]: poolName };
    if (errorType) attributes[names.ATTR_ERROR_TYPE] = errorType;
    this.#current()?.createTime.record(seconds(durationMs), attributes);
  }

  recordUseTime(poolName: string, durationMs: number): void {
    this.#current()?.useTime.record(seconds(durationMs), { [names.ATTR_POOL_NAME]: poolName });
  }

  recordClosed(poolName: string, reason: string): void {
    this.#current()?.closed.add(1, { [names.ATTR_POOL_NAME]: poolName, [names.ATTR_CLOSE_REASON]: reason });
  }

  recordRefusal(poolName: string): void {
    this.#current()?.refusals.add(1, { [names.ATTR_POOL_NAME]: poolName });
  }

  recordHealthCheck(poolName: string, durationMs: number, outcome: 'healthy' | 'unhealthy'): void {
    this.#current()?.healthCheckDuration.record(seconds(durationMs), {
      [names.ATTR_POOL_NAME]: poolName,
      [names.ATTR_HEALTH_CHECK_OUTCOME]: outcome,
    });
  }

  recordReconnectAttempt(poolName: string, outcome: 'success' | 'failure'): void {
    this.#current()?.reconnectAttempts.add(1, { [names.ATTR_POOL_NAME]: poolName, [names.ATTR_RECONNECT_OUTCOME]: outcome });
  }

  recordCommandDuration(poolName: string, durationMs: number, errorType?: string): void {
    const attributes: Attributes = { [names.ATTR_POOL_NAME]: poolName };
    if (errorType) attributes[names.ATTR_ERROR_TYPE] = errorType;
    this.#current()?.commandDuration.record(seconds(durationMs), attributes);
  }

  /** Stops observing: a closed pool must not keep reporting (or be kept alive by) callbacks. */
  shutdown(): void {
    this.#shutdown = true;
    this.#detach();
  }

  #current(): Instruments | undefined {
    if (this.#shutdown) return undefined;
    const provider = this.#meterProvider ?? metrics.getMeterProvider();
    if (this.#instruments && this.#instrumentsFrom === provider) return this.#instruments;
    this.#detach();
    this.#instrumentsFrom = provider;
    this.#instruments = this.#create(provider.getMeter(names.INSTRUMENTATION_SCOPE, names.INSTRUMENTATION_VERSION));
    return this.#instruments;
  }

  #detach(): void {
    const old = this.#instruments;
    if (!old) return;
    old.meter.removeBatchObservableCallback(old.callback, old.observables);
    this.#instruments = undefined;
  }

  #create(meter: Meter): Instruments {
    const histogram = (name: string, description: string): Histogram =>
      meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: names.DURATION_BUCKETS_SECONDS } });
    const connectionCount = meter.createObservableUpDownCounter(names.METRIC_CONNECTION_COUNT, {
      unit: '{connection}',
      description: 'Open connections by state: used (carrying a command or lease) or idle',
    });
    const connectionMax = meter.createObservableUpDownCounter(names.METRIC_CONNECTION_MAX, {
      unit: '{connection}',
      description: 'Maximum connections allowed per pool key',
    });
    const pending = meter.createObservableUpDownCounter(names.METRIC_PENDING_REQUESTS, {
      unit: '{request}',
      description: 'Commands and leases waiting for a channel slot',
    });
    const channels = meter.createObservableUpDownCounter(names.METRIC_CHANNEL_COUNT, {
      unit: '{channel}',
      description: 'Channels open or opening',
    });
    const observables = [connectionCount, connectionMax, pending, channels];
    const callback: BatchObservableCallback = (result) => {
      for (const pool of this.#observe()) {
        const base = { [names.ATTR_POOL_NAME]: pool.name };
        result.observe(connectionCount, pool.activeConnections, { ...base, [names.ATTR_CONNECTION_STATE]: 'used' });
        result.observe(connectionCount, pool.idleConnections, { ...base, [names.ATTR_CONNECTION_STATE]: 'idle' });
        result.observe(connectionMax, pool.maxConnections, base);
        result.observe(pending, pool.pendingRequests, base);
        result.observe(channels, pool.openChannels, base);
      }
    };
    meter.addBatchObservableCallback(callback, observables);
    return {
      meter,
      createTime: histogram(names.METRIC_CREATE_TIME, 'Time to open a connection: TCP, handshake and authentication'),
      waitTime: histogram(names.METRIC_WAIT_TIME, 'Time a command or lease waited for a channel slot'),
      useTime: histogram(names.METRIC_USE_TIME, 'Time a channel slot was held'),
      acquires: meter.createCounter(names.METRIC_ACQUIRES, { unit: '{acquire}', description: 'Acquires by outcome' }),
      timeouts: meter.createCounter(names.METRIC_TIMEOUTS, { unit: '{timeout}', description: 'Acquires that timed out' }),
      closed: meter.createCounter(names.METRIC_CLOSED, { unit: '{connection}', description: 'Connections closed, by reason' }),
      refusals: meter.createCounter(names.METRIC_CHANNEL_REFUSALS, { unit: '{refusal}', description: 'Session channels the server refused' }),
      healthCheckDuration: histogram(names.METRIC_HEALTH_CHECK_DURATION, 'Duration of health probes, by outcome'),
      reconnectAttempts: meter.createCounter(names.METRIC_RECONNECT_ATTEMPTS, { unit: '{attempt}', description: 'Reconnect attempts, by outcome' }),
      commandDuration: histogram(names.METRIC_COMMAND_DURATION, 'Duration of commands, from await to result'),
      observables,
      callback,
    };
  }
}
