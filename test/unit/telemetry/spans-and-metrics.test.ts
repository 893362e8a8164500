import { context, metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { $, AcquireTimeoutError, SSHConnectionPool } from '../../../src/index.js';
import type { PoolConfig } from '../../../src/index.js';
import { PoolTelemetry } from '../../../src/telemetry/pool-telemetry.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { TestMetricReader } from '../../support/test-metric-reader.js';
import { until } from '../../support/until.js';
import { freePort } from '../../support/free-port.js';

const exporter = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
let reader: TestMetricReader;
let meterProvider: MeterProvider;
let server: EmbeddedSshServer;
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  server = await new EmbeddedSshServer().start();
});
afterAll(async () => {
  await server.stop();
  context.disable();
});

const pools: SSHConnectionPool[] = [];
function newPool(config: PoolConfig = {}) {
  reader = new TestMetricReader();
  meterProvider = new MeterProvider({ readers: [reader] });
  const pool = new SSHConnectionPool({ ...config, tracerProvider, meterProvider });
  pools.push(pool);
  const target = { host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off' as const, pool };
  return { pool, target, ssh: $.ssh(target) };
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.closeAll()));
  exporter.reset();
});

const spansNamed = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);

async function collect(): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  const byName = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
  return byName;
}
function points(metric: MetricData | undefined): DataPoint<unknown>[] {
  return (metric?.dataPoints ?? []) as DataPoint<unknown>[];
}

