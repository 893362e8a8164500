// The server goes away under the pool: killed mid-workload, frozen with commands in flight,
// restarted while connections sit idle. Every command either succeeds with its own output or
// fails with a typed error, nothing hangs, stats and events tell the truth, and the pool
// recovers without help.
import { describe, expect, it } from 'vitest';
import {
  $,
  AbortedError,
  AcquireTimeoutError,
  CommandTimeoutError,
  ConnectError,
  ConnectionLostError,
  ConnectTimeoutError,
} from '../../../src/index.js';
import { startSshd } from '../../support/sshd.js';
import { errorKinds, failureOf, newPool, recordEvents, runWithConcurrency, sleep, targetFor, tcpSockets, until, withTimeout } from './shared.js';

describe('sshd killed in the middle of a workload', () => {
  it('fails only in-flight and waiting commands, with typed errors, and recovers once sshd is back', async () => {
    const server = await startSshd();
    const pool = newPool({
      acquireTimeout: 8_000,
      connectionTimeout: 3_000,
      reconnect: { initialDelay: 50, maxDelay: 400 },
    });
    const recorder = recordEvents(pool);
    const ssh = $.ssh(targetFor(server, pool));

    let completed = 0;
    let outage: Promise<{ killedAt: number; backAt: number }> | undefined;
    const total = 200;
    const workload = runWithConcurrency(total, 20, async (i) => {
      // Long enough that the kill (a Docker API call) lands while commands run.
      const result = await ssh`sleep 0.2; echo ${`cmd-${i}`}`.timeout(20_000);
      completed++;
      // Kill once the workload is in full swing, so that commands are on the wire.
      if (completed === 40 && !outage) {
        outage = (async () => {
          await server.kill();
          const killedAt = performance.now();
          await sleep(1_000);
          await server.start();
          return { killedAt, backAt: performance.now() };
        })();
      }
      return result;
    });
    const outcomes = await withTimeout(workload, 60_000, 'the 200-command workload');
    expect(outage, 'the kill happened while the workload ran').toBeDefined();
    const { killedAt, backAt } = await outage!;
    // Nothing is left open or waiting once the workload has settled.
    await until(() => pool.getStats().openChannels === 0, 2_000, 'openChannels back to 0');
    expect(pool.getStats()).toMatchObject({ openChannels: 0, pendingRequests: 0, activeConnections: 0 });

    const succeeded = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [{ i, stdout: o.value.stdout, ok: o.value.ok }] : []));
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
    // Every success carries its own output: nothing was crossed between channels.
    for (const { i, stdout, ok } of succeeded) {
      expect(ok).toBe(true);
      expect(stdout).toBe(`cmd-${i}\n`);
    }
    expect(succeeded.length).toBeGreaterThanOrEqual(40);
    expect(failed.length, 'some commands were in flight when sshd died').toBeGreaterThan(0);
    const allowed = failed.every((e) => e instanceof ConnectionLostError || e instanceof ConnectError || e instanceof AcquireTimeoutError);
    expect(allowed, `failure kinds: ${JSON.stringify(errorKinds(failed))}`).toBe(true);
    // At least the commands on the wire when sshd died report the lost connection.
    expect(failed.some((e) => e instanceof ConnectionLostError), `failure kinds: ${JSON.stringify(errorKinds(failed))}`).toBe(true);
    for (const error of failed) {
      if (!(error instanceof ConnectionLostError)) continue;
      // A command whose exit status arrived just before sshd died carries it (never ok: its
      // channel never closed, so its output may be cut); any other carries none.
      expect(error.result.ok).toBe(false);
      expect([null, 0]).toContain(error.result.exitCode);
    }

    // Connections that died were closed by the remote side (or by a socket error), never otherwise.
    const reasons = recorder.closeReasons();
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.every((reason) => reason === 'remote' || reason === 'error'), `close reasons: ${reasons.join(', ')}`).toBe(true);
    // Failed opens are reported as transient ConnectErrors (refused while sshd was down).
    for (const { args } of recorder.named('connection:failed')) {
      expect(args[1]).toBeInstanceOf(ConnectError);
      expect((args[1] as ConnectError).transient).toBe(true);
    }

    // The pool recovers by itself: the next command after sshd is back succeeds first time.
    const recoveryStarted = performance.now();
    const after = await ssh`echo recovered`.timeout(10_000);
    const recoveryMs = performance.now() - recoveryStarted;
    expect(after.stdout).toBe('recovered\n');
    const batch = await Promise.all(Array.from({ length: 20 }, (_, i) => ssh`echo ${i}`.timeout(10_000)));
    expect(batch.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
    await until(() => pool.getStats().openChannels === 0, 2_000, 'openChannels back to 0 after recovery');
    const stats = pool.getStats();
    expect(stats).toMatchObject({ openChannels: 0, pendingRequests: 0, activeConnections: 0 });
    expect(stats.totalConnections).toBeGreaterThan(0);
    console.info(
      `kill: ${succeeded.length} ok, ${failed.length} failed ${JSON.stringify(errorKinds(failed))}; ` +
        `closed ${reasons.length} (${[...new Set(reasons)].join('/')}), ${recorder.count('connection:failed')} failed opens; ` +
        `first command after recovery took ${Math.round(recoveryMs)} ms and started ` +
        `${Math.round(recoveryStarted - backAt)} ms after sshd was back; ` +
        `connections seen closed ${recorder.named('connection:closed').map(({ at }) => Math.round(at - killedAt)).join('/')} ms after docker kill returned`,
    );
  });
});

