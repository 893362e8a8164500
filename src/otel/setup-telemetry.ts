import { context, diag, metrics, propagation, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';

/** Where the Prometheus scrape endpoint listens. */
export interface PrometheusEndpointOptions {
  /**
   * TCP port of the `/metrics` endpoint. Falls back to `OTEL_EXPORTER_PROMETHEUS_PORT`.
   * @default 9464
   */
  port?: number;
  /**
   * Address to bind. Falls back to `OTEL_EXPORTER_PROMETHEUS_HOST`. Use `0.0.0.0` to accept
   * scrapes from other machines.
   * @default '127.0.0.1'
   */
  host?: string;
}

/** Options of {@link setupTelemetry}. */
export interface SetupTelemetryOptions {
  /** `service.name` of every span and metric (the Prometheus `job` comes from the scrape config). */
  serviceName: string;
  /** `service.version`, when given. */
  serviceVersion?: string;
  /** Further resource attributes, e.g. `{ 'deployment.environment.name': 'prod' }`. */
  resourceAttributes?: Attributes;
  /**
   * Base URL of an OpenTelemetry Collector's OTLP/HTTP receiver, e.g. `http://collector:4318`.
   * Traces go to `<base>/v1/traces`, metrics to `<base>/v1/metrics` (protobuf). Without it,
   * `OTEL_EXPORTER_OTLP_ENDPOINT` (and the per-signal `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
   * `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`) switch OTLP export on.
   * Neither given: no OTLP export, and (without `console`) no tracer provider is registered
   * (spans cost nothing).
   */
  otlpEndpoint?: string;
  /**
   * Print every finished span to stdout (OpenTelemetry's `ConsoleSpanExporter`): traces without
   * any backend, for a first look or a test run. `OTEL_TRACES_EXPORTER=console` does the same.
   * @default false
   */
  console?: boolean;
  /** Serve a Prometheus scrape endpoint at `http://host:port/metrics`. `true` = the defaults. */
  prometheus?: boolean | PrometheusEndpointOptions;
  /**
   * ms between OTLP metric exports. Falls back to `OTEL_METRIC_EXPORT_INTERVAL`. Does not
   * affect Prometheus, which is pull-based: each scrape collects fresh values.
   * @default 60000
   */
  metricExportIntervalMs?: number;
}

/** What {@link setupTelemetry} started. */
export interface TelemetryHandle {
  /** The scrape URL, when the Prometheus endpoint runs. */
  readonly prometheusUrl: string | undefined;
  /** Where traces are sent (`.../v1/traces`), when OTLP export is on. */
  readonly otlpTracesUrl: string | undefined;
  /** True when spans are printed to stdout (`console`, or `OTEL_TRACES_EXPORTER=console`). */
  readonly consoleTraces: boolean;
  /**
   * Exports what is buffered (spans, a last metric push), stops the Prometheus endpoint and
   * unregisters the global providers, context manager and propagator, so the process can
   * exit (or set telemetry up again). Idempotent.
   */
  shutdown(): Promise<void>;
}

type SdkOptions = NonNullable<ConstructorParameters<typeof import('@opentelemetry/sdk-node').NodeSDK>[0]>;

const DEFAULT_PROMETHEUS_PORT = 9464;
const DEFAULT_PROMETHEUS_HOST = '127.0.0.1';
const DEFAULT_METRIC_EXPORT_INTERVAL_MS = 60_000;

const PEER_PACKAGES = [
  '@opentelemetry/sdk-node',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/exporter-trace-otlp-proto',
  '@opentelemetry/exporter-metrics-otlp-proto',
  '@opentelemetry/exporter-prometheus',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-trace',
];

/** Trace exporters `OTEL_TRACES_EXPORTER` may name here, as the OpenTelemetry SDKs read it. */
const TRACE_EXPORTER_NAMES = ['otlp', 'console', 'none'];

/**
 * One-call OpenTelemetry setup for an application using sshpool, built on
 * `@opentelemetry/sdk-node`: OTLP/HTTP traces and metrics to a Collector and/or a Prometheus
 * scrape endpoint, plus the async-hooks context manager (so `ssh.exec` spans nest under the
 * caller's span across `await`) and the W3C trace-context propagator.
 *
 * Call it once, before work starts; the returned promise settles when the Prometheus endpoint
 * listens (a port already in use rejects it). `sshpool` itself only uses `@opentelemetry/api`,
 * so pools created before or after this call report to the providers it registers.
 *
 * ```ts
 * import { setupTelemetry } from 'sshpool/otel';
 * const telemetry = await setupTelemetry({ serviceName: 'deployer', prometheus: true });
 * // ... run commands ...
 * await pool.closeAll();
 * await telemetry.shutdown();
 * ```
 *
 * `OTEL_SDK_DISABLED=true` makes it a no-op. `OTEL_TRACES_EXPORTER` (a comma-separated list of
 * `otlp`, `console`, `none`) chooses the trace exporters as in the OpenTelemetry SDKs: `console`
 * prints spans, `none` turns traces off, `otlp` sends them over OTLP (to `localhost:4318`
 * unless an endpoint is given).
 */
export async function setupTelemetry(options: SetupTelemetryOptions): Promise<TelemetryHandle> {
  validate(options);
  if (envFlag('OTEL_SDK_DISABLED')) {
    return { prometheusUrl: undefined, otlpTracesUrl: undefined, consoleTraces: false, shutdown: () => Promise.resolve() };
  }

  const { NodeSDK } = await importPeer(() => import('@opentelemetry/sdk-node'), '@opentelemetry/sdk-node');
  const metricReaders: NonNullable<SdkOptions['metricReaders']> = [];
  const stopOnFailure: Array<() => Promise<void>> = [];

  let prometheusUrl: string | undefined;
  const prometheus = prometheusOptions(options.prometheus);
  if (prometheus) {
    const { PrometheusExporter } = await importPeer(() => import('@opentelemetry/exporter-prometheus'), '@opentelemetry/exporter-prometheus');
    const exporter = new PrometheusExporter({ host: prometheus.host, port: prometheus.port, preventServerStart: true });
    try {
      await exporter.startServer();
    } catch (error) {
      throw new Error(`Cannot serve Prometheus metrics on ${prometheus.host}:${prometheus.port}: ${(error as Error).message}`, { cause: error });
    }
    stopOnFailure.push(() => exporter.stopServer());
    metricReaders.push(exporter);
    prometheusUrl = `http://${urlHost(prometheus.host)}:${prometheus.port}/metrics`;
  }

  let sdk: InstanceType<typeof NodeSDK>;
  let otlpTracesUrl: string | undefined;
  const traces = traceExporterChoice(options.console);
  try {
    let traceExporter: InstanceType<typeof import('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter> | undefined;
    const otlp = otlpUrls(options.otlpEndpoint);
    if (otlp) {
      const [{ OTLPMetricExporter }, { PeriodicExportingMetricReader }] = await Promise.all([
        importPeer(() => import('@opentelemetry/exporter-metrics-otlp-proto'), '@opentelemetry/exporter-metrics-otlp-proto'),
        importPeer(() => import('@opentelemetry/sdk-metrics'), '@opentelemetry/sdk-metrics'),
      ]);
      metricReaders.push(new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(otlp.metrics ? { url: otlp.metrics } : {}),
        exportIntervalMillis: exportInterval(options.metricExportIntervalMs),
      }));
    }
    if (traces.otlp === true || (traces.otlp === 'if-configured' && otlp)) {
      const { OTLPTraceExporter } = await importPeer(() => import('@opentelemetry/exporter-trace-otlp-proto'), '@opentelemetry/exporter-trace-otlp-proto');
      // Without an explicit url the exporter reads the OTEL_EXPORTER_OTLP_* variables itself.
      traceExporter = new OTLPTraceExporter(otlp?.traces ? { url: otlp.traces } : {});
      otlpTracesUrl = otlp?.traces ?? otlp?.fromEnvironment ?? 'http://localhost:4318/v1/traces';
    }
    const spanProcessors: NonNullable<SdkOptions['spanProcessors']> = [];
    if (traces.console) {
      const { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor } = await importPeer(() => import('@opentelemetry/sdk-trace'), '@opentelemetry/sdk-trace');
      // With a traceExporter, sdk-node builds its batch processor from it; with processors given,
      // it takes those alone: the OTLP one is added here then.
      if (traceExporter) spanProcessors.push(new BatchSpanProcessor({ exporter: traceExporter }));
      spanProcessors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    }

    const resourceAttributes: Attributes = { ...options.resourceAttributes };
    if (options.serviceVersion !== undefined) resourceAttributes['service.version'] = options.serviceVersion;
    let resource: SdkOptions['resource'] | undefined;
    if (Object.keys(resourceAttributes).length > 0) {
      const { resourceFromAttributes, defaultResource } = await importPeer(() => import('@opentelemetry/resources'), '@opentelemetry/resources');
      resource = defaultResource().merge(resourceFromAttributes(resourceAttributes));
    }

    sdk = new NodeSDK({
      serviceName: options.serviceName,
      ...(resource ? { resource } : {}),
      // Explicit lists: left undefined, sdk-node would read OTEL_*_EXPORTER and default to
      // OTLP on localhost for every signal, including logs that sshpool never writes.
      metricReaders,
      ...(traceExporter && !traces.console ? { traceExporter } : { spanProcessors }),
      logRecordProcessors: [],
    });
    sdk.start();
  } catch (error) {
    await Promise.allSettled(stopOnFailure.map((stop) => stop()));
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    prometheusUrl,
    otlpTracesUrl,
    consoleTraces: traces.console,
    shutdown() {
      stopping ??= (async () => {
        try {
          await sdk.shutdown();
        } finally {
          trace.disable();
          metrics.disable();
          propagation.disable();
          context.disable();
        }
      })();
      return stopping;
    },
  };
}

