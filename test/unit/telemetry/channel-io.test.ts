// Bytes carried by command channels: the ssh.client.channel.io counter by direction, the byte
// counts on ssh.exec, and the span of a streamed command lasting as long as the command.
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../../src/index.js';
import * as names from '../../../src/telemetry/constants.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { TestMetricReader } from '../../support/test-metric-reader.js';

const exporter = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager();
let server: EmbeddedSshServer;
let reader: TestMetricReader;
const pools: SSHConnectionPool[] = [];

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  server = await new EmbeddedSshServer().start();
});
afterAll(async () => {
  await server.stop();
  context.disable();
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.closeAll()));
  exporter.reset();
});

function newSsh() {
  reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const pool = new SSHConnectionPool({ tracerProvider, meterProvider });
  pools.push(pool);
  return $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
}

async function ioPoints(): Promise<Array<DataPoint<number>>> {
  const { resourceMetrics } = await reader.collect();
  const metric: MetricData | undefined = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === names.METRIC_CHANNEL_IO);
  expect(metric?.descriptor.unit).toBe('By');
  return (metric?.dataPoints ?? []) as Array<DataPoint<number>>;
}

const execSpans = () => exporter.getFinishedSpans().filter((s) => s.name === names.SPAN_EXEC);

describe('channel bytes', () => {
  it('ssh.client.channel.io counts bytes received and transmitted, by network.io.direction, on session channels', async () => {
    const ssh = newSsh();
    await ssh`head -c 100000 /dev/zero; head -c 5000 /dev/zero >&2`;
    await ssh`cat >/dev/null`.stdin(Buffer.alloc(70_000));
    const points = await ioPoints();
    // Tunnel channel types start at zero beside the session's.
    expect(points.filter((p) => p.attributes[names.ATTR_CHANNEL_TYPE] !== 'session').every((p) => p.value === 0)).toBe(true);
    const sessionPoints = points.filter((p) => p.attributes[names.ATTR_CHANNEL_TYPE] === 'session');
    const byDirection: Record<string, DataPoint<number>> = Object.fromEntries(sessionPoints.map((p) => [String(p.attributes[names.ATTR_NETWORK_IO_DIRECTION]), p]));
    expect(sessionPoints.map((p) => p.attributes[names.ATTR_NETWORK_IO_DIRECTION]).sort()).toEqual(['receive', 'transmit']);
    expect(byDirection.receive!.value).toBe(105_000);
    expect(byDirection.transmit!.value).toBe(70_000);
    for (const point of Object.values(byDirection)) {
      expect(point.attributes[names.ATTR_CHANNEL_TYPE]).toBe('session');
      expect(point.attributes[names.ATTR_POOL_NAME]).toBe(`${server.username}@127.0.0.1:${server.port}`);
    }
  });

  it('a streamed stdin is counted as it is sent', async () => {
    const ssh = newSsh();
    async function* parts(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(10_000);
    }
    await ssh`cat >/dev/null`.stdin(parts());
    const transmit = (await ioPoints()).find((p) => p.attributes[names.ATTR_NETWORK_IO_DIRECTION] === 'transmit' && p.attributes[names.ATTR_CHANNEL_TYPE] === 'session');
    expect(transmit?.value).toBe(100_000);
  });

  it('ssh.exec carries the bytes its channel received and sent', async () => {
    const ssh = newSsh();
    await ssh`cat; echo done >&2`.stdin('12345');
    const [span] = execSpans();
    expect(span!.attributes).toMatchObject({ [names.ATTR_CHANNEL_BYTES_RECEIVED]: 10, [names.ATTR_CHANNEL_BYTES_SENT]: 5 });
  });

  it('a streamed command\'s span ends when the command ends, not at its first line', async () => {
    const ssh = newSsh();
    // The command cannot end before its input comes, and that waits for the first line.
    let release!: () => void;
    const firstSeen = new Promise<void>((resolve) => (release = resolve));
    async function* input(): AsyncGenerator<string> {
      await firstSeen;
      yield 'go\n';
    }
    const cmd = ssh`echo first; read _; echo second`.stdin(input());
    const lines: string[] = [];
    for await (const line of cmd) {
      lines.push(line);
      if (line === 'first') {
        expect(execSpans()).toHaveLength(0);
        release();
      }
    }
    await cmd;
    expect(lines).toEqual(['first', 'second']);
    const [span] = execSpans();
    // The command reported its process group first (a streamed command can be stopped): that line is channel data too.
    expect(span!.attributes[names.ATTR_CHANNEL_BYTES_RECEIVED]).toBeGreaterThanOrEqual('first\nsecond\n'.length);
    expect(span!.attributes[names.ATTR_PROCESS_EXIT_CODE]).toBe(0);
  });
});
