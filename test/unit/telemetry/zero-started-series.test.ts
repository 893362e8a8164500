// Series with a fixed label set exist, at zero, from the moment a pool key is created, so that
// Prometheus' rate() and increase() see the first burst of failures (issue 9, deliver 1).
import { DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  ConnectError,
  ConnectTimeoutError,
  HostKeyError,
  SSHConnectionPool,
} from '../../../src/index.js';
import { ERROR_CODES } from '../../../src/core/errors.js';
import * as names from '../../../src/telemetry/constants.js';
import { PoolTelemetry } from '../../../src/telemetry/pool-telemetry.js';
import type { ObservedPool } from '../../../src/telemetry/pool-telemetry.js';
import { TestMetricReader } from '../../support/test-metric-reader.js';

function setup(observed: ObservedPool[] = []): { telemetry: PoolTelemetry; collect: () => Promise<Map<string, MetricData>> } {
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const telemetry = new PoolTelemetry({ meterProvider, observe: () => observed });
  const collect = async (): Promise<Map<string, MetricData>> => {
    const { resourceMetrics } = await reader.collect();
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    return byName;
  };
  return { telemetry, collect };
}

type Point = DataPoint<number> | DataPoint<Histogram>;
const points = (metrics: Map<string, MetricData>, name: string): Point[] => (metrics.get(name)?.dataPoints ?? []) as Point[];
const valueOf = (point: Point): number => (typeof point.value === 'number' ? point.value : point.value.count);
/** "label=value" of one attribute (or "-" when absent), per data point, sorted. */
const labelValues = (metrics: Map<string, MetricData>, name: string, attribute: string): string[] =>
  points(metrics, name).map((p) => String(p.attributes[attribute] ?? '-')).sort();

