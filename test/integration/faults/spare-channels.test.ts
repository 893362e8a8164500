// Spare session channels against real OpenSSH: a warm command runs on a session opened ahead of
// it (only `exec` is sent), spares count against the server's MaxSessions, and a spare the
// server drops (a restart, a freeze, a kill) never fails a command beyond the connection's own
// loss, and a spare idle past the server's ChannelTimeout is never given a command.
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { $ } from '../../../src/index.js';
import type { SSHConnectionPool, SSHConnectionPoolOptions } from '../../../src/index.js';
import { SPARE_MAX_IDLE_MS } from '../../../src/ssh/spare-session.js';
import * as names from '../../../src/telemetry/constants.js';
import { startSshd } from '../../support/sshd.js';
import type { SshdServer } from '../../support/sshd.js';
import { TestMetricReader } from '../../support/test-metric-reader.js';
import { errorKinds, newPool, settleAll, sleep, targetFor, until, withTimeout } from './shared.js';

/** A pool whose `ssh.exec` spans and gauges the test reads. */
function observedPool(options: SSHConnectionPoolOptions = {}) {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const pool = newPool({ tracerProvider, meterProvider, ...options });
  return {
    pool,
    /** `ssh.channel.prepared` of every finished `ssh.exec` span, in order. */
    prepared: (): unknown[] => exporter.getFinishedSpans().filter((span) => span.name === names.SPAN_EXEC).map((span) => span.attributes[names.ATTR_CHANNEL_PREPARED]),
    clear: (): void => exporter.reset(),
    /** The spare gauge's value now. */
    spares: (): Promise<number> => sumOf(reader, names.METRIC_CHANNEL_SPARE),
    /** Channel opens the server refused so far (`ssh.client.channel.refusals`). */
    refusals: (): Promise<number> => sumOf(reader, names.METRIC_CHANNEL_REFUSALS),
  };
}

async function sumOf(reader: TestMetricReader, name: string): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
  return ((metric?.dataPoints ?? []) as Array<DataPoint<number>>).reduce((sum, point) => sum + point.value, 0);
}

async function sequential(server: SshdServer, pool: SSHConnectionPool, count: number, from = 0): Promise<void> {
  const ssh = $.ssh(targetFor(server, pool));
  for (let i = from; i < from + count; i++) {
    const result = await ssh`echo ${`n${i}`}`.timeout(15_000);
    expect(result.stdout).toBe(`n${i}\n`);
  }
}

