// What file transfers report, read with in-memory exporters from transfers on a real OpenSSH
// server: ssh.sftp.* spans with bytes, files and a link to the connection, bytes on
// ssh.client.channel.io, ssh.client.transfer.duration by operation, the SFTP channel in the
// channel gauge.
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { TestMetricReader } from '../support/test-metric-reader.js';

const HOME = '/home/tester';
const exporter = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const reader = new TestMetricReader();
const meterProvider = new MeterProvider({ readers: [reader] });
const contextManager = new AsyncLocalStorageContextManager();
let server: SshdServer;
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  server = await startSshd();
  pool = new SSHConnectionPool({ maxConnections: 1, tracerProvider, meterProvider });
  ssh = $.ssh(sshdTarget(server, pool));
});

afterAll(async () => {
  await pool.closeAll();
  context.disable();
});

async function metric(name: string): Promise<MetricData | undefined> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
}

function pointsOf(data: MetricData | undefined): Array<DataPoint<unknown>> {
  return (data?.dataPoints ?? []) as Array<DataPoint<unknown>>;
}

it('each operation is an ssh.sftp.* CLIENT span with its bytes and files, linked to the connection\'s ssh.connect', async () => {
  await ssh.writeFile(`${HOME}/t.bin`, Buffer.alloc(100_000, 7));
  await ssh.readFile(`${HOME}/t.bin`);
  const spans = exporter.getFinishedSpans();
  const connect = spans.find((span) => span.name === 'ssh.connect')!;
  const write = spans.find((span) => span.name === 'ssh.sftp.write')!;
  const read = spans.find((span) => span.name === 'ssh.sftp.read')!;
  for (const span of [write, read]) {
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toMatchObject({ 'ssh.sftp.bytes': 100_000, 'ssh.sftp.files': 1, 'ssh.pool.name': pool.poolNameOf(sshdTarget(server, pool)) });
    expect(span.links.map((link) => link.context.spanId)).toEqual([connect.spanContext().spanId]);
  }
  expect(write.attributes['ssh.sftp.operation']).toBe('write');
});

it('a failed transfer\'s span and duration carry error.type, its stable code', async () => {
  exporter.reset();
  await ssh.readFile(`${HOME}/missing`).catch(() => {});
  const span = exporter.getFinishedSpans().find((s) => s.name === 'ssh.sftp.read')!;
  expect(span.status.code).toBe(SpanStatusCode.ERROR);
  expect(span.attributes['error.type']).toBe('ERR_SSHPOOL_REMOTE_NOT_FOUND');
  const failed = pointsOf(await metric('ssh.client.transfer.duration'))
    .find((point) => point.attributes['ssh.sftp.operation'] === 'read' && point.attributes['error.type'] === 'ERR_SSHPOOL_REMOTE_NOT_FOUND');
  expect((failed?.value as Histogram | undefined)?.count).toBe(1);
});

it('bytes count on ssh.client.channel.io by direction with ssh.channel.type sftp, durations on ssh.client.transfer.duration in seconds', async () => {
  const before = pointsOf(await metric('ssh.client.channel.io'));
  const count = (points: Array<DataPoint<unknown>>, direction: string): number =>
    points.filter((p) => p.attributes['network.io.direction'] === direction && p.attributes['ssh.channel.type'] === 'sftp')
      .reduce((sum, p) => sum + (p.value as number), 0);
  await ssh.upload(Buffer.alloc(300_000, 1), `${HOME}/io.bin`);
  await ssh.download(`${HOME}/io.bin`, `/dev/null`);
  const io = await metric('ssh.client.channel.io');
  expect(io?.descriptor.unit).toBe('By');
  const after = pointsOf(io);
  expect(count(after, 'transmit') - count(before, 'transmit')).toBe(300_000);
  expect(count(after, 'receive') - count(before, 'receive')).toBe(300_000);
  const duration = await metric('ssh.client.transfer.duration');
  expect(duration?.descriptor.unit).toBe('s');
  const upload = pointsOf(duration).find((p) => p.attributes['ssh.sftp.operation'] === 'upload' && p.attributes['error.type'] === undefined);
  expect((upload?.value as Histogram).count).toBe(1);
});

it('the idle SFTP channel shows in ssh.client.channel.count', async () => {
  await ssh.writeFile(`${HOME}/gauge.txt`, 'x');
  const channels = pointsOf(await metric('ssh.client.channel.count'));
  expect(channels.map((p) => p.value)).toEqual([1]);
});
