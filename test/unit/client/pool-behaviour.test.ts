import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../support/until.js';
import {
  $,
  AcquireTimeoutError,
  AuthenticationError,
  ConnectError,
  HostKeyError,
  PoolClosedError,
  SSHConnectionPool,
} from '../../../src/index.js';
import type { PoolConfig } from '../../../src/index.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(serverOptions: ConstructorParameters<typeof EmbeddedSshServer>[0] = {}, poolConfig: PoolConfig = {}) {
  const server = await new EmbeddedSshServer(serverOptions).start();
  const pool = new SSHConnectionPool(poolConfig);
  cleanups.push(() => server.stop(), () => pool.closeAll());
  const target = { host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off' as const, pool };
  return { server, pool, target, ssh: $.ssh(target) };
}

describe('pool behaviour (embedded server)', () => {
  it('reuses one connection for sequential commands and counts the reuse', async () => {
    const { pool, ssh } = await setup();
    for (let i = 0; i < 5; i++) await ssh`true`;
    const metrics = pool.getMetrics();
    expect(metrics.connectionsCreated).toBe(1);
    expect(metrics.connectionsReused).toBe(4);
    expect(metrics.poolEfficiency).toBeCloseTo(4 / 5);
    expect(pool.getStats()).toMatchObject({ totalConnections: 1, idleConnections: 1, activeConnections: 0, openChannels: 0 });
  });

  it('multiplexes concurrent commands on one connection up to maxChannelsPerConnection', async () => {
    const { server, ssh } = await setup({}, { maxChannelsPerConnection: 4, maxConnections: 5 });
    await Promise.all(Array.from({ length: 4 }, () => ssh`sleep 0.2`));
    expect(server.connectionsAccepted).toBe(1);
  });

  it('never opens more than maxConnections and queues the rest', async () => {
    const { server, pool, ssh } = await setup({}, { maxConnections: 2, maxChannelsPerConnection: 1 });
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, pool.getStats().totalConnections)), 5);
    // Awaiting (here: Promise.all) is what starts a lazy command.
    const runs = Promise.all(Array.from({ length: 6 }, () => ssh`sleep 0.2`));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pool.getStats().pendingRequests).toBeGreaterThan(0);
    await runs;
    clearInterval(sampler);
    expect(peak).toBe(2);
    expect(server.connectionsAccepted).toBe(2);
  });

  it('learns a server session limit from refusals and runs every command anyway', async () => {
    const { server, pool, ssh } = await setup({ maxSessions: 2 }, { maxChannelsPerConnection: 10, maxConnections: 3 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ssh`echo ${i}`));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
    expect(server.sessionsRefused).toBeGreaterThan(0);
    expect(pool.getStats().openChannels).toBe(0);
  });

  it('applies a configureHost rule to matching hosts, and an explicit poolConfig wins over it', async () => {
    const { pool, target, server } = await setup({}, { maxChannelsPerConnection: 1 });
    pool.configureHost('127.0.0.*', { maxConnections: 1 });
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, pool.getStats().totalConnections)), 5);
    await Promise.all(Array.from({ length: 3 }, () => $.ssh(target)`sleep 0.1`));
    expect(peak).toBe(1);
    // A second credential is a new pool key: the rule applies, but its own poolConfig wins.
    const own = $.ssh({ ...target, privateKey: undefined, password: server.password, poolConfig: { maxConnections: 3 } });
    await Promise.all(Array.from({ length: 3 }, () => own`sleep 0.2`));
    clearInterval(sampler);
    expect(pool.getStats().hosts[`tester@127.0.0.1:${server.port}#2`]!.totalConnections).toBe(3);
  });

  it('serves higher-priority leases first', async () => {
    const { pool, target } = await setup({}, { maxConnections: 1, maxChannelsPerConnection: 1 });
    const holder = await pool.getConnection(target);
    const order: string[] = [];
    const low = pool.getConnection(target, { priority: 0 }).then((lease) => { order.push('low'); lease.release(); });
    const high = pool.getConnection(target, { priority: 5 }).then((lease) => { order.push('high'); lease.release(); });
    await new Promise((resolve) => setTimeout(resolve, 20));
    holder.release();
    await Promise.all([low, high]);
    expect(order).toEqual(['high', 'low']);
  });

  it('runs lease commands on the leased connection', async () => {
    const { pool, target } = await setup();
    const lease = await pool.getConnection(target);
    const first = await lease.exec`echo $PPID`;
    const second = await lease.exec`echo $PPID`;
    expect(first.ok && second.ok).toBe(true);
    expect(pool.getStats().activeConnections).toBe(1);
    lease.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pool.getStats()).toMatchObject({ activeConnections: 0, idleConnections: 1 });
  });

  it('times out an acquire with AcquireTimeoutError when every slot stays busy', async () => {
    const { pool, target, ssh } = await setup({}, { maxConnections: 1, maxChannelsPerConnection: 1, acquireTimeout: 300 });
    await ssh`true`;
    const lease = await pool.getConnection(target);
    const error = await $.ssh(target)`true`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect((error as AcquireTimeoutError).code).toBe('ERR_SSHPOOL_ACQUIRE_TIMEOUT');
    lease.release();
  });

  it('rejects a command promptly with ConnectError when nothing listens, without hanging', async () => {
    const { server, target } = await setup({}, { reconnect: { initialDelay: 10, maxDelay: 20 } });
    await server.stop();
    const started = Date.now();
    const errors = await Promise.all(Array.from({ length: 5 }, () => $.ssh(target)`true`.catch((e: unknown) => e)));
    for (const error of errors) {
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).transient).toBe(true);
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('rejects with AuthenticationError for a wrong password and never retries it', async () => {
    const { server, pool, target } = await setup();
    const failures: Error[] = [];
    pool.on('connection:failed', (_host, error) => failures.push(error));
    const bad = { ...target, privateKey: undefined, password: 'wrong' };
    const error = await $.ssh(bad)`true`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).not.toContain('wrong');
    expect(failures).toHaveLength(1);
    expect(server.connectionsAccepted).toBe(1);
  });

  it('rejects an unknown host key under the default strict policy with the fingerprint in the error', async () => {
    const { target } = await setup();
    const strict = { ...target, hostKey: { knownHostsFile: '/nonexistent/known_hosts' } };
    const error = await $.ssh(strict)`true`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostKeyError);
    expect((error as HostKeyError).reason).toBe('unknown');
    expect((error as HostKeyError).message).toContain((error as HostKeyError).fingerprint);
  });

  it('keeps separate connections for separate credentials and names the second pool #2', async () => {
    const { pool, target, server } = await setup();
    await $.ssh(target)`true`;
    await $.ssh({ ...target, privateKey: undefined, password: server.password })`true`;
    const stats = pool.getStats();
    expect(Object.keys(stats.hosts).sort()).toEqual([`tester@127.0.0.1:${server.port}`, `tester@127.0.0.1:${server.port}#2`]);
    expect(stats.totalConnections).toBe(2);
  });

  it('closes idle connections after idleTimeout and reports connection:idle then connection:closed', async () => {
    const { pool, ssh } = await setup({}, { idleTimeout: 100 });
    const events: string[] = [];
    pool.on('connection:idle', (host, idleMs) => events.push(`idle:${host}:${idleMs >= 100}`));
    pool.on('connection:closed', (host, reason) => events.push(`closed:${host}:${reason}`));
    await ssh`true`;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(events).toEqual(['idle:127.0.0.1:true', 'closed:127.0.0.1:idle']);
    expect(pool.getStats().totalConnections).toBe(0);
  });

  it('closeIdleConnections() closes idle connections now', async () => {
    const { pool, ssh } = await setup();
    await ssh`true`;
    await pool.closeIdleConnections();
    expect(pool.getStats().totalConnections).toBe(0);
    expect((await ssh`echo again`).stdout).toBe('again\n');
  });

  it('closeAll() lets running commands finish and rejects new ones with PoolClosedError', async () => {
    const { pool, ssh } = await setup();
    const running = Promise.resolve(ssh`sleep 0.2; echo done`);
    // Running, not still connecting: a connect slower than a fixed pause (a busy machine) would be
    // cut by closeAll() instead.
    await until(() => pool.getStats().activeConnections === 1);
    const closing = pool.closeAll();
    await expect(ssh`true`).rejects.toBeInstanceOf(PoolClosedError);
    expect((await running).stdout).toBe('done\n');
    await closing;
    expect(pool.getStats().totalConnections).toBe(0);
  });

  it('survives a listener that throws', async () => {
    const { pool, ssh } = await setup();
    pool.on('connection:created', () => {
      throw new Error('listener bug');
    });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    expect((await ssh`echo fine`).stdout).toBe('fine\n');
    await new Promise((resolve) => setTimeout(resolve, 10));
    process.off('warning', onWarning);
    expect(warnings.some((w) => w.includes('listener bug'))).toBe(true);
  });

  it('emits connection:created with the host, a duration and details', async () => {
    const { pool, ssh, server } = await setup();
    const seen: unknown[][] = [];
    pool.on('connection:created', (...args) => seen.push(args));
    pool.on('connection:reused', (...args) => seen.push(args));
    await ssh`true`;
    await ssh`true`;
    expect(seen[0]![0]).toBe('127.0.0.1');
    expect(typeof seen[0]![1]).toBe('number');
    expect(seen[0]![2]).toMatchObject({ poolName: `tester@127.0.0.1:${server.port}`, port: server.port, username: 'tester' });
    expect(seen[1]![0]).toBe('127.0.0.1');
    expect(seen).toHaveLength(2);
  });
});
