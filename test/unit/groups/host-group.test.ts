// Host groups against in-process SSH servers: what users rely on, fast. The same behaviours
// against real OpenSSH containers (a killed primary, distribution) are in
// test/integration/host-groups.test.ts.
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Span as SdkSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Attributes, Context } from '@opentelemetry/api';
import { groupExecAttributes } from '../../../src/groups/group-telemetry.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  $,
  ConnectError,
  ConnectionLostError,
  FanOutError,
  HostDownError,
  InvalidArgumentError,
  NoHostAvailableError,
  SSHConnectionPool,
} from '../../../src/index.js';
import type { FanOutProgress, HostGroupExecutor, SSHHostGroupTarget } from '../../../src/index.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { freePort, freePorts } from '../../support/free-port.js';
import { TestMetricReader } from '../../support/test-metric-reader.js';
import { until } from '../../support/until.js';

const PASSWORD = 'group-password';

const exporter = new InMemorySpanExporter();
/** What `groupExecAttributes()` finds in the context each `ssh.exec` span starts in. */
const execStartAttributes: Array<Attributes | undefined> = [];
const execStartWatcher: SpanProcessor = {
  onStart(span: SdkSpan, parent: Context) {
    if (span.name === 'ssh.exec') execStartAttributes.push(groupExecAttributes(parent));
  },
  onEnd: () => {},
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter }), execStartWatcher] });
const contextManager = new AsyncLocalStorageContextManager();
const servers: EmbeddedSshServer[] = [];
const pools: SSHConnectionPool[] = [];
let live: EmbeddedSshServer[];

async function startServer(port = 0): Promise<EmbeddedSshServer> {
  const server = await new EmbeddedSshServer({ password: PASSWORD }).start(port);
  servers.push(server);
  return server;
}

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  live = await Promise.all([startServer(), startServer(), startServer()]);
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.closeAll()));
  exporter.reset();
  execStartAttributes.length = 0;
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop().catch(() => {})));
  context.disable();
});

/** A group over `ports` on an isolated pool that fails fast on a closed port. */
function groupOf(ports: number[], extra: Partial<SSHHostGroupTarget> = {}) {
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const pool = new SSHConnectionPool({ maxRetries: 0, connectionTimeout: 2_000, tracerProvider, meterProvider });
  pools.push(pool);
  const group = $.ssh({
    hosts: ports.map((port) => ({ host: '127.0.0.1', port })),
    username: 'tester',
    password: PASSWORD,
    hostKey: 'off',
    pool,
    ...extra,
  });
  return { group, pool, reader };
}

const portsOf = (servers: EmbeddedSshServer[]) => servers.map((server) => server.port);
const label = (port: number) => `127.0.0.1:${port}`;

async function hostsOf(group: HostGroupExecutor, count: number): Promise<string[]> {
  const hosts: string[] = [];
  for (let i = 0; i < count; i++) hosts.push((await group`echo ${i}`).host);
  return hosts;
}

function once<T extends unknown[]>(group: HostGroupExecutor, event: 'host:down' | 'host:up'): Promise<T> {
  return new Promise((resolve) => {
    const listener = (...args: unknown[]) => {
      group.off(event, listener);
      resolve(args as T);
    };
    group.on(event, listener);
  });
}