function validate(options: SetupTelemetryOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('setupTelemetry(options): options must be an object');
  if (typeof options.serviceName !== 'string' || options.serviceName.trim() === '') {
    throw new TypeError('setupTelemetry(options): serviceName must be a non-empty string');
  }
  if (options.otlpEndpoint !== undefined) {
    try {
      const url = new URL(options.otlpEndpoint);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new TypeError(`setupTelemetry(options): otlpEndpoint must be an http(s) URL, got ${JSON.stringify(options.otlpEndpoint)}`);
    }
  }
  if (options.console !== undefined && typeof options.console !== 'boolean') {
    throw new TypeError(`setupTelemetry(options): console must be a boolean, got ${String(options.console)}`);
  }
  const interval = options.metricExportIntervalMs;
  if (interval !== undefined && (!Number.isInteger(interval) || interval < 1)) {
    throw new TypeError(`setupTelemetry(options): metricExportIntervalMs must be a positive integer, got ${String(interval)}`);
  }
  const prometheus = options.prometheus;
  if (typeof prometheus === 'object' && prometheus !== null && prometheus.port !== undefined) {
    if (!Number.isInteger(prometheus.port) || prometheus.port < 1 || prometheus.port > 65_535) {
      throw new TypeError(`setupTelemetry(options): prometheus.port must be an integer from 1 to 65535, got ${String(prometheus.port)}`);
    }
  }
}

