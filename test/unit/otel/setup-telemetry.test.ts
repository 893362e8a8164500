// setupTelemetry (the `sshpool/otel` entry) against a real pool: the Prometheus endpoint
// serves every sshpool metric under its Prometheus name, OTLP/HTTP receives spans and
// metrics, and shutdown() flushes, closes the endpoint and unregisters the globals.
// Each vitest file runs in its own fork, so the global providers set here stay here; every
// test still shuts its setup down so that the next one can register again.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { context, metrics, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { $, SSHConnectionPool } from '../../../src/index.js';
import { setupTelemetry } from '../../../src/otel/index.js';
import type { TelemetryHandle } from '../../../src/otel/index.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { freePort } from '../../support/free-port.js';
import { sshdTarget } from '../../support/sshd-target.js';
import { until } from '../../support/until.js';

let server: EmbeddedSshServer;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  server = await new EmbeddedSshServer().start();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});



async function setup(options: Parameters<typeof setupTelemetry>[0]): Promise<TelemetryHandle> {
  const handle = await setupTelemetry(options);
  cleanups.push(() => handle.shutdown());
  return handle;
}

function newPool(options: ConstructorParameters<typeof SSHConnectionPool>[0] = {}) {
  const pool = new SSHConnectionPool(options);
  cleanups.push(() => pool.closeAll());
  const target = sshdTarget(server, pool);
  return { pool, target, ssh: $.ssh(target) };
}

/** Metric family name → its sample lines, from the Prometheus text format. */
function parseExposition(text: string): { types: Map<string, string>; samples: string[] } {
  const types = new Map<string, string>();
  const samples: string[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    else if (line && !line.startsWith('#')) samples.push(line);
  }
  return { types, samples };
}