describe('a command on a host group', () => {
  it('runs on one member and reports which one in result.host', async () => {
    const { group } = groupOf(portsOf(live));
    const result = await group`echo hello ${'world'}`;
    expect(result).toMatchObject({ ok: true, stdout: 'hello world\n', host: label(live[0]!.port) });
    expect(group.hosts).toEqual(portsOf(live).map(label));
    expect(group.strategy).toBe('round-robin');
  });

  it('round-robin spreads sequential commands evenly over the members', async () => {
    const { group } = groupOf(portsOf(live));
    const hosts = await hostsOf(group, 6);
    expect(hosts).toEqual([...portsOf(live), ...portsOf(live)].map(label));
  });

  it('least-used sends the next command to a member that is not busy', async () => {
    const { group } = groupOf(portsOf(live), { strategy: 'least-used' });
    const busy = group`sleep 0.5; echo busy`;
    const busyRun = busy.then((r) => r.host);
    // The first member now has a command running: the next two go elsewhere.
    const [second, third] = await Promise.all([group`echo 2`, group`echo 3`]);
    const busyHost = await busyRun;
    expect(new Set([busyHost, second.host, third.host]).size).toBe(3);
  });

  it('failover runs everything on the primary while it is up', async () => {
    const { group } = groupOf(portsOf(live), { strategy: 'failover' });
    expect(await hostsOf(group, 4)).toEqual(Array(4).fill(label(live[0]!.port)));
  });

  it('a command whose connection cannot be opened moves on to the next member and succeeds there', async () => {
    const dead = await freePort();
    const { group } = groupOf([dead, ...portsOf(live)], { strategy: 'failover' });
    const result = await group`echo moved`;
    expect(result).toMatchObject({ ok: true, stdout: 'moved\n', host: label(live[0]!.port) });
  });

  it('a member whose connections fail is marked down, with the cause, and skipped without a new try', async () => {
    const dead = await freePort();
    const { group, pool } = groupOf([dead, ...portsOf(live)], { strategy: 'failover', circuitBreaker: { cooldown: 60_000 } });
    const down = once<[string, Error]>(group, 'host:down');
    await group`true`;
    const [host, error] = await down;
    expect(host).toBe(label(dead));
    expect(error).toBeInstanceOf(ConnectError);
    expect(group.members()[0]).toMatchObject({ host: label(dead), state: 'down', poolName: `tester@127.0.0.1:${dead}` });
    expect(group.members()[0]!.lastError).toBe(error);
    const failedBefore = pool.getMetrics().connectionsFailed;
    await hostsOf(group, 3);
    expect(pool.getMetrics().connectionsFailed, 'no new connection attempt to a down member').toBe(failedBefore);
  });

  it('a down member is probed after its cool-down and used again once it answers', async () => {
    const port = await freePort();
    const { group } = groupOf([port, live[0]!.port], { strategy: 'failover', circuitBreaker: { cooldown: 100, maxCooldown: 200 } });
    const down = once(group, 'host:down');
    expect((await group`true`).host).toBe(label(live[0]!.port));
    await down;
    const up = once<[string]>(group, 'host:up');
    await startServer(port);
    expect((await up)[0]).toBe(label(port));
    expect(group.members()[0]!.state).toBe('up');
    expect((await group`true`).host).toBe(label(port));
  });

  it('fails only when no member can take the command, listing every member with its cause', async () => {
    const [deadA, deadB] = (await freePorts(2)) as [number, number];
    const { group } = groupOf([deadA, deadB], { circuitBreaker: { cooldown: 60_000 } });
    const error = await group`true`.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(NoHostAvailableError);
    const failures = (error as NoHostAvailableError).failures;
    expect(failures.map((f) => [f.host, f.error.constructor.name])).toEqual([
      [label(deadA), 'ConnectError'],
      [label(deadB), 'ConnectError'],
    ]);
    expect((error as Error).message).toContain(label(deadA));
    expect((error as Error).message).toContain(label(deadB));
    // Both are down now: the next command fails at once, each member's cause still listed.
    const next = (await group`true`.then(() => undefined, (e: unknown) => e)) as NoHostAvailableError;
    expect(next.failures.map((f) => f.error)).toEqual([expect.any(HostDownError), expect.any(HostDownError)]);
    expect((next.failures[0]!.error as HostDownError).cause).toBeInstanceOf(ConnectError);
  });

  it('a command that lost its connection is not re-run elsewhere unless marked retryable', async () => {
    // Dropped once the command runs there (not while connecting, which a loaded machine can
    // stretch: that is a failed start, which fails over).
    let started = false;
    const victim = await new EmbeddedSshServer({ password: PASSWORD, onExec: () => (started = true) }).start();
    servers.push(victim);
    const { group } = groupOf([victim.port, live[0]!.port], { strategy: 'failover' });
    const running = group`sleep 2; echo done`.then(() => undefined, (e: unknown) => e);
    await until(() => started, 15_000, 'the command running on the victim');
    victim.dropAllConnections();
    const error = await running;
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as ConnectionLostError).result.host).toBe(label(victim.port));
  });

  it('a retryable command whose connection was lost runs again on another member', async () => {
    let started = false;
    const victim = await new EmbeddedSshServer({ password: PASSWORD, onExec: () => (started = true) }).start();
    servers.push(victim);
    const { group } = groupOf([victim.port, live[0]!.port], { strategy: 'failover' });
    const running = group`sleep 0.5; echo done`.retryable();
    const result = running.then((r) => r);
    await until(() => started, 15_000, 'the command running on the victim');
    victim.dropAllConnections();
    expect(await result).toMatchObject({ ok: true, stdout: 'done\n', host: label(live[0]!.port) });
  });

  it('the group option retryable applies to every command, and a command can opt out', async () => {
    // Dropped once the command runs there: a drop while connecting (a loaded machine stretches
    // it past a fixed pause) is a failed start, which fails over, and the command succeeded.
    let started = false;
    const victim = await new EmbeddedSshServer({ password: PASSWORD, onExec: () => (started = true) }).start();
    servers.push(victim);
    const { group } = groupOf([victim.port, live[0]!.port], { strategy: 'failover', retryable: true });
    const optedOut = group`sleep 2`.retryable(false).then(() => undefined, (e: unknown) => e);
    await until(() => started, 15_000, 'the command running on the victim');
    victim.dropAllConnections();
    expect(await optedOut).toBeInstanceOf(ConnectionLostError);
  });

  it('a failing command is the command\'s answer: it is not run elsewhere', async () => {
    const { group } = groupOf(portsOf(live), { retryable: true });
    const result = await group`exit 3`.nothrow();
    expect(result).toMatchObject({ ok: false, exitCode: 3, host: label(live[0]!.port) });
    expect((await group`echo next`).host).toBe(label(live[1]!.port));
  });

  it('rejects retryable() once the command has started and a non-boolean at once', async () => {
    const { group } = groupOf(portsOf(live));
    expect(() => group`true`.retryable('yes' as unknown as boolean)).toThrow(InvalidArgumentError);
    const command = group`true`;
    await command;
    expect(() => command.retryable()).toThrow('retryable() cannot change a command that has already started');
  });
});