describe('sshd frozen (docker pause)', () => {
  it('fails an in-flight command with ConnectionLostError within the keepalive budget and never lends the dead connection', async () => {
    const server = await startSshd();
    const keepAliveInterval = 500;
    const keepAliveCountMax = 2;
    const pool = newPool({
      keepAliveInterval,
      keepAliveCountMax,
      // Generous: the warm-up and the connection after the thaw must open on a loaded machine
      // (1 s failed at a load average of 36); the frozen server's command ends at acquireTimeout.
      connectionTimeout: 10_000,
      acquireTimeout: 3_000,
      maxRetries: 0,
      reconnect: { enabled: false },
    });
    const recorder = recordEvents(pool);
    const ssh = $.ssh(targetFor(server, pool));
    // Two connections: one will carry the command, the other stays idle.
    await pool.warmUp(targetFor(server, pool), 2);
    expect(pool.getStats()).toMatchObject({ idleConnections: 2, totalConnections: 2 });

    const inFlight = ssh`sleep 8; echo finished`.timeout(15_000).then(
      () => undefined,
      (error: unknown) => ({ error: error as Error, at: performance.now() }),
    );
    await until(() => pool.getStats().openChannels === 1, 2_000, 'the command started');
    await sleep(200);
    await server.pause();
    const pausedAt = performance.now();
    try {
      const outcome = await withTimeout(inFlight, 10_000, 'the in-flight command on a frozen server');
      expect(outcome?.error).toBeInstanceOf(ConnectionLostError);
      const detectionMs = outcome!.at - pausedAt;
      const budget = keepAliveInterval * (keepAliveCountMax + 1);
      console.info(`pause: in-flight command failed ${Math.round(detectionMs)} ms after the freeze (keepalive budget ${budget} ms)`);
      expect(detectionMs).toBeLessThan(budget + 1_000);

      // Both connections are gone from the stats: the idle one was detected by the same keepalive.
      await until(() => pool.getStats().totalConnections === 0, budget + 1_000, 'both dead connections dropped from stats');
      expect(pool.getStats()).toMatchObject({ activeConnections: 0, idleConnections: 0, openChannels: 0, pendingRequests: 0 });
      // Dropped from the stats once unusable; their close events follow a moment later.
      await until(() => recorder.closeReasons().length === 2, 2_000, 'both close events');
      const closed = recorder.closeReasons();
      expect(closed).toHaveLength(2);
      expect(closed.every((reason) => reason === 'error' || reason === 'remote')).toBe(true);

      // A command issued while the server is still frozen is never handed a dead connection:
      // it fails because no new connection can be opened, not because a lent one was lost.
      const reusedBefore = recorder.count('connection:reused');
      const started = performance.now();
      const frozenError = await failureOf(ssh`echo nope`.timeout(10_000));
      expect(frozenError, `got ${frozenError?.constructor.name}`).toSatisfy(
        (e: unknown) => e instanceof ConnectTimeoutError || e instanceof AcquireTimeoutError,
      );
      expect(performance.now() - started).toBeLessThan(4_000);
      expect(recorder.count('connection:reused')).toBe(reusedBefore);
    } finally {
      await server.unpause();
    }

    const after = await ssh`echo thawed`.timeout(10_000);
    expect(after.stdout).toBe('thawed\n');
    await until(() => pool.getStats().openChannels === 0, 2_000, 'channels freed');
    expect(pool.getStats()).toMatchObject({ totalConnections: 1, pendingRequests: 0 });
  });
});

