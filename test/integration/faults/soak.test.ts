// Soak: many commands with random timeouts, aborts and failures against one sshd. Afterwards
// nothing is left behind: no open channel, no waiter, no listener on a caller's AbortSignal or
// on `process`, no process warning, a heap back near where it started, and closeAll() lets a
// process exit by itself.
//
// CI runs SSHPOOL_SOAK_COMMANDS (default 2000); the full soak:
//   SSHPOOL_SOAK_COMMANDS=20000 npx vitest run --project integration test/integration/faults/soak.test.ts
import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  $,
  AbortedError,
  CommandFailedError,
  CommandTimeoutError,
} from '../../../src/index.js';
import type { SSHCommand } from '../../../src/index.js';
import { startSshd } from '../../support/sshd.js';
import { newPool, recordEvents, runWithConcurrency, targetFor, until, withTimeout } from './shared.js';

const COMMANDS = Number.parseInt(process.env.SSHPOOL_SOAK_COMMANDS ?? '2000', 10);
const CONCURRENCY = 20;
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// A real collection before each heap reading, without needing node --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

const PROCESS_EVENTS = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'uncaughtException', 'unhandledRejection', 'warning'] as const;
const processListeners = (): Record<string, number> =>
  Object.fromEntries(PROCESS_EVENTS.map((event) => [event, process.listenerCount(event)]));

type Kind = 'echo' | 'timeout' | 'abort' | 'pre-aborted' | 'race' | 'exit';
const KINDS: Array<[Kind, number]> = [
  ['echo', 0.62],
  ['timeout', 0.1],
  ['abort', 0.1],
  ['pre-aborted', 0.03],
  ['race', 0.1],
  ['exit', 0.05],
];

function pickKind(): Kind {
  let r = Math.random();
  for (const [kind, weight] of KINDS) {
    if ((r -= weight) < 0) return kind;
  }
  return 'echo';
}

const randomInt = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1));

