// Pools of one process that hold the same pool key report it as separate series: every span
// and metric point carries `ssh.pool.instance`, so no gauge overwrites another's.
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { SSHConnectionPool } from '../../../src/index.js';
import * as names from '../../../src/telemetry/constants.js';
import { TestMetricReader } from '../../support/test-metric-reader.js';

const pools: SSHConnectionPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.closeAll()));
});

/** A target on a closed port: its first use creates the pool key, and its connect fails at once. */
const closedPortTarget = (pool: SSHConnectionPool, maxConnections: number) => ({
  host: '127.0.0.1',
  port: 1,
  username: 'nobody',
  password: 'x',
  hostKey: 'off' as const,
  pool,
  poolConfig: { maxConnections, maxChannelsPerConnection: 5, maxRetries: 0 },
});

async function touch(pool: SSHConnectionPool, maxConnections: number): Promise<void> {
  await pool.getConnection(closedPortTarget(pool, maxConnections)).then((lease) => lease.release(), () => undefined);
}

async function collect(reader: TestMetricReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

const byInstance = (metric: MetricData | undefined): Record<string, number> =>
  Object.fromEntries(
    ((metric?.dataPoints ?? []) as Array<DataPoint<number>>).map((p) => [String(p.attributes[names.ATTR_POOL_INSTANCE]), p.value]),
  );

describe('ssh.pool.instance', () => {
  it('three pools with the same pool key report three connection.max and channel.max series, not the last one', async () => {
    const reader = new TestMetricReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const [a, b, c] = ['deploys', 'probes', 'reports'].map((instanceName) => new SSHConnectionPool({ meterProvider, instanceName }));
    pools.push(a!, b!, c!);
    await touch(a!, 1);
    await touch(b!, 10);
    await touch(c!, 7);
    const metrics = await collect(reader);
    expect(byInstance(metrics.get(names.METRIC_CONNECTION_MAX))).toEqual({ deploys: 1, probes: 10, reports: 7 });
    expect(byInstance(metrics.get(names.METRIC_CHANNEL_MAX))).toEqual({ deploys: 5, probes: 50, reports: 35 });
    for (const point of metrics.get(names.METRIC_CONNECTION_MAX)!.dataPoints) expect(point.attributes[names.ATTR_POOL_NAME]).toBe('nobody@127.0.0.1:1');
    // Counters and histograms too: each pool's failed connect is its own.
    const failedConnects = (metrics.get(names.METRIC_CREATE_TIME)?.dataPoints ?? []).filter(
      (p) => p.attributes[names.ATTR_ERROR_TYPE] === 'ERR_SSHPOOL_CONNECT' && (p.value as { count: number }).count === 1,
    );
    expect(failedConnects.map((p) => p.attributes[names.ATTR_POOL_INSTANCE]).sort()).toEqual(['deploys', 'probes', 'reports']);
    await meterProvider.shutdown();
  });

  it('defaults: global for getInstance(), pool-<n> for the others, each distinct', () => {
    const first = new SSHConnectionPool();
    const second = new SSHConnectionPool();
    pools.push(first, second);
    const [n1, n2] = [first.options.instanceName!, second.options.instanceName!];
    expect(n1).toMatch(/^pool-\d+$/);
    expect(n2).toMatch(/^pool-\d+$/);
    expect(Number(n2.slice(5))).toBe(Number(n1.slice(5)) + 1);
    expect(SSHConnectionPool.getInstance().options.instanceName).toBe('global');
  });

  it('spans carry it too', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const pool = new SSHConnectionPool({ tracerProvider, instanceName: 'deploys' });
    pools.push(pool);
    await touch(pool, 1);
    const connect = exporter.getFinishedSpans().find((s) => s.name === names.SPAN_CONNECT);
    expect(connect?.attributes[names.ATTR_POOL_INSTANCE]).toBe('deploys');
    expect(connect?.attributes[names.ATTR_NETWORK_TRANSPORT]).toBe('tcp');
    await tracerProvider.shutdown();
  });

  it('rejects an empty, overlong or multi-line name with a precise message', () => {
    for (const instanceName of ['', 'x'.repeat(65), 'a\nb', ' padded', 42]) {
      expect(() => new SSHConnectionPool({ instanceName } as never)).toThrow(/^options\.instanceName must be 1 to 64 printable ASCII characters/);
    }
  });
});