describe('spare session channels', () => {
  it('runs every warm command on a spare session, for a non-root login, and an idle connection holds one spare', async () => {
    const server = await startSshd();
    expect(server.username).not.toBe('root');
    const observed = observedPool();
    await sequential(server, observed.pool, 6);
    // The first command opened its own channel on a new connection; each later one found a spare.
    expect(observed.prepared()).toEqual([false, true, true, true, true, true]);
    await until(async () => (await observed.spares()) === 1, 5_000, 'the idle connection holds one spare');
    expect(observed.pool.getStats()).toMatchObject({ totalConnections: 1, openChannels: 0 });
  });

  it('MaxSessions 1: an idle connection gives its spare back once it is too old to be used, so a terminal command later opens without a refusal', async () => {
    const server = await startSshd({ config: { MaxSessions: 1 } });
    expect(server.username).not.toBe('root');
    // One channel per connection, as the server allows: a spare only on an idle connection, so
    // no spare is ever refused and every refusal counted would be a command's.
    const observed = observedPool({ maxChannelsPerConnection: 1 });
    const ssh = $.ssh(targetFor(server, observed.pool));
    await observed.pool.warmUp(targetFor(server, observed.pool), 1);
    await until(async () => (await observed.spares()) === 1, 5_000, 'the idle connection holds a spare');
    await until(async () => (await observed.spares()) === 0, 3 * SPARE_MAX_IDLE_MS + 2_000, 'the stale spare closed');
    // A terminal cannot use the spare: had the spare kept the only session, sshd would refuse it first.
    const inTerminal = await ssh`echo in-a-terminal`.pty({ cols: 80, rows: 24 }).timeout(15_000);
    expect(inTerminal.stdout).toContain('in-a-terminal');
    expect(await observed.refusals()).toBe(0);
    await sequential(server, observed.pool, 3, 40);
    expect(observed.pool.getStats()).toMatchObject({ totalConnections: 1 });
  });

  it('poolConfig.spareChannels false: every command opens its own channel and no spare is held', async () => {
    const server = await startSshd();
    const observed = observedPool({ spareChannels: false });
    await sequential(server, observed.pool, 3);
    expect(observed.prepared()).toEqual([false, false, false]);
    expect(await observed.spares()).toBe(0);
  });

  it('MaxSessions 2: bursts all succeed, the spare counts against the learned limit, and sequential commands still use it', async () => {
    const server = await startSshd({ config: { MaxSessions: 2 } });
    const observed = observedPool({ maxConnections: 3, maxChannelsPerConnection: 5 });
    const ssh = $.ssh(targetFor(server, observed.pool));
    for (let round = 0; round < 2; round++) {
      const settled = await withTimeout(
        settleAll(Array.from({ length: 20 }, (_, i) => ssh`sleep 0.1; echo ${`b${i}`}`.timeout(30_000).then((r) => ({ i, r })))),
        45_000,
        'a burst of 20 commands',
      );
      expect(settled.errors, JSON.stringify(errorKinds(settled.errors))).toEqual([]);
      for (const { i, r } of settled.ok) expect(r.stdout).toBe(`b${i}\n`);
      await until(() => observed.pool.getStats().openChannels === 0, 5_000, 'the burst freed its channels');
    }
    observed.clear();
    await sequential(server, observed.pool, 8);
    const prepared = observed.prepared();
    // One command plus one spare fit in two sessions: once warm, commands run on spares.
    expect(prepared.slice(-4)).toEqual([true, true, true, true]);
    expect(await observed.spares()).toBeLessThanOrEqual(observed.pool.getStats().totalConnections);
  });

  it('ChannelTimeout 3s: commands after pauses longer than the timeout never fail, spares older than SPARE_MAX_IDLE_MS are not used, back-to-back commands run on spares', async () => {
    // OpenSSH 9.2 applies ChannelTimeout only to sessions running a command (an unused session is
    // LARVAL), counted in whole seconds: `now >= lastused + timeout` with `lastused` in seconds
    // cuts a command whose first output comes after the next whole second if the timeout is 1s,
    // spare or not. 3s leaves any command here two seconds. A spare open longer than
    // SPARE_MAX_IDLE_MS is closed rather than used, for servers that do time unused sessions out.
    const server = await startSshd({ config: { ChannelTimeout: '*=3s' } });
    const observed = observedPool();
    const ssh = $.ssh(targetFor(server, observed.pool));
    expect((await ssh`echo first`.timeout(15_000)).stdout).toBe('first\n');
    observed.clear();
    for (let i = 0; i < 3; i++) {
      await until(async () => (await observed.spares()) === 1, 5_000, 'a spare is held');
      // Longer than the timeout: the spare has been idle past it.
      await sleep(3_500);
      const result = await ssh`echo ${`t${i}`}`.timeout(15_000);
      expect(result.stdout).toBe(`t${i}\n`);
    }
    expect(observed.prepared(), 'spares idle past SPARE_MAX_IDLE_MS were not used').toEqual([false, false, false]);
    observed.clear();
    await sequential(server, observed.pool, 5);
    expect(observed.prepared().slice(1)).toEqual([true, true, true, true]);
    expect(observed.pool.getStats()).toMatchObject({ totalConnections: 1, pendingRequests: 0 });
  });

  it('a server restarted under connections holding spares: the next commands succeed on new connections', async () => {
    const server = await startSshd();
    const observed = observedPool();
    await observed.pool.warmUp(targetFor(server, observed.pool), 2);
    await until(async () => (await observed.spares()) === 2, 5_000, 'both connections hold a spare');
    await server.restart();
    const ssh = $.ssh(targetFor(server, observed.pool));
    const settled = await withTimeout(settleAll(Array.from({ length: 4 }, (_, i) => ssh`echo ${`r${i}`}`.timeout(20_000))), 30_000, 'commands after the restart');
    expect(settled.errors, JSON.stringify(errorKinds(settled.errors))).toEqual([]);
    await sequential(server, observed.pool, 3, 10);
  });

  it('a frozen server: a command times out with a typed error, and after the thaw commands succeed', async () => {
    const server = await startSshd();
    const observed = observedPool({ keepAliveInterval: 1_000, keepAliveCountMax: 2 });
    await sequential(server, observed.pool, 2);
    await until(async () => (await observed.spares()) === 1, 5_000, 'a spare is held');
    await server.pause();
    try {
      const error = await $.ssh(targetFor(server, observed.pool))`echo frozen`.timeout(1_500).then(() => undefined, (e: unknown) => e);
      expect(error, 'the command on a frozen server failed').toBeInstanceOf(Error);
    } finally {
      await server.unpause();
    }
    await sequential(server, observed.pool, 3, 20);
  });

  it('a server killed mid-way: the running command fails as connection lost, later ones succeed once it is back', async () => {
    const server = await startSshd();
    const observed = observedPool();
    const ssh = $.ssh(targetFor(server, observed.pool));
    await sequential(server, observed.pool, 2);
    const running = ssh`sleep 10.37`.timeout(20_000).then(() => undefined, (e: unknown) => e as Error);
    // Running on the server, not just holding a slot: a kill before its channel opened is
    // retried on a new connection, and fails as a connect error instead (on a loaded machine).
    const onServer = async (): Promise<boolean> => {
      const { stdout } = await server.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done']);
      return stdout.split('\n').some((line) => line.replaceAll('\0', ' ').trim() === 'sleep 10.37');
    };
    await until(onServer, 10_000, 'the command running on the server');
    await server.kill();
    const error = await withTimeout(running, 15_000, 'the command on a killed server');
    expect(error?.name).toBe('ConnectionLostError');
    await server.start();
    await sequential(server, observed.pool, 3, 30);
    await until(async () => (await observed.spares()) === 1, 5_000, 'the new connection holds a spare');
  });
});
