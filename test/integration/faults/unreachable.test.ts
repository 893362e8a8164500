// Hosts that cannot be reached at all: a port with nothing listening, a name that does not
// resolve. The caller gets a typed ConnectError quickly, with `transient` telling whether
// trying again later may help, and the pool keeps nothing behind.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { $, ConnectError } from '../../../src/index.js';
import type { SSHConnectionPool } from '../../../src/index.js';
import { generateKeyPair } from '../../support/generate-key-pair.js';
import { failureOf, newPool, recordEvents, sleep, tcpSockets, until, withTimeout } from './shared.js';


/** A loopback port that was free a moment ago: nothing listens on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const key = generateKeyPair('unreachable').private;

function target(pool: SSHConnectionPool, host: string, port: number) {
  return { host, port, username: 'tester', privateKey: key, hostKey: 'off' as const, pool };
}

async function timedFailure(run: () => PromiseLike<unknown>): Promise<{ error: Error | undefined; ms: number }> {
  const started = performance.now();
  const error = await failureOf(run());
  return { error, ms: performance.now() - started };
}

describe('a port with nothing listening', () => {
  it('fails with a transient ConnectError within a couple of seconds, with default settings', async () => {
    const pool = newPool();
    const recorder = recordEvents(pool);
    const port = await closedPort();
    const socketsBefore = tcpSockets();
    const { error, ms } = await timedFailure(() => $.ssh(target(pool, '127.0.0.1', port))`true`);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_CONNECT', transient: true, host: '127.0.0.1', port });
    expect(String(error!.message)).toMatch(/ECONNREFUSED/);
    expect(ms).toBeLessThan(2_000);
    // Transient: the default maxRetries (2) further attempts were made, each reported.
    expect(recorder.count('connection:failed')).toBe(3);
    expect(pool.getStats()).toMatchObject({ totalConnections: 0, pendingRequests: 0, openChannels: 0 });
    await until(() => tcpSockets() <= socketsBefore, 2_000, 'sockets released');
    console.info(`refused port: ConnectError after ${Math.round(ms)} ms (3 attempts)`);
  });

  it('fails every one of 10 concurrent commands the same way', async () => {
    const pool = newPool();
    const port = await closedPort();
    const started = performance.now();
    const errors = await Promise.all(Array.from({ length: 10 }, () => failureOf($.ssh(target(pool, '127.0.0.1', port))`true`)));
    expect(errors.every((e) => e instanceof ConnectError && e.code === 'ERR_SSHPOOL_CONNECT' && e.transient)).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(pool.getStats().pendingRequests).toBe(0);
  });

  it('keeps later commands to the same dead port as prompt as the first', async () => {
    // Each command may take 3 s at most: a slower answer fails the test quickly, as a timeout.
    const pool = newPool();
    const port = await closedPort();
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { error, ms } = await timedFailure(() => $.ssh(target(pool, '127.0.0.1', port))`true`.timeout(3_000));
      outcomes.push(`${error?.constructor.name} after ${Math.round(ms)} ms`);
    }
    console.info(`refused port, three consecutive commands with default settings: ${outcomes.join('; ')}`);
    for (const [i, outcome] of outcomes.entries()) expect(outcome, `command ${i + 1}`).toMatch(/^ConnectError after (\d{1,3}|1\d{3}) ms$/);
  });
});

describe('closeAll() with a dead host', () => {
  it('returns promptly, and no connect is attempted for a command that is no longer waiting', async () => {
    const pool = newPool();
    const recorder = recordEvents(pool);
    const port = await closedPort();
    const ssh = $.ssh(target(pool, '127.0.0.1', port));
    // Build up consecutive failures, then let a command give up while its connect backs off.
    await ssh`true`.then(() => undefined, () => undefined);
    await ssh`true`.timeout(300).then(() => undefined, () => undefined);
    const failedWhenAbandoned = recorder.count('connection:failed');
    await sleep(2_600);
    expect(pool.getStats().pendingRequests).toBe(0);
    const attemptsForNobody = recorder.count('connection:failed') - failedWhenAbandoned;
    const started = performance.now();
    await withTimeout(pool.closeAll(), 20_000, 'closeAll()');
    const ms = Math.round(performance.now() - started);
    console.info(`dead host: ${attemptsForNobody} connects attempted after the last waiter left; closeAll() took ${ms} ms`);
    expect(ms, 'closeAll() waited for a connect backoff').toBeLessThan(1_000);
    expect(attemptsForNobody, 'connects attempted while no command waited').toBe(0);
  });
});

describe('a host name that does not resolve', () => {
  it('fails with a permanent ConnectError at once, without retrying', async () => {
    const pool = newPool();
    const recorder = recordEvents(pool);
    const { error, ms } = await timedFailure(() => $.ssh(target(pool, 'nonexistent.invalid', 22))`true`);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_CONNECT', transient: false, host: 'nonexistent.invalid', port: 22 });
    expect(String(error!.message)).toMatch(/ENOTFOUND/);
    expect(ms).toBeLessThan(2_000);
    expect(recorder.count('connection:failed')).toBe(1);
    expect(pool.getStats()).toMatchObject({ totalConnections: 0, pendingRequests: 0 });
    console.info(`unresolvable host: ConnectError after ${Math.round(ms)} ms`);
  });
});
