import { context as otelContext, createNoopMeter, metrics, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type {
  Attributes,
  BatchObservableCallback,
  Context,
  Counter,
  Histogram,
  Link,
  Meter,
  MeterProvider,
  ObservableGauge,
  ObservableUpDownCounter,
  Span,
  SpanContext,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import * as names from './constants.js';
import { execAttributesOf } from './exec-attributes.js';
import type { AcquireSpanOutcome } from './constants.js';
import type { IoDirection } from '../ssh/connection.js';

/** Live numbers of one pool key, read by the observable instruments at collection time. */
export interface ObservedPool {
  readonly name: string;
  readonly maxConnections: number;
  readonly activeConnections: number;
  readonly idleConnections: number;
  readonly pendingRequests: number;
  readonly openChannels: number;
  /**
   * Channels one connection may carry (`maxChannelsPerConnection`); with `maxConnections` it
   * gives the channel capacity when `channelCapacity` is not reported.
   */
  readonly maxChannelsPerConnection?: number;
  /**
   * Channels the pool key could carry at once right now: the sum of its connections' current
   * channel limits (lowered by refusals) plus the full limit for each connection it may still
   * open. Default: `maxConnections × maxChannelsPerConnection`.
   */
  readonly channelCapacity?: number;
  /** True while reconnect has used up its attempts and waits for new demand. Default: false. */
  readonly reconnectGivenUp?: boolean;
  /** Tunnelled connections open now, by `ssh.tunnel.kind`. Default: none. */
  readonly tunnelConnections?: Readonly<Record<string, number>>;
  /** Spare session channels held open for the next command. Default: 0. */
  readonly spareChannels?: number;
}

/**
 * A pool key whose fixed-label series exist from its creation on: the connect error types its
 * zero series cover. Held as given (callers pass shared constant lists), not copied per key.
 */
type RegisteredPool = readonly string[];

export interface TelemetryOptions {
  readonly tracerProvider?: TracerProvider | undefined;
  readonly meterProvider?: MeterProvider | undefined;
  /** Called at each metric collection: the host pools of one pool instance. */
  readonly observe: () => Iterable<ObservedPool>;
  /** The pool instance's name (`ssh.pool.instance`) on every span and metric point. @default 'global' */
  readonly instance?: string | undefined;
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
  readonly channelIo: Counter;
  readonly transferDuration: Histogram;
  readonly observables: Array<ObservableUpDownCounter | ObservableGauge>;
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

/** What an `ssh.tunnel` span records. */
export interface TunnelSpanInput {
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
  readonly kind: string;
  readonly channelType: string;
  readonly destination: string;
  readonly startTime: number;
  readonly receivedBytes: number;
  readonly transmittedBytes: number;
  /** The `ssh.connect` span of the connection that carried it. */
  readonly link: SpanContext | undefined;
}

/** Where a transfer's span starts from. */
export interface TransferSpanInput {
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
  readonly operation: names.SftpOperation;
}

/** A started span plus the context that makes it the parent of what happens inside it. */
export interface TracedScope {
  readonly span: Span;
  readonly context: Context;
}

const seconds = (ms: number): number => ms / 1000;

/** What the API's proxy delegates to until an SDK registers a tracer provider. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * The telemetry layer one pool instance calls at each lifecycle point. It depends on the
 * OpenTelemetry API only. Tracers go through the API's proxy, so an SDK registered after
 * import still receives spans; instruments are re-created whenever the global meter provider
 * changes, because instruments made from a provider stay bound to it. The API's no-op meter
 * gets no instruments at all, so nothing is built per command until an SDK is registered.
 */
export class PoolTelemetry {
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #meterProvider: MeterProvider | undefined;
  readonly #observe: TelemetryOptions['observe'];
  readonly #instance: string;
  #tracer: Tracer | undefined;
  #instruments: Instruments | undefined;
  #instrumentsFrom: MeterProvider | undefined;
  readonly #registered = new Map<string, RegisteredPool>();
  /** By `<channel type> <pool name>`. */
  readonly #ioAttributes = new Map<string, Record<IoDirection, Attributes>>();
  #shutdown = false;

  constructor(options: TelemetryOptions) {
    this.#tracerProvider = options.tracerProvider;
    this.#meterProvider = options.meterProvider;
    this.#observe = options.observe;
    this.#instance = options.instance ?? 'global';
  }

  /** `ssh.pool.instance` of this pool instance. */
  get instance(): string {
    return this.#instance;
  }

  /** The attributes every span and metric point of a pool key starts from. */
  #base(poolName: string): Attributes {
    return { [names.ATTR_POOL_NAME]: poolName, [names.ATTR_POOL_INSTANCE]: this.#instance };
  }

  get tracer(): Tracer {
    this.#tracer ??= (this.#tracerProvider ?? trace.getTracerProvider()).getTracer(names.INSTRUMENTATION_SCOPE, names.INSTRUMENTATION_VERSION);
    return this.#tracer;
  }

  /**
   * False while spans would go nowhere: no tracer provider was injected and none is registered
   * (the API's proxy still delegates to its no-op). Callers skip building spans, contexts and
   * attributes then, on the path of every command. Checked per call, so an SDK registered later
   * is seen at once. A provider from another copy of the API counts as recording.
   */
  get tracing(): boolean {
    const provider = this.#tracerProvider ?? trace.getTracerProvider();
    return !(provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_TRACER_PROVIDER);
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
      ...this.#base(input.poolName),
      [names.ATTR_COMMAND_TEMPLATE]: input.template,
    };
    if (input.text !== undefined) attributes[names.ATTR_COMMAND_TEXT] = input.text;
    const parent = otelContext.active();
    const extra = execAttributesOf(parent);
    if (extra) Object.assign(attributes, extra);
    const span = this.tracer.startSpan(names.SPAN_EXEC, { kind: SpanKind.CLIENT, attributes }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }

  /** `ssh.sftp.<operation>`, child of the caller's active context. */
  startTransfer(input: TransferSpanInput): TracedScope {
    const parent = otelContext.active();
    const span = this.tracer.startSpan(names.SPAN_SFTP[input.operation], {
      kind: SpanKind.CLIENT,
      attributes: {
        [names.ATTR_SERVER_ADDRESS]: input.host,
        [names.ATTR_SERVER_PORT]: input.port,
        ...this.#base(input.poolName),
        [names.ATTR_SFTP_OPERATION]: input.operation,
      },
    }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }

  /** `startTime` in epoch ms: acquire spans are made when their outcome is known, back-dated. */
  startAcquire(parent: Context, poolName: string, startTime: number): Span {
    return this.tracer.startSpan(
      names.SPAN_ACQUIRE,
      { kind: SpanKind.INTERNAL, startTime, attributes: this.#base(poolName) },
      parent,
    );
  }

  /**
   * A connect attempt is its own trace (many commands share the connection it opens), unless
   * `parent` is given: `telemetry.connectSpans: 'child'` makes it a child of the command it was
   * made for.
   */
  startConnect(poolName: string, host: string, port: number, parent?: Context): Span {
    return this.tracer.startSpan(
      names.SPAN_CONNECT,
      {
        kind: SpanKind.CLIENT,
        root: parent === undefined,
        attributes: {
          [names.ATTR_SERVER_ADDRESS]: host,
          [names.ATTR_SERVER_PORT]: port,
          [names.ATTR_NETWORK_TRANSPORT]: 'tcp',
          ...this.#base(poolName),
        },
      },
      parent ?? ROOT_CONTEXT,
    );
  }

  /** `startTime` in epoch ms, for a span made once the probe's outcome is known. */
  startHealthCheck(poolName: string, link: SpanContext | undefined, startTime?: number): Span {
    return this.tracer.startSpan(names.SPAN_HEALTH_CHECK, {
      kind: SpanKind.INTERNAL,
      root: true,
      ...(startTime === undefined ? {} : { startTime }),
      attributes: this.#base(poolName),
      links: link ? [connectionLink(link)] : [],
    }, ROOT_CONTEXT);
  }

  startReconnect(poolName: string, attempt: number): Span {
    return this.tracer.startSpan(names.SPAN_RECONNECT, {
      kind: SpanKind.INTERNAL,
      root: true,
      attributes: { ...this.#base(poolName), [names.ATTR_RECONNECT_ATTEMPT]: attempt },
    }, ROOT_CONTEXT);
  }

  /** One tunnelled connection, made when it is over and back-dated to its start (`startTime`, epoch ms). */
  startTunnel(input: TunnelSpanInput): Span {
    return this.tracer.startSpan(names.SPAN_TUNNEL, {
      kind: SpanKind.CLIENT,
      root: true,
      startTime: input.startTime,
      attributes: {
        [names.ATTR_SERVER_ADDRESS]: input.host,
        [names.ATTR_SERVER_PORT]: input.port,
        ...this.#base(input.poolName),
        [names.ATTR_TUNNEL_KIND]: input.kind,
        [names.ATTR_CHANNEL_TYPE]: input.channelType,
        [names.ATTR_TUNNEL_DESTINATION]: input.destination,
        [names.ATTR_TUNNEL_RECEIVED_BYTES]: input.receivedBytes,
        [names.ATTR_TUNNEL_TRANSMITTED_BYTES]: input.transmittedBytes,
      },
      links: input.link ? [connectionLink(input.link)] : [],
    }, ROOT_CONTEXT);
  }

  /** Ends a span as failed, with the low-cardinality `error.type` and a message without secrets. */
  static fail(span: Span, errorType: string, message?: string): void {
    span.setAttribute(names.ATTR_ERROR_TYPE, errorType);
    span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message });
    span.end();
  }

  // ---- metrics ----

  /**
   * Starts every series of a new pool key that has a fixed label set at zero: acquires and
   * wait time by outcome, closes by reason, reconnects by outcome, health checks by outcome,
   * refusals, timeouts, use time, successful commands, and connects (successful and failed with
   * each of `connectErrorTypes`). Prometheus' rate() and increase() only see increments
   * between two samples of a series that already exists, so without this the first burst of
   * failures, often the whole of a short outage, would be invisible. Instruments re-created for
   * a new meter provider start these series again.
   */
  registerPool(poolName: string, connectErrorTypes: readonly string[] = names.CONNECT_ERROR_TYPES): void {
    this.#registered.set(poolName, connectErrorTypes);
    const instruments = this.#current();
    if (instruments) startAtZero(instruments, this.#base(poolName), connectErrorTypes);
  }

  /** Stops re-creating the zero series of a pool key that no longer exists. */
  unregisterPool(poolName: string): void {
    this.#registered.delete(poolName);
    for (const key of this.#ioAttributes.keys()) if (key.endsWith(` ${poolName}`)) this.#ioAttributes.delete(key);
  }

  recordAcquire(poolName: string, outcome: AcquireSpanOutcome, waitMs: number): void {
    const instruments = this.#current();
    if (!instruments) return;
    const attributes = { ...this.#base(poolName), [names.ATTR_ACQUIRE_OUTCOME]: outcome };
    instruments.acquires.add(1, attributes);
    instruments.waitTime.record(seconds(waitMs), attributes);
    if (outcome === 'timeout') instruments.timeouts.add(1, this.#base(poolName));
  }

  recordCreateTime(poolName: string, durationMs: number, errorType?: string): void {
    const instruments = this.#current();
    if (!instruments) return;
    const attributes = this.#base(poolName);
    if (errorType) attributes[names.ATTR_ERROR_TYPE] = errorType;
    instruments.createTime.record(seconds(durationMs), attributes);
  }

  recordUseTime(poolName: string, durationMs: number): void {
    this.#current()?.useTime.record(seconds(durationMs), this.#base(poolName));
  }

  recordClosed(poolName: string, reason: string): void {
    this.#current()?.closed.add(1, { ...this.#base(poolName), [names.ATTR_CLOSE_REASON]: reason });
  }

  recordRefusal(poolName: string): void {
    this.#current()?.refusals.add(1, this.#base(poolName));
  }

  recordHealthCheck(poolName: string, durationMs: number, outcome: 'healthy' | 'unhealthy'): void {
    this.#current()?.healthCheckDuration.record(seconds(durationMs), {
      ...this.#base(poolName),
      [names.ATTR_HEALTH_CHECK_OUTCOME]: outcome,
    });
  }

  recordReconnectAttempt(poolName: string, outcome: 'success' | 'failure'): void {
    this.#current()?.reconnectAttempts.add(1, { ...this.#base(poolName), [names.ATTR_RECONNECT_OUTCOME]: outcome });
  }

  recordCommandDuration(poolName: string, durationMs: number, errorType?: string): void {
    const instruments = this.#current();
    if (!instruments) return;
    const attributes = this.#base(poolName);
    if (errorType) attributes[names.ATTR_ERROR_TYPE] = errorType;
    instruments.commandDuration.record(seconds(durationMs), attributes);
  }

  /** Bytes a channel carried; called per chunk, so its attributes are made once per pool key and channel type. */
  recordChannelIo(poolName: string, channelType: string, direction: IoDirection, bytes: number): void {
    const instruments = this.#current();
    if (!instruments) return;
    const key = `${channelType} ${poolName}`;
    let attributes = this.#ioAttributes.get(key);
    if (!attributes) {
      const base = this.#base(poolName);
      attributes = { receive: ioAttributes(base, 'receive', channelType), transmit: ioAttributes(base, 'transmit', channelType) };
      this.#ioAttributes.set(key, attributes);
    }
    instruments.channelIo.add(bytes, attributes[direction]);
  }

  recordTransferDuration(poolName: string, operation: names.SftpOperation, durationMs: number, errorType?: string): void {
    const instruments = this.#current();
    if (!instruments) return;
    const attributes: Attributes = { ...this.#base(poolName), [names.ATTR_SFTP_OPERATION]: operation };
    if (errorType) attributes[names.ATTR_ERROR_TYPE] = errorType;
    instruments.transferDuration.record(seconds(durationMs), attributes);
  }

  /** Stops observing: a closed pool must not keep reporting (or be kept alive by) callbacks. */
  shutdown(): void {
    this.#shutdown = true;
    this.#detach();
  }

  #current(): Instruments | undefined {
    if (this.#shutdown) return undefined;
    const provider = this.#meterProvider ?? metrics.getMeterProvider();
    // Undefined from the same provider means its meter is the API's no-op one.
    if (this.#instrumentsFrom === provider) return this.#instruments;
    this.#detach();
    this.#instrumentsFrom = provider;
    const meter = provider.getMeter(names.INSTRUMENTATION_SCOPE, names.INSTRUMENTATION_VERSION);
    // The no-op meter records nothing: no instruments, so no attributes are built per command.
    this.#instruments = meter === createNoopMeter() ? undefined : this.#create(meter);
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
    const channelMax = meter.createObservableUpDownCounter(names.METRIC_CHANNEL_MAX, {
      unit: '{channel}',
      description: 'Channels the pool key could carry at once: its connections\' channel limits plus those it may still open',
    });
    // Not `1`: the Collector appends `_ratio` to gauges of unit `1` (see prometheus-names.ts).
    const givenUp = meter.createObservableGauge(names.METRIC_RECONNECT_GIVEN_UP, {
      unit: '{state}',
      description: '1 while reconnect has used up its attempts for the pool key and waits for new demand, else 0',
    });
    const tunnels = meter.createObservableUpDownCounter(names.METRIC_TUNNEL_CONNECTIONS, {
      unit: '{connection}',
      description: 'Tunnelled connections open now, by kind: local (forward), remote (forwardRemote), socks',
    });
    const spares = meter.createObservableUpDownCounter(names.METRIC_CHANNEL_SPARE, {
      unit: '{channel}',
      description: 'Spare session channels held open so that the next command sends only exec',
    });
    const observables = [connectionCount, connectionMax, pending, channels, channelMax, givenUp, tunnels, spares];
    const callback: BatchObservableCallback = (result) => {
      for (const pool of this.#observe()) {
        const base = this.#base(pool.name);
        result.observe(connectionCount, pool.activeConnections, { ...base, [names.ATTR_CONNECTION_STATE]: 'used' });
        result.observe(connectionCount, pool.idleConnections, { ...base, [names.ATTR_CONNECTION_STATE]: 'idle' });
        result.observe(connectionMax, pool.maxConnections, base);
        result.observe(pending, pool.pendingRequests, base);
        result.observe(channels, pool.openChannels, base);
        const capacity = channelCapacityOf(pool);
        if (capacity !== undefined) result.observe(channelMax, capacity, base);
        result.observe(givenUp, pool.reconnectGivenUp ? 1 : 0, base);
        for (const kind of names.TUNNEL_KINDS) result.observe(tunnels, pool.tunnelConnections?.[kind] ?? 0, { ...base, [names.ATTR_TUNNEL_KIND]: kind });
        result.observe(spares, pool.spareChannels ?? 0, base);
      }
    };
    meter.addBatchObservableCallback(callback, observables);
    const instruments: Instruments = {
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
      channelIo: meter.createCounter(names.METRIC_CHANNEL_IO, { unit: 'By', description: 'Bytes carried by channels, by direction and channel type' }),
      transferDuration: histogram(names.METRIC_TRANSFER_DURATION, 'Duration of file transfers, from call to result, by operation'),
      observables,
      callback,
    };
    for (const [poolName, pool] of this.#registered) startAtZero(instruments, this.#base(poolName), pool);
    return instruments;
  }
}

function channelCapacityOf(pool: ObservedPool): number | undefined {
  if (pool.channelCapacity !== undefined) return pool.channelCapacity;
  return pool.maxChannelsPerConnection === undefined ? undefined : pool.maxConnections * pool.maxChannelsPerConnection;
}

/**
 * A histogram has no "add nothing": NaN is the one value the SDK accepts without counting it
 * (sdk-metrics drops NaN inside the aggregation, after the data point has been created; see
 * opentelemetry-js#4455 and the spec's "Handle all normal values"). The result is a data point
 * with count 0, sum 0 and empty buckets. test/unit/telemetry/zero-started-series.test.ts pins this.
 */
const NO_OBSERVATION = Number.NaN;

function startAtZero(instruments: Instruments, base: Attributes, connectErrorTypes: RegisteredPool): void {
  for (const outcome of names.ACQUIRE_OUTCOMES) {
    const attributes = { ...base, [names.ATTR_ACQUIRE_OUTCOME]: outcome };
    instruments.acquires.add(0, attributes);
    instruments.waitTime.record(NO_OBSERVATION, attributes);
  }
  instruments.timeouts.add(0, base);
  instruments.refusals.add(0, base);
  for (const reason of names.CLOSE_REASONS) instruments.closed.add(0, { ...base, [names.ATTR_CLOSE_REASON]: reason });
  for (const outcome of names.RECONNECT_OUTCOMES) {
    instruments.reconnectAttempts.add(0, { ...base, [names.ATTR_RECONNECT_OUTCOME]: outcome });
  }
  for (const outcome of names.HEALTH_CHECK_OUTCOMES) {
    instruments.healthCheckDuration.record(NO_OBSERVATION, { ...base, [names.ATTR_HEALTH_CHECK_OUTCOME]: outcome });
  }
  instruments.createTime.record(NO_OBSERVATION, base);
  for (const errorType of connectErrorTypes) {
    instruments.createTime.record(NO_OBSERVATION, { ...base, [names.ATTR_ERROR_TYPE]: errorType });
  }
  instruments.useTime.record(NO_OBSERVATION, base);
  instruments.commandDuration.record(NO_OBSERVATION, base);
  for (const channelType of [names.CHANNEL_TYPE_SESSION, names.CHANNEL_TYPE_SFTP, 'direct-tcpip']) {
    for (const direction of names.IO_DIRECTIONS) instruments.channelIo.add(0, ioAttributes(base, direction, channelType));
  }
  // Every error a command can end with, so that the first failed commands of an outage shorter
  // than a scrape interval count in rate() and increase() (the error-budget alerts read them).
  for (const errorType of [...connectErrorTypes, ...names.COMMAND_ERROR_TYPES]) {
    instruments.commandDuration.record(NO_OBSERVATION, { ...base, [names.ATTR_ERROR_TYPE]: errorType });
  }
  for (const operation of names.SFTP_OPERATIONS) {
    instruments.transferDuration.record(NO_OBSERVATION, { ...base, [names.ATTR_SFTP_OPERATION]: operation });
  }
}

function ioAttributes(base: Attributes, direction: IoDirection, channelType: string): Attributes {
  return { ...base, [names.ATTR_NETWORK_IO_DIRECTION]: direction, [names.ATTR_CHANNEL_TYPE]: channelType };
}

/** A link to the `ssh.connect` span of the connection a span used. */
export function connectionLink(context: SpanContext): Link {
  return { context, attributes: { [names.ATTR_LINK_KIND]: names.LINK_KIND_CONNECTION } };
}

/** A link to a connect attempt a span waited on (or, for a reconnect, made). */
export function attemptLink(context: SpanContext): Link {
  return { context, attributes: { [names.ATTR_LINK_KIND]: names.LINK_KIND_ATTEMPT } };
}