describe('sshd frozen: what the caller controls', () => {
  it(".timeout() and .signal() end a command promptly even when its channel open gets no answer", async () => {
    const server = await startSshd();
    // Default keepalive (15 s × 3): the command's own timeout is what must end the wait.
    const pool = newPool({ reconnect: { enabled: false } });
    const target = targetFor(server, pool);
    const ssh = $.ssh(target);
    await pool.warmUp(target, 1);
    await server.pause();
    try {
      const started = performance.now();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 500);
      const [timedOut, aborted] = await withTimeout(
        Promise.all([
          ssh`echo never`.timeout(500).then(() => undefined, (e: unknown) => ({ e: e as Error, ms: performance.now() - started })),
          ssh`echo never`.signal(controller.signal).then(() => undefined, (e: unknown) => ({ e: e as Error, ms: performance.now() - started })),
        ]),
        3_000,
        'commands with a 500 ms timeout / abort on a frozen server',
      );
      expect(timedOut?.e).toBeInstanceOf(CommandTimeoutError);
      expect(aborted?.e).toBeInstanceOf(AbortedError);
      expect(timedOut!.ms).toBeLessThan(1_500);
      expect(aborted!.ms).toBeLessThan(1_500);
    } finally {
      await server.unpause();
    }
  });

  it('closeIdleConnections() finishes within the close grace period (2 s) and releases the sockets while sshd is frozen', async () => {
    const server = await startSshd();
    const pool = newPool({ reconnect: { enabled: false } });
    const recorder = recordEvents(pool);
    const socketsBefore = tcpSockets();
    await pool.warmUp(targetFor(server, pool), 2);
    expect(tcpSockets()).toBeGreaterThanOrEqual(socketsBefore + 2);
    await server.pause();
    try {
      const started = performance.now();
      const idleClosed = await withTimeout(pool.closeIdleConnections(), 4_000, 'closeIdleConnections() on a frozen server')
        .then(() => performance.now() - started, (e: Error) => e);
      console.info(`frozen peer: closeIdleConnections() ${idleClosed instanceof Error ? 'did not finish within 4 s' : `took ${Math.round(idleClosed)} ms`}`);
      expect(idleClosed).not.toBeInstanceOf(Error);
      expect(recorder.closeReasons()).toEqual(['idle', 'idle']);
      await until(() => tcpSockets() <= socketsBefore, 1_000, 'sockets of the closed connections released');
      await withTimeout(pool.closeAll(), 3_000, 'closeAll() on a frozen server');
    } finally {
      await server.unpause();
    }
  });

  it('closeAll() finishes within the close grace period while sshd is frozen', async () => {
    const server = await startSshd();
    const pool = newPool({ reconnect: { enabled: false } });
    await pool.warmUp(targetFor(server, pool), 2);
    await server.pause();
    try {
      const started = performance.now();
      const closed = await withTimeout(pool.closeAll(), 4_000, 'closeAll() on a frozen server').then(() => performance.now() - started, (e: Error) => e);
      console.info(`frozen peer: closeAll() ${closed instanceof Error ? 'did not finish within 4 s' : `took ${Math.round(closed)} ms`}`);
      expect(closed).not.toBeInstanceOf(Error);
    } finally {
      await server.unpause();
    }
  });
});

describe('sshd restarted while connections are idle', () => {
  it('runs the next commands without an error: stale connections are dropped before use', async () => {
    const server = await startSshd();
    const pool = newPool({ reconnect: { initialDelay: 50, maxDelay: 400 } });
    const recorder = recordEvents(pool);
    const target = targetFor(server, pool);
    const ssh = $.ssh(target);
    await pool.warmUp(target, 3);
    const before = await ssh`echo $SSH_CONNECTION`;
    expect(pool.getStats()).toMatchObject({ idleConnections: 3, totalConnections: 3 });

    await server.restart();
    // The commands below come right after the restart: whether or not the pool has already
    // noticed the closes, none of them may see a stale connection.
    const results = await withTimeout(
      Promise.all(Array.from({ length: 12 }, (_, i) => ssh`echo ${i} $SSH_CONNECTION`.timeout(10_000))),
      15_000,
      'commands after the restart',
    );
    results.forEach((r, i) => expect(r.stdout.startsWith(`${i} `)).toBe(true));
    // They ran on new connections (the client port in SSH_CONNECTION differs).
    expect(results.every((r) => r.stdout.split(' ').slice(1).join(' ') !== before.stdout)).toBe(true);
    const reasons = recorder.closeReasons();
    expect(reasons).toHaveLength(3);
    expect(reasons.every((reason) => reason === 'remote' || reason === 'error')).toBe(true);
    expect(recorder.count('connection:failed')).toBe(0);
    expect(pool.getMetrics().connectionsCreated).toBeGreaterThanOrEqual(4);
    expect(pool.getStats()).toMatchObject({ openChannels: 0, pendingRequests: 0, activeConnections: 0 });
  });
});