describe('result.host', () => {
  it('is host:port wherever a command ran: plain command, lease, group command, fan-out, error', async () => {
    const server = live[0]!;
    const { group, pool } = groupOf([server.port]);
    const target = { host: '127.0.0.1', port: server.port, username: 'tester', password: PASSWORD, hostKey: 'off' as const, pool };
    const where = label(server.port);
    expect((await $.ssh(target)`true`).host).toBe(where);
    const lease = await pool.getConnection(target);
    expect((await lease.exec`true`).host).toBe(where);
    lease.release();
    expect((await group`true`).host).toBe(where);
    expect((await group.all`true`).map((r) => r.host)).toEqual([where]);
    const failed = await $.ssh(target)`exit 3`.nothrow();
    expect(failed.host).toBe(where);
    await expect($.ssh(target)`exit 3`).rejects.toThrow(`on ${where}`);
    // The executor still names the target's host, as given.
    expect($.ssh(target).host).toBe('127.0.0.1');
  });
});

describe('fan-out: group.all', () => {
  it('runs on every member and resolves with one result per host, in host order', async () => {
    const { group } = groupOf(portsOf(live));
    const results = await group.all`echo ${'a'}-${'b'}`;
    expect(results.map((r) => r.host)).toEqual(portsOf(live).map(label));
    expect(results.every((r) => r.status === 'fulfilled' && r.value.stdout === 'a-b\n')).toBe(true);
  });

  it('a partial failure rejects with FanOutError that keeps the successes and lists each failed host', async () => {
    const dead = await freePort();
    const { group } = groupOf([live[0]!.port, dead, live[1]!.port]);
    const error = (await group.all`echo up`.then(() => undefined, (e: unknown) => e)) as FanOutError;
    expect(error).toBeInstanceOf(FanOutError);
    expect(error.results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(error.failures).toEqual([{ host: label(dead), poolName: `tester@127.0.0.1:${dead}`, error: expect.any(ConnectError) }]);
    expect(error.message).toContain(`failed on 1 of 3 hosts: ${label(dead)}:`);
  });

  it('nothrow() resolves with every settled result instead', async () => {
    const { group } = groupOf(portsOf(live));
    const results = await group.all`echo ok`.nothrow();
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const failing = await group.all`exit 1`.nothrow();
    expect(failing.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });

  it('runs at most concurrency hosts at once', async () => {
    const { group, pool } = groupOf(portsOf(live));
    let most = 0;
    const watching = setInterval(() => (most = Math.max(most, pool.getStats().openChannels)), 5);
    try {
      await group.all`sleep 0.2`.concurrency(1);
    } finally {
      clearInterval(watching);
    }
    expect(most).toBe(1);
  });

  it('reports hosts as they finish, by callback and by async iteration', async () => {
    const { group } = groupOf(portsOf(live));
    const progress: FanOutProgress[] = [];
    const fanOut = group.all`sleep ${'0.3'}`.env({ X: 1 }).onProgress((step) => progress.push(step));
    const iterated: number[] = [];
    for await (const step of fanOut.progress()) iterated.push(step.index);
    expect(iterated).toHaveLength(3);
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3]);
    expect(progress.every((p) => p.total === 3)).toBe(true);
    expect(iterated).toEqual(progress.map((p) => p.index));
    const results = await fanOut;
    expect(results.map((r) => r.host)).toEqual(portsOf(live).map(label));
  });

  it('validates modifiers when they are called, not when the fan-out runs', () => {
    const { group } = groupOf(portsOf(live));
    expect(() => group.all`true`.timeout(0)).toThrow(InvalidArgumentError);
    expect(() => group.all`true`.concurrency(0)).toThrow('concurrency(limit) takes a positive integer, got 0');
    // The interactive modifiers too, with the same checks as a single command's.
    expect(() => group.all`true`.sudo({ user: 'a b' })).toThrow(InvalidArgumentError);
    expect(() => group.all`true`.pty({ cols: 0 })).toThrow(InvalidArgumentError);
    expect(() => group.all`true`.respond([])).toThrow(InvalidArgumentError);
  });
});