describe('spans', () => {
  it('makes ssh.exec a CLIENT child of the caller span, with ssh.pool.acquire as its child and a link to ssh.connect', async () => {
    const { ssh } = newPool();
    const tracer = tracerProvider.getTracer('test');
    await tracer.startActiveSpan('caller', async (caller) => {
      await ssh`echo hi`;
      caller.end();
    });
    const [exec] = spansNamed('ssh.exec');
    const [acquire] = spansNamed('ssh.pool.acquire');
    const [connect] = spansNamed('ssh.connect');
    const [caller] = spansNamed('caller');
    expect(exec!.kind).toBe(SpanKind.CLIENT);
    expect(exec!.parentSpanContext?.spanId).toBe(caller!.spanContext().spanId);
    expect(acquire!.parentSpanContext?.spanId).toBe(exec!.spanContext().spanId);
    expect(acquire!.kind).toBe(SpanKind.INTERNAL);
    expect(connect!.kind).toBe(SpanKind.CLIENT);
    expect(connect!.parentSpanContext).toBeUndefined();
    expect(connect!.spanContext().traceId).not.toBe(exec!.spanContext().traceId);
    expect(exec!.links.map((l) => l.context.spanId)).toContain(connect!.spanContext().spanId);
    expect(exec!.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'ssh.pool.name': `tester@127.0.0.1:${server.port}`,
      'process.exit.code': 0,
      'ssh.pool.acquire.outcome': 'created',
    });
    expect(acquire!.attributes['ssh.pool.acquire.outcome']).toBe('created');
    expect(connect!.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'network.peer.address': '127.0.0.1',
      'network.peer.port': server.port,
      'network.transport': 'tcp',
      'ssh.pool.instance': expect.stringMatching(/^pool-\d+$/),
    });
    // Each link says what it points at. The connect this command waited on opened the connection
    // it ran on: one link, as the connection, not a second one as the attempt.
    expect(exec!.links.filter((l) => l.context.spanId === connect!.spanContext().spanId).map((l) => l.attributes?.['ssh.link.kind'])).toEqual([
      'connection',
    ]);
    expect(exec!.attributes['ssh.pool.instance']).toBe(connect!.attributes['ssh.pool.instance']);
    // The connect's marks in protocol order, each at or after the one before.
    expect(connect!.events.map((e) => e.name)).toEqual([
      'ssh.connect.tcp_connected',
      'ssh.connect.host_key_verified',
      'ssh.connect.key_exchanged',
      'ssh.connect.authenticated',
    ]);
    const times = connect!.events.map((e) => e.time[0] * 1e3 + e.time[1] / 1e6);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });

  it('marks a second command on the open connection as a reused acquire', async () => {
    const { ssh } = newPool();
    await ssh`true`;
    await ssh`true`;
    const outcomes = spansNamed('ssh.pool.acquire').map((s) => s.attributes['ssh.pool.acquire.outcome']);
    expect(outcomes).toEqual(['created', 'reused']);
    expect(spansNamed('ssh.connect')).toHaveLength(1);
  });

  it('masks interpolated values in the command template and records full text only on opt-in', async () => {
    const masked = newPool();
    await masked.ssh`echo ${'s3cr3t'} ${['a', 'b']}`;
    const [exec] = spansNamed('ssh.exec');
    expect(exec!.attributes['ssh.command.template']).toBe('echo ? ?');
    expect(JSON.stringify(exec!.attributes)).not.toContain('s3cr3t');
    exporter.reset();
    const captured = newPool({ telemetry: { captureCommand: true } });
    await captured.ssh`echo ${'visible'}`;
    expect(spansNamed('ssh.exec')[0]!.attributes['ssh.command.text']).toBe("echo 'visible'");
  });

  it('records a failing command with ERROR status, its exit code and error.type', async () => {
    const { ssh } = newPool();
    await ssh`exit 4`.nothrow();
    const [exec] = spansNamed('ssh.exec');
    expect(exec!.status.code).toBe(SpanStatusCode.ERROR);
    expect(exec!.attributes).toMatchObject({ 'process.exit.code': 4, 'error.type': 'ERR_SSHPOOL_COMMAND_FAILED' });
  });

  it('records an acquire timeout on both the acquire and the exec span', async () => {
    const { pool, target, ssh } = newPool({ maxConnections: 1, maxChannelsPerConnection: 1, acquireTimeout: 200 });
    await ssh`true`;
    const lease = await pool.getConnection(target);
    exporter.reset();
    await expect(ssh`true`).rejects.toBeInstanceOf(AcquireTimeoutError);
    lease.release();
    const [acquire] = spansNamed('ssh.pool.acquire');
    const [exec] = spansNamed('ssh.exec');
    expect(acquire!.attributes).toMatchObject({ 'ssh.pool.acquire.outcome': 'timeout', 'error.type': 'ERR_SSHPOOL_ACQUIRE_TIMEOUT' });
    expect(exec!.attributes).toMatchObject({ 'ssh.pool.acquire.outcome': 'timeout', 'error.type': 'ERR_SSHPOOL_ACQUIRE_TIMEOUT' });
    expect(exec!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('records a failed connect as an ssh.connect span with error.type and no secret', async () => {
    const { target } = newPool();
    await expect($.ssh({ ...target, privateKey: undefined, password: 'hunter2-secret' })`true`).rejects.toThrow();
    const [connect] = spansNamed('ssh.connect');
    expect(connect!.status.code).toBe(SpanStatusCode.ERROR);
    expect(connect!.attributes['error.type']).toBe('ERR_SSHPOOL_AUTH');
    expect(JSON.stringify([connect!, ...spansNamed("ssh.exec")].map((s) => [s.attributes, s.status]))).not.toContain('hunter2');
    expect(spansNamed('ssh.pool.acquire')[0]!.attributes['ssh.pool.acquire.outcome']).toBe('error');
  });

  it("emits acquire spans only for non-reused acquires with acquireSpans: 'non-reused'", async () => {
    const { ssh } = newPool({ telemetry: { acquireSpans: 'non-reused' } });
    await ssh`true`;
    await ssh`true`;
    expect(spansNamed('ssh.pool.acquire').map((s) => s.attributes['ssh.pool.acquire.outcome'])).toEqual(['created']);
    expect(spansNamed('ssh.exec')).toHaveLength(2);
  });
});

describe('traces that explain a slow command', () => {
  it('records the connect phases as timestamped events on ssh.connect', async () => {
    const { ssh } = newPool();
    await ssh`true`;
    const [connect] = spansNamed('ssh.connect');
    const names = connect!.events.map((event) => event.name);
    expect(names).toEqual(expect.arrayContaining([
      'ssh.connect.tcp_connected', 'ssh.connect.host_key_verified', 'ssh.connect.key_exchanged', 'ssh.connect.authenticated',
    ]));
    expect(names.at(-1)).toBe('ssh.connect.authenticated');
    const times = connect!.events.map((event) => event.time[0] * 1e3 + event.time[1] / 1e6);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('marks on ssh.exec when the channel opened, so exec = acquire + open + remote run', async () => {
    const { ssh } = newPool();
    await ssh`sleep 1`;
    const [exec] = spansNamed('ssh.exec');
    const opened = exec!.events.find((event) => event.name === 'ssh.channel.opened');
    expect(opened?.attributes?.['ssh.channel.open_time']).toBeGreaterThan(0);
    const at = opened!.time[0] * 1e3 + opened!.time[1] / 1e6;
    const start = exec!.startTime[0] * 1e3 + exec!.startTime[1] / 1e6;
    const end = exec!.endTime[0] * 1e3 + exec!.endTime[1] / 1e6;
    expect(at).toBeGreaterThanOrEqual(start);
    // The remote run (sleep 1) comes after the channel opened. The mark is taken when the
    // client reads the exec's answer, by which time the command already runs: a client 500 ms
    // behind is still told apart from a mark at the end (0.1 s with 90 ms failed under load).
    expect(end - at).toBeGreaterThanOrEqual(500);
  });

  it('says on ssh.exec whether the command ran on a spare session (ssh.channel.prepared)', async () => {
    const { ssh } = newPool();
    await ssh`echo one`;
    await ssh`echo two`;
    // The first command opened the connection and its own channel; the second found a spare.
    expect(spansNamed('ssh.exec').map((span) => span.attributes['ssh.channel.prepared'])).toEqual([false, true]);
  });

  it('regression: ssh.exec carried two links to the same ssh.connect span — a span links to a connect span once', async () => {
    const { ssh } = newPool();
    await ssh`echo created`;
    await ssh`echo reused`;
    await Promise.all([ssh`echo a`, ssh`echo b`, ssh`echo c`]);
    const linkKeys = (span: ReadableSpan) => span.links.map((link) => `${link.context.spanId} ${String(link.attributes?.['ssh.link.kind'])}`);
    const spans = [...spansNamed('ssh.exec'), ...spansNamed('ssh.pool.acquire')];
    expect(spans).toHaveLength(10);
    for (const span of spans) {
      expect(new Set(span.links.map((link) => link.context.spanId)).size, `${span.name} links each connect span once`).toBe(span.links.length);
      // At most: an attempt it waited on that opened another connection, and the connection it ran on.
      expect(span.links.length).toBeLessThanOrEqual(2);
      expect(linkKeys(span).filter((key) => key.endsWith(' connection'))).toHaveLength(1);
    }
  });

  it('links a command that could not connect to every failed ssh.connect attempt made for it', async () => {
    const pool = new SSHConnectionPool({ tracerProvider, meterProvider: new MeterProvider(), maxRetries: 2, reconnect: { initialDelay: 10, maxDelay: 20 } });
    pools.push(pool);
    const port = await freePort();
    await $.ssh({ host: '127.0.0.1', port, username: 'u', password: 'p', hostKey: 'off', pool })`true`.catch(() => {});
    const connects = spansNamed('ssh.connect');
    expect(connects).toHaveLength(3);
    expect(connects.every((span) => span.status.code === SpanStatusCode.ERROR)).toBe(true);
    const [exec] = spansNamed('ssh.exec');
    const [acquire] = spansNamed('ssh.pool.acquire');
    const ids = connects.map((span) => span.spanContext().spanId).sort();
    expect(exec!.links.map((link) => link.context.spanId).sort()).toEqual(ids);
    expect(acquire!.links.map((link) => link.context.spanId).sort()).toEqual(ids);    expect([...exec!.links, ...acquire!.links].every((link) => link.attributes?.['ssh.link.kind'] === 'attempt')).toBe(true);
  });

  it('links a failed ssh.reconnect to its failed ssh.connect attempt', async () => {
    const lonely = await new EmbeddedSshServer().start();
    const pool = new SSHConnectionPool({ tracerProvider, meterProvider: new MeterProvider(), reconnect: { initialDelay: 10, maxDelay: 20, maxRetries: 2 } });
    pools.push(pool);
    const target = { host: lonely.host, port: lonely.port, username: lonely.username, privateKey: lonely.privateKey, hostKey: 'off' as const, pool, poolConfig: { warmUpConnections: 1 } };
    await pool.warmUp(target, 1);
    await lonely.stop(); // the server goes away with its connections: reconnect meets a closed port
    await until(() => spansNamed('ssh.reconnect').filter((s) => s.attributes['ssh.reconnect.outcome'] === 'failure').length >= 2);
    const attempts = new Map(spansNamed('ssh.connect').map((span) => [span.spanContext().spanId, span]));
    for (const reconnect of spansNamed('ssh.reconnect')) {
      expect(reconnect.attributes['ssh.reconnect.outcome']).toBe('failure');
      expect(reconnect.links).toHaveLength(1);
      expect(reconnect.links[0]!.attributes).toEqual({ 'ssh.link.kind': 'attempt' });
      const attempt = attempts.get(reconnect.links[0]!.context.spanId);
      expect(attempt?.status.code).toBe(SpanStatusCode.ERROR);
      expect(attempt?.attributes['error.type']).toBe(reconnect.attributes['error.type']);
    }
  });

  it('telemetry.connectSpans: child makes the connect a command waited on a child of its ssh.exec, links kept; the default keeps it a root', async () => {
    const child = newPool({ telemetry: { connectSpans: 'child' } });
    const tracer = tracerProvider.getTracer('test');
    await tracer.startActiveSpan('job', async (job) => {
      await child.ssh`echo one`;
      job.end();
    });
    const [exec] = spansNamed('ssh.exec');
    const [connect] = spansNamed('ssh.connect');
    expect(connect!.parentSpanContext?.spanId).toBe(exec!.spanContext().spanId);
    expect(connect!.spanContext().traceId).toBe(spansNamed('job')[0]!.spanContext().traceId);
    expect(exec!.links.map((l) => l.context.spanId)).toContain(connect!.spanContext().spanId);
    // A warm-up connect has no command to belong to: a root either way.
    exporter.reset();
    const warm = newPool({ telemetry: { connectSpans: 'child' } });
    await warm.pool.warmUp(warm.target, 1);
    expect(spansNamed('ssh.connect')[0]!.parentSpanContext).toBeUndefined();
    expect(() => newPool({ telemetry: { connectSpans: 'nested' as never } })).toThrow(/connectSpans/);
  });

  it('links ssh.reconnect to the connection it opened', async () => {
    const { pool, target } = newPool({ warmUpConnections: 1, reconnect: { initialDelay: 10, maxDelay: 20 } });
    await pool.warmUp(target, 1);
    server.dropAllConnections();
    await until(() => spansNamed('ssh.reconnect').length > 0 && pool.getStats().totalConnections === 1);
    const [reconnect] = spansNamed('ssh.reconnect');
    const connects = spansNamed('ssh.connect').map((span) => span.spanContext().spanId);
    expect(reconnect!.attributes['ssh.reconnect.outcome']).toBe('success');
    expect(reconnect!.links.map((link) => link.context.spanId)).toEqual([connects.at(-1)]);
    expect(reconnect!.links[0]!.attributes).toEqual({ 'ssh.link.kind': 'connection' });
  });

  for (const mode of ['none', 'failures'] as const) {
    it(`records no span for healthy probes with healthCheckSpans: ${mode}`, async () => {
      const { pool, ssh } = newPool({ healthCheck: { enabled: true, interval: 30, timeout: 1_000 }, telemetry: { healthCheckSpans: mode } });
      let healthy = 0;
      pool.on('connection:healthy', () => healthy++);
      await ssh`true`;
      await until(() => healthy >= 3);
      expect(spansNamed('ssh.health_check')).toEqual([]);
    });
  }

  it('with healthCheckSpans: failures, records a failing probe as a back-dated span', async () => {
    const { ssh } = newPool({
      healthCheck: { enabled: true, interval: 30, timeout: 1_000, command: 'exit 3' },
      telemetry: { healthCheckSpans: 'failures' },
      reconnect: { enabled: false },
    });
    await ssh`true`;
    await until(() => spansNamed('ssh.health_check').length > 0);
    const [probe] = spansNamed('ssh.health_check');
    expect(probe!.attributes['ssh.health_check.outcome']).toBe('unhealthy');
    expect(probe!.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('metrics', () => {
  it('match getStats() and getMetrics() at the same moment, per pool name', async () => {
    const { pool, ssh } = newPool({ maxConnections: 1, maxChannelsPerConnection: 2 });
    await ssh`true`;
    const running = Promise.all([ssh`sleep 0.4`, ssh`sleep 0.4`, ssh`sleep 0.4`]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const byName = await collect();
    const stats = pool.getStats();
    const name = `tester@127.0.0.1:${server.port}`;
    const host = stats.hosts[name]!;
    const value = (metric: string, attrs: Record<string, unknown> = {}) =>
      points(byName.get(metric)).find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v) && p.attributes['ssh.pool.name'] === name)?.value;
    expect(value('ssh.client.connection.count', { 'ssh.connection.state': 'used' })).toBe(host.activeConnections);
    expect(value('ssh.client.connection.count', { 'ssh.connection.state': 'idle' })).toBe(host.idleConnections);
    expect(value('ssh.client.connection.pending_requests')).toBe(host.pendingRequests);
    expect(value('ssh.client.channel.count')).toBe(host.openChannels);
    expect(value('ssh.client.connection.max')).toBe(1);
    expect(host).toMatchObject({ activeConnections: 1, pendingRequests: 1, openChannels: 2 });
    await running;
    const after = await collect();
    const acquires = points(after.get('ssh.client.connection.acquires'));
    const count = (outcome: string) => acquires.find((p) => p.attributes['ssh.pool.acquire.outcome'] === outcome)?.value ?? 0;
    const snapshot = pool.getMetrics();
    expect(count('created')).toBe(snapshot.connectionsCreated);
    expect(count('reused')).toBe(snapshot.connectionsReused);
    expect(after.get('ssh.client.connection.create_time')?.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(after.get('ssh.client.connection.create_time')?.descriptor.unit).toBe('s');
    expect(points(after.get('ssh.client.command.duration')).length).toBeGreaterThan(0);
    expect(points(after.get('ssh.client.connection.use_time')).length).toBeGreaterThan(0);
    expect(points(after.get('ssh.client.connection.wait_time')).length).toBeGreaterThan(0);
  });

  it('counts the spare session channels held (ssh.client.channel.spare), one per idle connection, none with spareChannels off', async () => {
    const name = `tester@127.0.0.1:${server.port}`;
    const spares = async (): Promise<unknown> => points((await collect()).get('ssh.client.channel.spare')).find((p) => p.attributes['ssh.pool.name'] === name)?.value;
    const on = newPool();
    await on.ssh`true`;
    await until(async () => (await spares()) === 1, 5_000, 'one spare on the idle connection');
    const off = newPool({ spareChannels: false });
    await off.ssh`true`;
    expect(await spares()).toBe(0);
  });

  it('counts closed connections by reason', async () => {
    const { pool, ssh } = newPool();
    await ssh`true`;
    await pool.closeIdleConnections();
    const byName = await collect();
    const closed = points(byName.get('ssh.client.connection.closed'));
    expect(closed.find((p) => p.attributes['ssh.connection.close_reason'] === 'idle')?.value).toBe(1);
  });

  it('reaches an SDK registered after the pool was created (instruments are lazy)', async () => {
    const lateReader = new TestMetricReader();
    const lateProvider = new MeterProvider({ readers: [lateReader] });
    const pool = new SSHConnectionPool();
    pools.push(pool);
    const ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
    metrics.setGlobalMeterProvider(lateProvider);
    try {
      await ssh`true`;
      const { resourceMetrics } = await lateReader.collect();
      const found = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name));
      expect(found).toContain('ssh.client.connection.acquires');
      expect(found).toContain('ssh.client.connection.count');
    } finally {
      metrics.disable();
    }
  });

  it('knows when spans would go nowhere: no tracer provider injected or registered', () => {
    expect(new PoolTelemetry({ observe: () => [] }).tracing).toBe(false);
    expect(new PoolTelemetry({ observe: () => [], tracerProvider }).tracing).toBe(true);
    const global = new PoolTelemetry({ observe: () => [] });
    trace.setGlobalTracerProvider(tracerProvider);
    try {
      expect(global.tracing).toBe(true);
    } finally {
      trace.disable();
    }
    expect(global.tracing).toBe(false);
  });

  it('starts recording at the next command when an SDK registers after commands ran with none', async () => {
    const pool = new SSHConnectionPool();
    pools.push(pool);
    const ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
    // With nothing registered, the pool skips spans and metric attributes altogether.
    await ssh`true`;
    const lateSpans = new InMemorySpanExporter();
    const lateReader = new TestMetricReader();
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: lateSpans })] }));
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [lateReader] }));
    try {
      await ssh`true`;
      expect(lateSpans.getFinishedSpans().filter((s) => s.name === 'ssh.exec')).toHaveLength(1);
      const { resourceMetrics } = await lateReader.collect();
      const acquires = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'ssh.client.connection.acquires');
      const reused = (acquires?.dataPoints ?? []).find((p) => p.attributes['ssh.pool.acquire.outcome'] === 'reused');
      expect(reused?.value).toBe(1);
    } finally {
      trace.disable();
      metrics.disable();
    }
    // And back to nothing: commands go on.
    expect((await ssh`echo after`).stdout).toBe('after\n');
    expect(lateSpans.getFinishedSpans().filter((s) => s.name === 'ssh.exec')).toHaveLength(1);
  });

  it('reaches a tracer provider registered globally after import', async () => {
    const late = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: late })] });
    trace.setGlobalTracerProvider(provider);
    try {
      const pool = new SSHConnectionPool();
      pools.push(pool);
      await $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool })`true`;
      expect(late.getFinishedSpans().map((s) => s.name)).toEqual(expect.arrayContaining(['ssh.exec', 'ssh.pool.acquire', 'ssh.connect']));
    } finally {
      trace.disable();
    }
  });
});