interface TraceExporterChoice {
  readonly console: boolean;
  /** `true`: asked for by name; `'if-configured'`: when an OTLP endpoint is set (the default). */
  readonly otlp: boolean | 'if-configured';
}

/** What `console` and `OTEL_TRACES_EXPORTER` ask for; an option given in code wins. */
function traceExporterChoice(consoleOption: boolean | undefined): TraceExporterChoice {
  const names = [...new Set((process.env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean))];
  for (const name of names) {
    if (!TRACE_EXPORTER_NAMES.includes(name)) {
      process.emitWarning(`sshpool/otel: OTEL_TRACES_EXPORTER names "${name}", which is not supported here (supported: ${TRACE_EXPORTER_NAMES.join(', ')}); ignored`, {
        code: 'SSHPOOL_OTEL_CONFIG',
      });
    }
  }
  if (names.length === 0) return { console: consoleOption === true, otlp: 'if-configured' };
  if (names.includes('none')) return { console: consoleOption === true, otlp: false };
  return { console: consoleOption ?? names.includes('console'), otlp: names.includes('otlp') ? true : false };
}

function prometheusOptions(option: SetupTelemetryOptions['prometheus']): Required<PrometheusEndpointOptions> | undefined {
  if (!option) return undefined;
  const given = option === true ? {} : option;
  const envPort = Number.parseInt(process.env['OTEL_EXPORTER_PROMETHEUS_PORT'] ?? '', 10);
  return {
    port: given.port ?? (Number.isInteger(envPort) && envPort > 0 ? envPort : DEFAULT_PROMETHEUS_PORT),
    host: given.host ?? (process.env['OTEL_EXPORTER_PROMETHEUS_HOST'] || DEFAULT_PROMETHEUS_HOST),
  };
}

interface OtlpUrls {
  /** Explicit per-signal URLs when `otlpEndpoint` was given. */
  readonly traces: string | undefined;
  readonly metrics: string | undefined;
  /** What the environment points traces at, for display only. */
  readonly fromEnvironment: string | undefined;
}

function otlpUrls(endpoint: string | undefined): OtlpUrls | undefined {
  if (endpoint !== undefined) {
    const base = endpoint.replace(/\/+$/, '');
    return { traces: `${base}/v1/traces`, metrics: `${base}/v1/metrics`, fromEnvironment: undefined };
  }
  const env = process.env;
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim();
  const metricsUrl = env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT']?.trim();
  if (!base && !traces && !metricsUrl) return undefined;
  return {
    traces: undefined,
    metrics: undefined,
    fromEnvironment: traces || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined),
  };
}

function exportInterval(option: number | undefined): number {
  if (option !== undefined) return option;
  const fromEnv = Number.parseInt(process.env['OTEL_METRIC_EXPORT_INTERVAL'] ?? '', 10);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_METRIC_EXPORT_INTERVAL_MS;
}

function envFlag(name: string): boolean {
  return process.env[name]?.trim().toLowerCase() === 'true';
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Loads an optional peer dependency, turning "not installed" into an instruction. */
async function importPeer<T>(load: () => Promise<T>, name: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      const message = `sshpool/otel needs ${name} for the options given, an optional peer dependency: npm install ${name}` +
        ` (every option needs at most: ${PEER_PACKAGES.join(' ')})`;
      diag.error(message);
      throw new Error(message, { cause: error });
    }
    throw error;
  }
}