describe('soak', () => {
  it(`runs ${COMMANDS} commands with random timeouts and aborts, and leaves nothing behind`, async () => {
    const server = await startSshd();
    const pool = newPool();
    const recorder = recordEvents(pool);
    // No connect may fail here (checked below), but a connect is not what this pins: at a load
    // average of 60 on 2 cores OpenSSH took 2 s on average to send its banner, and one connect
    // ran past the 10 s default.
    const target = targetFor(server, pool, { poolConfig: { connectionTimeout: 30_000 } });
    const ssh = $.ssh(target);
    // A long-lived signal shared by many commands, as an application's shutdown signal would be.
    const shutdown = new AbortController();
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);

    // Warm up first so that the heap baseline includes the connections and lazily made objects.
    await Promise.all(Array.from({ length: 50 }, (_, i) => ssh`echo ${i}`));
    const listenersBefore = processListeners();
    const heapBefore = await settledHeap();
    const createdBefore = pool.getMetrics().connectionsCreated;

    const counts: Record<string, number> = {};
    const unexpected: string[] = [];
    const note = (what: string): void => void (counts[what] = (counts[what] ?? 0) + 1);
    const started = performance.now();
    let peakPending = 0;
    // Throughput per tenth of the run: a slowdown over time would show a leak before the heap does.
    const tenth = Math.max(1, Math.floor(COMMANDS / 10));
    const checkpoints: number[] = [];
    let done = 0;
    const outcomes = await runWithConcurrency(COMMANDS, CONCURRENCY, async (i) => {
      try {
        return await runOne(i);
      } finally {
        if (++done % tenth === 0) checkpoints.push(performance.now());
      }
    });
    async function runOne(i: number): Promise<void> {
      const kind = pickKind();
      const token = `soak-${i}`;
      let command: SSHCommand;
      let controller: AbortController | undefined;
      switch (kind) {
        case 'echo':
          command = ssh`echo ${token}`;
          if (i % 2 === 0) command.signal(shutdown.signal);
          break;
        case 'timeout':
          command = ssh`sleep 5; echo ${token}`.timeout(randomInt(5, 150));
          break;
        case 'abort':
          controller = new AbortController();
          command = ssh`sleep 5; echo ${token}`.signal(controller.signal);
          setTimeout(() => controller!.abort(), randomInt(0, 150));
          break;
        case 'pre-aborted':
          command = ssh`echo ${token}`.signal(AbortSignal.abort());
          break;
        case 'race':
          // Finishes around its deadline: either outcome is right, but it must be the right one.
          command = ssh`sleep 0.0${randomInt(0, 5)}; echo ${token}`.timeout(randomInt(5, 80));
          break;
        case 'exit':
          command = ssh`echo ${token}; exit ${randomInt(1, 3)}`;
          break;
      }
      peakPending = Math.max(peakPending, pool.getStats().pendingRequests);
      try {
        const result = await withTimeout(Promise.resolve(command), 30_000, `command ${i} (${kind})`);
        if ((kind === 'echo' || kind === 'race') && result.ok && result.stdout === `${token}\n`) note(`${kind}:ok`);
        else unexpected.push(`${i} ${kind}: resolved ${JSON.stringify(result)}`);
      } catch (error) {
        // A settled command keeps no listener on its caller's signal, fired or not.
        if (controller && getEventListeners(controller.signal, 'abort').length > 0) unexpected.push(`${i} ${kind}: listener left on its signal`);
        const right =
          (kind === 'timeout' || kind === 'race') ? error instanceof CommandTimeoutError
            : (kind === 'abort' || kind === 'pre-aborted') ? error instanceof AbortedError
              : kind === 'exit'
                ? error instanceof CommandFailedError && error.stdout === `${token}\n` && error.exitCode !== null && error.exitCode >= 1
                : false;
        if (right) note(`${kind}:${(error as Error).constructor.name}`);
        else unexpected.push(`${i} ${kind}: ${(error as Error)?.constructor?.name} ${(error as Error)?.message}`);
      }
    }
    const elapsed = performance.now() - started;
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(unexpected.slice(0, 20), `${unexpected.length} unexpected outcomes`).toEqual([]);

    // Ended channels are freed by the server a moment after the command's promise settles.
    await until(() => pool.getStats().openChannels === 0, 5_000, 'every channel freed');
    const stats = pool.getStats();
    expect(stats).toMatchObject({ openChannels: 0, pendingRequests: 0, activeConnections: 0 });
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    expect(processListeners()).toEqual(listenersBefore);
    process.off('warning', onWarning);
    expect(warnings).toEqual([]);
    // Timeouts and aborts end channels, not connections: idle expiry may close one, and the
    // safety net that retires a connection whose killed command's channel stays open may, rarely,
    // when the server is slow to close it. Locally none are; while other suites load the machine
    // 1-5 per 2,000 commands were, and 11 at a load average of 36 on 2 cores. A kill that does
    // not work retires dozens (44 were seen when the grace period still ran from the cancel),
    // which this bound (1 %, 20) catches.
    const closes = recorder.closeReasons();
    const retired = closes.filter((reason) => reason === 'expired').length;
    expect(closes.filter((reason) => reason !== 'idle' && reason !== 'expired')).toEqual([]);
    expect(retired, `${retired} connections retired`).toBeLessThanOrEqual(Math.ceil(COMMANDS / 100));
    expect(recorder.count('connection:failed')).toBe(0);
    const metrics = pool.getMetrics();
    expect(metrics.connectionsCreated - createdBefore).toBeLessThanOrEqual(10 + retired);

    const heapAfter = await settledHeap();
    const growthMb = (heapAfter - heapBefore) / 1024 / 1024;
    console.info(
      `soak: ${COMMANDS} commands in ${(elapsed / 1000).toFixed(1)} s (${Math.round(COMMANDS / (elapsed / 1000))}/s), ` +
        `${JSON.stringify(counts)}; connections ${metrics.connectionsCreated} (${retired} retired), efficiency ${metrics.poolEfficiency.toFixed(3)}, ` +
        `peak pending ${peakPending}; heap ${(heapBefore / 1048576).toFixed(1)} MB -> ${(heapAfter / 1048576).toFixed(1)} MB ` +
        `(${growthMb >= 0 ? '+' : ''}${growthMb.toFixed(1)} MB); commands/s per tenth: ` +
        checkpoints.map((at, k) => Math.round(tenth / ((at - (k === 0 ? started : checkpoints[k - 1]!)) / 1000))).join(' '),
    );
    expect(growthMb).toBeLessThan(16);
    await withTimeout(pool.closeAll(), 5_000, 'closeAll() after the soak');
    expect(pool.getStats()).toMatchObject({ totalConnections: 0 });
  // A hang detector, not a speed check: a loaded machine runs these at 20 commands/s or fewer.
  }, 60_000 + COMMANDS * 100);

  it('lets a process exit by itself after closeAll(), with keepalive, health checks and warm connections on', async () => {
    const server = await startSshd();
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/integration/faults/fixtures/run-then-close.ts')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        SSHPOOL_EXIT_TARGET: JSON.stringify({
          host: server.host,
          port: server.port,
          username: server.username,
          privateKey: server.privateKey,
          fingerprint: server.hostKeyFingerprint,
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let closedAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (closedAt === undefined && /closed \d+/.test(stdout)) closedAt = performance.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })));
    try {
      const { code, at } = await withTimeout(exit, 30_000, 'the child process exit');
      expect(stderr).toBe('');
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(/^closed \d+\n$/);
      const lingerMs = at - closedAt!;
      console.info(`exit: closeAll() took ${stdout.trim().split(' ')[1]} ms; the process exited ${Math.round(lingerMs)} ms after it`);
      expect(lingerMs).toBeLessThan(3_000);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
