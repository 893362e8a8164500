// The core contract against real OpenSSH: reuse, credential isolation, caps, multiplexing,
// quoting through a real remote shell, stats and events, timeouts, aborts and failed connects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  $,
  AbortedError,
  AuthenticationError,
  CommandFailedError,
  CommandTimeoutError,
  ConnectError,
  OutputLimitError,
  SSHConnectionPool,
} from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import { until } from '../support/until.js';
import type { SshdServer } from '../support/sshd.js';

let server: SshdServer;
let limitedServer: SshdServer;

beforeAll(async () => {
  [server, limitedServer] = await Promise.all([startSshd(), startSshd({ config: { MaxSessions: 2 } })]);
});

const targetFor = sshdTarget;

const pools: SSHConnectionPool[] = [];
function newPool(...args: ConstructorParameters<typeof SSHConnectionPool>): SSHConnectionPool {
  const pool = new SSHConnectionPool(...args);
  pools.push(pool);
  return pool;
}
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.closeAll()));
});

describe('sshpool against OpenSSH', () => {
  it('reuses the connection across $.ssh() executors for the same target', async () => {
    const pool = newPool();
    const first = await $.ssh(targetFor(server, pool))`echo $SSH_CONNECTION`;
    const second = await $.ssh(targetFor(server, pool))`echo $SSH_CONNECTION`;
    // Same client port in SSH_CONNECTION means the same TCP connection.
    expect(second.stdout).toBe(first.stdout);
    expect(pool.getMetrics()).toMatchObject({ connectionsCreated: 1, connectionsReused: 1, poolEfficiency: 0.5 });
  });

  it('never shares a connection between different credentials for the same user@host:port', async () => {
    const pool = newPool();
    const byKey = await $.ssh(targetFor(server, pool))`echo $SSH_CONNECTION`;
    const byPassword = await $.ssh(targetFor(server, pool, { privateKey: undefined, password: server.password }))`echo $SSH_CONNECTION`;
    expect(byPassword.stdout).not.toBe(byKey.stdout);
    const names = Object.keys(pool.getStats().hosts);
    expect(names).toEqual([`tester@127.0.0.1:${server.port}`, `tester@127.0.0.1:${server.port}#2`]);
  });

  it('keeps maxConnections: 2 with five concurrent `sleep 1` commands', async () => {
    const pool = newPool({ maxConnections: 2, maxChannelsPerConnection: 1 });
    const ssh = $.ssh(targetFor(server, pool));
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, pool.getStats().totalConnections)), 10);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 5 }, () => ssh`sleep 1; echo slept`));
    clearInterval(sampler);
    expect(results.every((r) => r.ok && r.stdout === 'slept\n')).toBe(true);
    expect(peak).toBe(2);
    expect(pool.getMetrics().connectionsCreated).toBe(2);
    // Five 1 s commands through two single-channel connections need three rounds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
  });

  it('runs 50 concurrent commands against one host with default settings', async () => {
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => ssh`echo ${i}`));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 50 }, (_, i) => `${i}\n`));
    expect(pool.getStats()).toMatchObject({ openChannels: 0, pendingRequests: 0, activeConnections: 0 });
  });

  it('runs 50 concurrent commands against a server with MaxSessions 2', async () => {
    const pool = newPool({ maxChannelsPerConnection: 10, maxConnections: 3 });
    const ssh = $.ssh(targetFor(limitedServer, pool));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => ssh`echo ${i}`));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 50 }, (_, i) => `${i}\n`));
    expect(pool.getStats().openChannels).toBe(0);
  });

  it('round-trips hostile strings byte for byte through a real remote shell', async () => {
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool));
    const values = [
      "it's",
      'double "quotes"',
      'new\nline',
      '$(touch /tmp/pwned)',
      '`id`',
      '$HOME ${PATH}',
      '-n',
      '--help',
      'ünïcødé ✓ 日本',
      ' leading and trailing ',
      '',
      '\\ backslash \\n',
      '* ? [a-z]',
      "a'b\"c\\d$e`f",
      '; rm -rf / #',
      '\t\r\u0001',
    ];
    for (const value of values) {
      // printf %s prints its argument exactly; a value split or expanded would differ.
      const result = await ssh`printf %s ${value}`;
      expect(result.stdout).toBe(value);
    }
    const counted = await ssh`for a in ${values}; do printf '%s\\0' "$a"; done`;
    expect(counted.stdout.split('\0').slice(0, -1)).toEqual(values);
    const probe = await ssh`test -e /tmp/pwned && echo yes || echo no`;
    expect(probe.stdout).toBe('no\n');
  });

  it('interpolates a previous result as its trimmed stdout', async () => {
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool));
    const dir = await ssh`mktemp -d`;
    const written = await ssh`echo data > ${dir}/file && cat ${dir}/file`;
    expect(written.stdout).toBe('data\n');
  });

  it('reports exit codes, signals, cwd, env and stdin truthfully', async () => {
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool));
    await expect(ssh`exit 42`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_COMMAND_FAILED', result: { exitCode: 42, ok: false } });
    const killed = await ssh`kill -KILL $$`.nothrow();
    expect(killed).toMatchObject({ exitCode: null, signal: 'SIGKILL', ok: false });
    expect((await ssh`pwd`.cwd('/tmp')).stdout).toBe('/tmp\n');
    await expect(ssh`pwd`.cwd('/definitely/missing')).rejects.toBeInstanceOf(CommandFailedError);
    expect((await ssh`printf %s "$X"`.env({ X: 'a b $c' })).stdout).toBe('a b $c');
    expect((await ssh`wc -c`.stdin(Buffer.alloc(100_000, 1))).stdout.trim()).toBe('100000');
  });

  it('streams a 40 MB output without corruption, and caps it when asked', async () => {
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool));
    // Above the 16 MiB default limit, so it is raised for this command.
    const big = await ssh`head -c 41943040 /dev/zero | tr '\\0' 'x'`.maxBuffer(64 * 1024 * 1024);
    expect(big.stdout.length).toBe(41_943_040);
    expect(/^x+$/.test(big.stdout)).toBe(true);
    await expect(ssh`head -c 10000000 /dev/zero`.maxBuffer(1_000_000)).rejects.toBeInstanceOf(OutputLimitError);
    await expect(ssh`head -c 41943040 /dev/zero`).rejects.toBeInstanceOf(OutputLimitError);
    expect((await ssh`echo still fine`).stdout).toBe('still fine\n');
  });

  it('ends only the timed-out or aborted command, leaving others on the same connection untouched', async () => {
    const pool = newPool({ maxConnections: 1 });
    const ssh = $.ssh(targetFor(server, pool));
    const controller = new AbortController();
    const settled = Promise.allSettled([
      ssh`sleep 1; echo one`,
      ssh`sleep 30`.timeout(300),
      ssh`sleep 30`.signal(controller.signal),
      ssh`sleep 1; echo two`,
    ]);
    setTimeout(() => controller.abort(), 300);
    const [one, timedOut, aborted, two] = await settled;
    expect(one).toMatchObject({ status: 'fulfilled', value: { stdout: 'one\n' } });
    expect(two).toMatchObject({ status: 'fulfilled', value: { stdout: 'two\n' } });
    expect((timedOut as PromiseRejectedResult).reason).toBeInstanceOf(CommandTimeoutError);
    expect((aborted as PromiseRejectedResult).reason).toBeInstanceOf(AbortedError);
    expect(pool.getMetrics().connectionsCreated).toBe(1);
    // The server freed the ended channels: nothing is left open.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pool.getStats().openChannels).toBe(0);
  });

  it('reports stats and events correctly at each step', async () => {
    const pool = newPool({ maxConnections: 1, maxChannelsPerConnection: 2 });
    const ssh = $.ssh(targetFor(server, pool));
    const events: string[] = [];
    pool.on('connection:created', (host) => events.push(`created:${host}`));
    pool.on('connection:reused', (host) => events.push(`reused:${host}`));
    pool.on('pool:full', (host) => events.push(`full:${host}`));
    pool.on('connection:closed', (host, reason) => events.push(`closed:${host}:${reason}`));
    const name = `tester@127.0.0.1:${server.port}`;

    expect(pool.getStats()).toEqual({ activeConnections: 0, idleConnections: 0, totalConnections: 0, pendingRequests: 0, openChannels: 0, hosts: {} });
    const running = Promise.all([ssh`sleep 1`, ssh`sleep 1`, ssh`sleep 1`]);
    // Two run on the one connection, the third waits: seen as soon as the connection is open.
    const deadline = Date.now() + 10_000;
    while (pool.getStats().hosts[name]?.openChannels !== 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pool.getStats().hosts[name]).toEqual({ activeConnections: 1, idleConnections: 0, totalConnections: 1, pendingRequests: 1, openChannels: 2 });
    await running;
    expect(pool.getStats().hosts[name]).toEqual({ activeConnections: 0, idleConnections: 1, totalConnections: 1, pendingRequests: 0, openChannels: 0 });
    await pool.closeAll();
    expect(events).toEqual(['full:127.0.0.1', 'created:127.0.0.1', 'reused:127.0.0.1', 'reused:127.0.0.1', 'closed:127.0.0.1:shutdown']);
    expect(pool.getMetrics()).toMatchObject({ connectionsCreated: 1, connectionsReused: 2, connectionsFailed: 0 });
  });

  it('counts a released lease free in the very next getStats(), with and without a command run on it', async () => {
    const pool = newPool();
    const target = targetFor(server, pool);
    const name = `tester@127.0.0.1:${server.port}`;
    const idle = await pool.getConnection(target);
    expect(pool.getStats().hosts[name]).toMatchObject({ openChannels: 1, activeConnections: 1 });
    idle.release();
    expect(pool.getStats().hosts[name]).toMatchObject({ openChannels: 0, activeConnections: 0, idleConnections: 1 });

    const used = await pool.getConnection(target);
    expect((await used.exec`echo leased`).stdout).toBe('leased\n');
    used.release();
    expect(pool.getStats()).toMatchObject({ openChannels: 0, activeConnections: 0, idleConnections: 1 });

    // Released while its command runs: the slot is held until the command is done, then freed.
    const busy = await pool.getConnection(target);
    const running = busy.exec`sleep 0.2; echo done`;
    const result = running.then((r) => r.stdout);
    busy.release();
    expect(pool.getStats().openChannels).toBe(1);
    expect(await result).toBe('done\n');
    await until(() => pool.getStats().openChannels === 0, 5_000, 'the slot freed after the command');
  });

  it('rejects every waiting command promptly with a typed error when the port is closed', async () => {
    const pool = newPool({ reconnect: { initialDelay: 50, maxDelay: 200 } });
    const sshd = await startSshd();
    const closedTarget = targetFor(sshd, pool);
    await sshd.remove();
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => $.ssh(closedTarget)`true`.catch((e: unknown) => e)));
    expect(outcomes.every((e) => e instanceof ConnectError && e.code === 'ERR_SSHPOOL_CONNECT')).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(pool.getStats().pendingRequests).toBe(0);
  });

  it('rejects every waiting command with AuthenticationError for bad credentials, without retrying', async () => {
    const pool = newPool();
    let failures = 0;
    pool.on('connection:failed', () => failures++);
    const bad = targetFor(server, pool, { privateKey: undefined, password: 'not-the-password' });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => $.ssh(bad)`true`.catch((e: unknown) => e)));
    expect(outcomes.map((e) => (e as Error).name)).toEqual(Array(5).fill("AuthenticationError"));
    for (const error of outcomes) expect(String((error as Error).message)).not.toContain('not-the-password');
    expect(failures).toBe(1);
  });
});