describe('host group telemetry', () => {
  it('wraps each command in ssh.group.exec with the strategy and the member that ran it', async () => {
    const dead = await freePort();
    const { group } = groupOf([dead, live[0]!.port], { strategy: 'failover', name: 'web' });
    await group`true`;
    const [span] = exporter.getFinishedSpans().filter((s) => s.name === 'ssh.group.exec');
    expect(span!.attributes).toMatchObject({
      'ssh.group.name': 'web',
      'ssh.group.strategy': 'failover',
      'ssh.group.host': label(live[0]!.port),
      'ssh.group.attempts': 2,
      'ssh.pool.name': `tester@127.0.0.1:${live[0]!.port}`,
    });
    expect(span!.events.map((e) => e.name)).toEqual(['ssh.host.down', 'ssh.group.attempt_failed']);
    // Each try's ssh.exec is a child of the group span.
    const execs = exporter.getFinishedSpans().filter((s) => s.name === 'ssh.exec');
    expect(execs).toHaveLength(2);
    for (const exec of execs) expect(exec.parentSpanContext?.spanId).toBe(span!.spanContext().spanId);
  });

  it('starts each try\'s ssh.exec in a context that carries the group, the strategy and the try number', async () => {
    const dead = await freePort();
    const { group } = groupOf([dead, live[0]!.port], { strategy: 'failover', name: 'web' });
    await group`true`;
    expect(execStartAttributes).toEqual([
      { 'ssh.group.name': 'web', 'ssh.group.strategy': 'failover', 'ssh.group.attempt': 1 },
      { 'ssh.group.name': 'web', 'ssh.group.strategy': 'failover', 'ssh.group.attempt': 2 },
    ]);
  });

  it('records a host going down and coming back as ssh.host.down / ssh.host.up spans', async () => {
    const port = await freePort();
    const { group } = groupOf([port, live[0]!.port], { strategy: 'failover', circuitBreaker: { cooldown: 50 } });
    await group`true`;
    const up = once(group, 'host:up');
    await startServer(port);
    await up;
    const down = exporter.getFinishedSpans().find((s) => s.name === 'ssh.host.down')!;
    expect(down.attributes).toMatchObject({ 'ssh.host.state': 'down', 'ssh.group.host': label(port), 'error.type': 'ERR_SSHPOOL_CONNECT' });
    const upSpan = exporter.getFinishedSpans().find((s) => s.name === 'ssh.host.up')!;
    expect(upSpan.attributes).toMatchObject({ 'ssh.host.state': 'up', 'ssh.pool.name': `tester@127.0.0.1:${port}` });
  });

  it('reports ssh.client.host.state: 1 for members up, 0 for members down', async () => {
    const dead = await freePort();
    const { group, reader } = groupOf([dead, live[0]!.port], { strategy: 'failover', name: 'db', circuitBreaker: { cooldown: 60_000 } });
    await group`true`;
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'ssh.client.host.state');
    const points = metric!.dataPoints.map((p) => [p.attributes['ssh.pool.name'], p.attributes['ssh.group.name'], p.value]);
    expect(points).toEqual([
      [`tester@127.0.0.1:${dead}`, 'db', 0],
      [`tester@127.0.0.1:${live[0]!.port}`, 'db', 1],
    ]);
  });
});