describe('setupTelemetry with a Prometheus endpoint', () => {
  it('serves every metric the pool recorded under its Prometheus name, then shuts down', async () => {
    const port = await freePort();
    const telemetry = await setup({ serviceName: 'otel-setup-test', prometheus: { port } });
    expect(telemetry.prometheusUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    expect(telemetry.otlpTracesUrl).toBeUndefined();

    const { pool, target, ssh } = newPool();
    await ssh`echo created`;
    await ssh`echo reused`;
    await ssh`exit 3`.nothrow();
    // An acquire timeout on a second pool key (password: `#2`) of one slot, held by a lease.
    // The connection is opened first, so that a slow connect cannot be what times out.
    const narrow = { ...target, privateKey: undefined, password: server.password, poolConfig: { maxConnections: 1, maxChannelsPerConnection: 1, acquireTimeout: 1_000 } };
    await pool.warmUp(narrow, 1);
    const lease = await pool.getConnection(narrow);
    await expect($.ssh(narrow)`true`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_ACQUIRE_TIMEOUT' });
    lease.release();
    // release() hands the slot back once the lease's commands are done: a moment later.
    while (pool.getStats().activeConnections > 0) await delay(5);
    await pool.closeIdleConnections();
    await ssh`true`; // a new connection, so the observable gauges have a live pool to report

    const response = await fetch(telemetry.prometheusUrl!);
    expect(response.status).toBe(200);
    const text = await response.text();
    const { types, samples } = parseExposition(text);

    // Dots become underscores; monotonic counters gain `_total`; observable up-down counters
    // are gauges; histograms keep their OpenTelemetry name with no unit suffix (the JS
    // exporter writes the unit into a `# UNIT` comment instead, unlike the Collector,
    // whose Prometheus exporter appends `_seconds`).
    expect(Object.fromEntries(types)).toMatchObject({
      ssh_client_connection_count: 'gauge',
      ssh_client_connection_max: 'gauge',
      ssh_client_connection_pending_requests: 'gauge',
      ssh_client_channel_count: 'gauge',
      ssh_client_connection_create_time: 'histogram',
      ssh_client_connection_wait_time: 'histogram',
      ssh_client_connection_use_time: 'histogram',
      ssh_client_command_duration: 'histogram',
      ssh_client_connection_acquires_total: 'counter',
      ssh_client_connection_timeouts_total: 'counter',
      ssh_client_connection_closed_total: 'counter',
    });
    expect(text).not.toMatch(/_seconds/);
    expect(text).toContain('# UNIT ssh_client_command_duration s');

    const poolName = `${server.username}@${server.host}:${server.port}`;
    const has = (metric: string, ...labels: string[]): boolean =>
      samples.some((line) => line.startsWith(`${metric}{`) && labels.every((label) => line.includes(label)));
    const sshpoolSamples = samples.filter((line) => line.startsWith('ssh_client_'));
    expect(sshpoolSamples.filter((line) => !line.includes(`ssh_pool_name="${poolName}`))).toEqual([]);
    expect(has('ssh_client_connection_timeouts_total', `ssh_pool_name="${poolName}#2"`)).toBe(true);
    expect(has('ssh_client_connection_count', 'ssh_connection_state="idle"')).toBe(true);
    expect(has('ssh_client_connection_count', 'ssh_connection_state="used"')).toBe(true);
    expect(has('ssh_client_connection_max')).toBe(true);
    expect(has('ssh_client_connection_pending_requests')).toBe(true);
    expect(has('ssh_client_channel_count')).toBe(true);
    for (const outcome of ['created', 'reused', 'timeout']) {
      expect(has('ssh_client_connection_acquires_total', `ssh_pool_acquire_outcome="${outcome}"`), outcome).toBe(true);
      expect(has('ssh_client_connection_wait_time_bucket', `ssh_pool_acquire_outcome="${outcome}"`, 'le="0.001"'), outcome).toBe(true);
    }
    expect(has('ssh_client_connection_timeouts_total')).toBe(true);
    expect(has('ssh_client_connection_closed_total', 'ssh_connection_close_reason="idle"')).toBe(true);
    expect(has('ssh_client_connection_create_time_count')).toBe(true);
    expect(has('ssh_client_connection_use_time_sum')).toBe(true);
    expect(has('ssh_client_command_duration_count', 'error_type="ERR_SSHPOOL_COMMAND_FAILED"')).toBe(true);
    expect(has('ssh_client_command_duration_count', 'error_type="ERR_SSHPOOL_ACQUIRE_TIMEOUT"')).toBe(true);
    expect(samples.some((line) => line.startsWith('target_info{') && line.includes('service_name="otel-setup-test"'))).toBe(true);

    await pool.closeAll();
    await expect(telemetry.shutdown()).resolves.toBeUndefined();
    await expect(telemetry.shutdown()).resolves.toBeUndefined();
    await expect(fetch(telemetry.prometheusUrl!)).rejects.toThrow();
  });

  it('unregisters the global providers on shutdown, so setup can run again', async () => {
    const first = await setup({ serviceName: 'first', prometheus: { port: await freePort() } });
    const providerOfFirst = metrics.getMeterProvider();
    await first.shutdown();
    expect(metrics.getMeterProvider()).not.toBe(providerOfFirst);

    const port = await freePort();
    const second = await setup({ serviceName: 'second', prometheus: { port } });
    const { ssh } = newPool();
    await ssh`true`;
    const text = await (await fetch(second.prometheusUrl!)).text();
    expect(text).toContain('service_name="second"');
    expect(text).toContain('ssh_client_connection_acquires_total{');
  });

  it('registers a context manager, so a span stays active across await', async () => {
    await setup({ serviceName: 'context-test', prometheus: { port: await freePort() } });
    const tracer = trace.getTracer('otel-setup-test');
    const [outer, activeAfterAwait] = await tracer.startActiveSpan('outer', async (span) => {
      await delay(5);
      span.end();
      return [span, trace.getSpan(context.active())];
    });
    // Without a context manager the active context is always the root one.
    expect(activeAfterAwait).toBe(outer);
  });

  it('rejects with the address when the port is taken, leaving nothing running', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => blocker.close(() => resolve())));
    const { port } = blocker.address() as net.AddressInfo;
    await expect(setupTelemetry({ serviceName: 'taken', prometheus: { port } })).rejects.toThrow(
      `Cannot serve Prometheus metrics on 127.0.0.1:${port}`,
    );
    // Nothing was registered: a later setup works.
    await setup({ serviceName: 'after-failure', prometheus: { port: await freePort() } });
  });

  it('validates its options', async () => {
    await expect(setupTelemetry({ serviceName: '' })).rejects.toThrow('serviceName must be a non-empty string');
    await expect(setupTelemetry({ serviceName: 'x', otlpEndpoint: 'collector:4318' })).rejects.toThrow('otlpEndpoint must be an http(s) URL');
    await expect(setupTelemetry({ serviceName: 'x', prometheus: { port: 70_000 } })).rejects.toThrow('prometheus.port');
    await expect(setupTelemetry({ serviceName: 'x', metricExportIntervalMs: 0 })).rejects.toThrow('metricExportIntervalMs');
  });

  it('does nothing with OTEL_SDK_DISABLED=true', async () => {
    process.env['OTEL_SDK_DISABLED'] = 'true';
    try {
      const port = await freePort();
      const telemetry = await setupTelemetry({ serviceName: 'disabled', prometheus: { port } });
      expect(telemetry.prometheusUrl).toBeUndefined();
      await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
      await telemetry.shutdown();
    } finally {
      delete process.env['OTEL_SDK_DISABLED'];
    }
  });
});

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A stand-in for a Collector's OTLP/HTTP receiver that keeps what it is sent. */
async function startOtlpSink(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const sink = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise((resolve) => {
    sink.closeAllConnections();
    sink.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(sink.address() as net.AddressInfo).port}`, received, server: sink };
}

describe('setupTelemetry with OTLP', () => {
  it('sends spans and metrics to <otlpEndpoint>/v1/traces and /v1/metrics, flushed by shutdown', async () => {
    const sink = await startOtlpSink();
    const telemetry = await setup({ serviceName: 'otlp-test', otlpEndpoint: `${sink.url}/`, metricExportIntervalMs: 60_000 });
    expect(telemetry.otlpTracesUrl).toBe(`${sink.url}/v1/traces`);
    expect(telemetry.prometheusUrl).toBeUndefined();
    const { pool, ssh } = newPool();
    await ssh`echo ${'not-in-telemetry'}`;
    await pool.closeAll();
    // Nothing is exported before shutdown: the batch delay (5 s) and interval (60 s) have not passed.
    expect(sink.received).toHaveLength(0);
    await telemetry.shutdown();

    const traces = sink.received.filter((r) => r.path === '/v1/traces');
    const metricExports = sink.received.filter((r) => r.path === '/v1/metrics');
    expect(traces.length).toBeGreaterThan(0);
    expect(metricExports.length).toBeGreaterThan(0);
    expect(traces[0]!.headers['content-type']).toBe('application/x-protobuf');
    // Protobuf keeps strings as UTF-8 bytes: names and attributes can be found verbatim.
    const spanBytes = Buffer.concat(traces.map((r) => r.body)).toString('latin1');
    for (const name of ['ssh.exec', 'ssh.pool.acquire', 'ssh.connect', 'otlp-test', 'ssh.command.template']) expect(spanBytes).toContain(name);
    expect(spanBytes).not.toContain('not-in-telemetry');
    const metricBytes = Buffer.concat(metricExports.map((r) => r.body)).toString('latin1');
    for (const name of ['ssh.client.connection.acquires', 'ssh.client.command.duration', 'ssh.client.connection.closed']) {
      expect(metricBytes).toContain(name);
    }
  });

  it('honours OTEL_EXPORTER_OTLP_ENDPOINT when no endpoint is given', async () => {
    const sink = await startOtlpSink();
    process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = sink.url;
    try {
      const telemetry = await setup({ serviceName: 'otlp-env-test' });
      expect(telemetry.otlpTracesUrl).toBe(`${sink.url}/v1/traces`);
      const { ssh } = newPool();
      await ssh`true`;
      await telemetry.shutdown();
    } finally {
      delete process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
    }
    expect(sink.received.map((r) => r.path)).toContain('/v1/traces');
    expect(sink.received.map((r) => r.path)).toContain('/v1/metrics');
  });
});

describe('setupTelemetry with console traces', () => {
  interface Printed {
    readonly name: string;
    readonly id: string;
    readonly traceId: string;
    readonly parentSpanContext?: { spanId: string };
    readonly links: Array<{ context: { spanId: string } }>;
  }
  /** What ConsoleSpanExporter prints (one console.dir per finished span). */
  function capturePrinted(): Printed[] {
    const printed: Printed[] = [];
    const dir = vi.spyOn(console, 'dir').mockImplementation((value) => void printed.push(value as Printed));
    cleanups.push(async () => dir.mockRestore());
    return printed;
  }
  async function runUnderUserSpan(): Promise<string> {
    const { ssh } = newPool();
    return trace.getTracer('app').startActiveSpan('deploy', async (span) => {
      await ssh`echo traced`;
      span.end();
      return span.spanContext().spanId;
    });
  }
  function withEnv(name: string, value: string): void {
    const before = process.env[name];
    process.env[name] = value;
    cleanups.push(async () => {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    });
  }

  it('console: true prints every span, ssh.exec a child of the caller\'s span, with no backend at all', async () => {
    const printed = capturePrinted();
    const telemetry = await setup({ serviceName: 'console-test', console: true });
    expect(telemetry).toMatchObject({ consoleTraces: true, otlpTracesUrl: undefined, prometheusUrl: undefined });
    const deployId = await runUnderUserSpan();
    await until(() => printed.some((span) => span.name === 'deploy'), 5_000, 'the spans printed');
    const exec = printed.find((span) => span.name === 'ssh.exec')!;
    expect(exec.parentSpanContext?.spanId).toBe(deployId);
    expect(printed.map((span) => span.name)).toEqual(expect.arrayContaining(['ssh.connect', 'ssh.pool.acquire', 'ssh.exec', 'deploy']));
  });

  it('OTEL_TRACES_EXPORTER=console does the same; console: false in code wins', async () => {
    withEnv('OTEL_TRACES_EXPORTER', 'console');
    const printed = capturePrinted();
    const telemetry = await setup({ serviceName: 'console-env-test' });
    expect(telemetry.consoleTraces).toBe(true);
    await runUnderUserSpan();
    await until(() => printed.some((span) => span.name === 'ssh.exec'), 5_000, 'the spans printed');
    await telemetry.shutdown();

    const off = await setup({ serviceName: 'console-off-test', console: false });
    expect(off.consoleTraces).toBe(false);
  });

  it('OTEL_TRACES_EXPORTER=none turns traces off even with an OTLP endpoint; an unknown name warns', async () => {
    withEnv('OTEL_TRACES_EXPORTER', 'none');
    const telemetry = await setup({ serviceName: 'none-test', otlpEndpoint: 'http://127.0.0.1:9' });
    expect(telemetry).toMatchObject({ consoleTraces: false, otlpTracesUrl: undefined });
    expect(trace.getTracer('app').startSpan('x').isRecording()).toBe(false);
    await telemetry.shutdown();

    process.env['OTEL_TRACES_EXPORTER'] = 'zipkin,console';
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    cleanups.push(async () => warnings.mockRestore());
    capturePrinted();
    const mixed = await setup({ serviceName: 'mixed-test' });
    expect(mixed.consoleTraces).toBe(true);
    expect(warnings).toHaveBeenCalledWith(expect.stringContaining('OTEL_TRACES_EXPORTER names "zipkin", which is not supported here'), expect.anything());
  });

  it('validates console', async () => {
    await expect(setupTelemetry({ serviceName: 'x', console: 'yes' as never })).rejects.toThrow('console must be a boolean');
  });
});