describe('every series with a fixed label set starts at zero', () => {
  it('a registered pool key has zero-valued counters for every acquire outcome, close reason and reconnect outcome', async () => {
    const { telemetry, collect } = setup();
    telemetry.registerPool('u@h:22');
    const metrics = await collect();
    expect(labelValues(metrics, names.METRIC_ACQUIRES, names.ATTR_ACQUIRE_OUTCOME)).toEqual([...names.ACQUIRE_OUTCOMES].sort());
    expect(labelValues(metrics, names.METRIC_CLOSED, names.ATTR_CLOSE_REASON)).toEqual([...names.CLOSE_REASONS].sort());
    expect(labelValues(metrics, names.METRIC_RECONNECT_ATTEMPTS, names.ATTR_RECONNECT_OUTCOME)).toEqual([...names.RECONNECT_OUTCOMES].sort());
    expect(points(metrics, names.METRIC_TIMEOUTS)).toHaveLength(1);
    expect(points(metrics, names.METRIC_CHANNEL_REFUSALS)).toHaveLength(1);
    for (const name of [names.METRIC_ACQUIRES, names.METRIC_CLOSED, names.METRIC_RECONNECT_ATTEMPTS, names.METRIC_TIMEOUTS, names.METRIC_CHANNEL_REFUSALS]) {
      for (const point of points(metrics, name)) {
        expect(point.value, name).toBe(0);
        expect(point.attributes[names.ATTR_POOL_NAME], name).toBe('u@h:22');
      }
    }
  });

  it('histograms get data points with count 0 and empty buckets: connects (success and each connect error), waits, uses, health checks, commands (success and each error)', async () => {
    const { telemetry, collect } = setup();
    telemetry.registerPool('u@h:22');
    const metrics = await collect();
    expect(labelValues(metrics, names.METRIC_CREATE_TIME, names.ATTR_ERROR_TYPE)).toEqual(['-', ...names.CONNECT_ERROR_TYPES].sort());
    expect(labelValues(metrics, names.METRIC_WAIT_TIME, names.ATTR_ACQUIRE_OUTCOME)).toEqual([...names.ACQUIRE_OUTCOMES].sort());
    expect(labelValues(metrics, names.METRIC_HEALTH_CHECK_DURATION, names.ATTR_HEALTH_CHECK_OUTCOME)).toEqual([...names.HEALTH_CHECK_OUTCOMES].sort());
    expect(labelValues(metrics, names.METRIC_USE_TIME, names.ATTR_POOL_NAME)).toEqual(['u@h:22']);
    expect(labelValues(metrics, names.METRIC_COMMAND_DURATION, names.ATTR_ERROR_TYPE)).toEqual(
      ['-', ...names.CONNECT_ERROR_TYPES, ...names.COMMAND_ERROR_TYPES].sort(),
    );
    for (const name of [names.METRIC_CREATE_TIME, names.METRIC_WAIT_TIME, names.METRIC_HEALTH_CHECK_DURATION, names.METRIC_USE_TIME, names.METRIC_COMMAND_DURATION]) {
      expect(metrics.get(name)?.dataPointType, name).toBe(DataPointType.HISTOGRAM);
      for (const point of points(metrics, name)) {
        const value = point.value as Histogram;
        expect({ name, count: value.count, sum: value.sum, buckets: value.buckets.counts.every((c) => c === 0) }).toEqual({ name, count: 0, sum: 0, buckets: true });
      }
    }
  });

  it('a zero-started histogram counts the first real observation as 1, not as a NaN-poisoned sum', async () => {
    const { telemetry, collect } = setup();
    telemetry.registerPool('u@h:22');
    telemetry.recordCreateTime('u@h:22', 250, 'ERR_SSHPOOL_AUTH');
    const point = points(await collect(), names.METRIC_CREATE_TIME).find((p) => p.attributes[names.ATTR_ERROR_TYPE] === 'ERR_SSHPOOL_AUTH');
    expect(point?.value).toMatchObject({ count: 1, sum: 0.25 });
  });

  it('the connect error types are the codes of ConnectError and its subclasses', () => {
    const endpoint = { poolName: 'u@h:22', host: 'h', port: 22 };
    const codes = [
      new ConnectError('x', endpoint, true).code,
      new AuthenticationError('x', endpoint).code,
      new HostKeyError('x', endpoint, { fingerprint: 'SHA256:x', keyType: 'ssh-ed25519', reason: 'unknown' }).code,
      new ConnectTimeoutError('x', endpoint, 1).code,
    ];
    expect([...names.CONNECT_ERROR_TYPES].sort()).toEqual(codes.sort());
  });

  it('every error code a command can end with has a zero-started command.duration series', () => {
    // Every stable code, except those that never end a single command.
    const codes = new Set<string>(Object.values(ERROR_CODES));
    const notACommandEnding = [
      'ERR_SSHPOOL_INVALID_ARGUMENT', // thrown before anything starts
      'ERR_SSHPOOL_HOST_DOWN', // host groups: the group's command, not an ssh.exec
      'ERR_SSHPOOL_NO_HOST_AVAILABLE',
      'ERR_SSHPOOL_FAN_OUT',
      'ERR_SSHPOOL_SSH_CONFIG', // target resolution, before the pool
      'ERR_SSHPOOL_PRIVATE_KEY',
      'ERR_SSHPOOL_TUNNEL_REFUSED', // a tunnelled connection's, on its ssh.tunnel span
      // File transfers end with these on ssh.client.transfer.duration, never a command.
      'ERR_SSHPOOL_TRANSFER',
      'ERR_SSHPOOL_REMOTE_NOT_FOUND',
      'ERR_SSHPOOL_PERMISSION_DENIED',
      'ERR_SSHPOOL_SFTP_UNAVAILABLE',
      'ERR_SSHPOOL_LOCAL_NOT_FOUND',
      'ERR_SSHPOOL_WRITE_FAILED',
      'ERR_SSHPOOL_VERIFY_MISMATCH',
      'ERR_SSHPOOL_TRANSFER_TIMEOUT',
    ];
    const started = new Set<string>([...names.CONNECT_ERROR_TYPES, names.JUMP_HOST_ERROR_TYPE, ...names.COMMAND_ERROR_TYPES]);
    expect([...codes].filter((code) => !started.has(code) && !notACommandEnding.includes(code))).toEqual([]);
    expect(codes.size).toBeGreaterThan(15);
  });

  it('a meter provider that appears after the pool key was created still gets the zero series', async () => {
    const { telemetry, collect } = setup();
    telemetry.registerPool('u@h:22');
    // A second provider: instruments are re-created for it, with the registered pool keys.
    const second = new TestMetricReader();
    const provider = new MeterProvider({ readers: [second] });
    const late = new PoolTelemetry({ meterProvider: provider, observe: () => [] });
    late.registerPool('a@b:22');
    late.ensureInstruments();
    const { resourceMetrics } = await second.collect();
    const acquires = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === names.METRIC_ACQUIRES);
    expect(acquires?.dataPoints).toHaveLength(names.ACQUIRE_OUTCOMES.length);
    expect((await collect()).get(names.METRIC_ACQUIRES)?.dataPoints).toHaveLength(names.ACQUIRE_OUTCOMES.length);
  });

  it('an SSHConnectionPool registers each pool key when it is first used', async () => {
    const reader = new TestMetricReader();
    const pool = new SSHConnectionPool({ meterProvider: new MeterProvider({ readers: [reader] }) });
    // A closed port: the command fails to connect, the pool key exists all the same.
    const target = { host: '127.0.0.1', port: 1, username: 'nobody', password: 'x', hostKey: 'off' as const, pool, poolConfig: { maxRetries: 0 } };
    await pool.getConnection(target).then((lease) => lease.release(), () => undefined);
    const { resourceMetrics } = await reader.collect();
    const closed = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === names.METRIC_CLOSED);
    expect(closed?.dataPoints.map((p) => p.attributes[names.ATTR_CLOSE_REASON]).sort()).toEqual([...names.CLOSE_REASONS].sort());
    await pool.closeAll();
  });
});

describe('channel capacity and reconnect given-up gauges', () => {
  const base: ObservedPool = { name: 'u@h:22', maxConnections: 3, activeConnections: 0, idleConnections: 0, pendingRequests: 0, openChannels: 0 };

  it('ssh.client.channel.max defaults to maxConnections × maxChannelsPerConnection', async () => {
    const { telemetry, collect } = setup([{ ...base, maxChannelsPerConnection: 4 }]);
    telemetry.ensureInstruments();
    expect(points(await collect(), names.METRIC_CHANNEL_MAX).map(valueOf)).toEqual([12]);
  });

  it('ssh.client.channel.max reports the channel capacity the pool key gives', async () => {
    const { telemetry, collect } = setup([{ ...base, maxChannelsPerConnection: 4, channelCapacity: 7 }]);
    telemetry.ensureInstruments();
    expect(points(await collect(), names.METRIC_CHANNEL_MAX).map(valueOf)).toEqual([7]);
  });

  it('ssh.client.reconnect.given_up is 0 until the pool key reports that reconnect gave up, then 1', async () => {
    const observed: ObservedPool[] = [base];
    const { telemetry, collect } = setup(observed);
    telemetry.ensureInstruments();
    expect(points(await collect(), names.METRIC_RECONNECT_GIVEN_UP).map(valueOf)).toEqual([0]);
    observed[0] = { ...base, reconnectGivenUp: true };
    expect(points(await collect(), names.METRIC_RECONNECT_GIVEN_UP).map(valueOf)).toEqual([1]);
  });
});