// Node timers may fire a millisecond or so before Date.now() reaches the time they were set
// for (about 6 % of 7 ms timers on a busy machine). A probe timer that fired "early" found the
// cool-down not quite over and gave up, leaving the member down for good. Here the wall clock
// the breakers read lags the timers by far more than that, so every probe timer fires early.
describe('circuit breaker probe timer', () => {
  it('fires before the wall clock says the cool-down is over: the probe still runs, and the host comes back', async () => {
    const realNow = Date.now.bind(Date);
    let lag = 0;
    // Installed before the group exists, so its breakers read this clock.
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - lag);
    try {
      const deadPort = await freePort();
      const { group } = groupOf([deadPort, live[0]!.port], { strategy: 'failover', circuitBreaker: { cooldown: 50, maxCooldown: 100 } });
      const transitions: string[] = [];
      group.on('host:down', () => {
        transitions.push('down');
        // After the probe was scheduled (synchronously, after this listener): from now on the
        // breaker's clock reads 200 ms behind the timers.
        setImmediate(() => (lag = 200));
      });
      group.on('host:up', () => transitions.push('up'));
      expect((await group`echo failover`).host).toBe(label(live[0]!.port));
      expect(transitions).toEqual(['down']);
      await startServer(deadPort);
      await until(() => transitions.length === 2, 5_000, 'the member marked up again');
      expect(transitions).toEqual(['down', 'up']);
      expect((await group`echo back`).host).toBe(label(deadPort));
    } finally {
      clock.mockRestore();
    }
  });
});
