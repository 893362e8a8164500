// Shared pieces of the fault-injection tests: targets, pool bookkeeping, bounded waits,
// event recording and the checks every scenario repeats (typed outcomes, no leaks).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, expect } from 'vitest';
import { SSHConnectionPool } from '../../../src/index.js';
import type { PoolEventName, PoolEvents, SSHConnectionPoolOptions } from '../../../src/index.js';

import { withTimeout } from '../../support/with-timeout.js';

export { sshdTarget as targetFor } from '../../support/sshd-target.js';
export { withTimeout };

const pools: SSHConnectionPool[] = [];

/** A pool closed when the test file ends (bounded, so a stuck close cannot hang the run). */
export function newPool(options: SSHConnectionPoolOptions = {}): SSHConnectionPool {
  const pool = new SSHConnectionPool(options);
  pools.push(pool);
  return pool;
}

afterAll(async () => {
  await Promise.all(pools.splice(0).map((pool) => withTimeout(pool.closeAll(), 10_000, 'closeAll()').catch(() => {})));
});

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export { until } from '../../support/until.js';

export interface RecordedEvent {
  readonly name: PoolEventName;
  readonly at: number;
  readonly args: unknown[];
}

const ALL_EVENTS: PoolEventName[] = [
  'connection:created',
  'connection:reused',
  'connection:failed',
  'connection:idle',
  'connection:closed',
  'connection:error',
  'connection:healthy',
  'connection:unhealthy',
  'connection:reconnecting',
  'connection:reconnected',
  'pool:full',
];

/** Records every event of `pool` with its arguments and time (performance.now()). */
export function recordEvents(pool: SSHConnectionPool) {
  const events: RecordedEvent[] = [];
  for (const name of ALL_EVENTS) {
    pool.on(name, ((...args: unknown[]) => events.push({ name, at: performance.now(), args })) as (...args: PoolEvents[typeof name]) => void);
  }
  return {
    events,
    named<E extends PoolEventName>(name: E): Array<{ at: number; args: PoolEvents[E] }> {
      return events.filter((event) => event.name === name).map((event) => ({ at: event.at, args: event.args as PoolEvents[E] }));
    },
    count(name: PoolEventName): number {
      return events.filter((event) => event.name === name).length;
    },
    closeReasons(): string[] {
      return events.filter((event) => event.name === 'connection:closed').map((event) => String(event.args[1]));
    },
  };
}

/** The error `promise` (a command, say) rejects with, or undefined when it resolves. */
export function failureOf(promise: PromiseLike<unknown>): Promise<Error | undefined> {
  return Promise.resolve(promise).then(
    () => undefined,
    (error: unknown) => error as Error,
  );
}

/** How a batch of commands ended: results, or errors by class name and code. */
export interface Settled<T> {
  readonly ok: T[];
  readonly errors: Error[];
}

export async function settleAll<T>(promises: Array<Promise<T>>): Promise<Settled<T>> {
  const outcomes = await Promise.allSettled(promises);
  return {
    ok: outcomes.filter((o): o is PromiseFulfilledResult<Awaited<T>> => o.status === 'fulfilled').map((o) => o.value as T),
    errors: outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as Error),
  };
}

/** `Name(code)` for each error, counted: `{ 'ConnectionLostError(ERR_SSHPOOL_CONNECTION_LOST)': 3 }`. */
export function errorKinds(errors: Error[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const error of errors) {
    const key = `${error?.constructor?.name ?? typeof error}(${(error as { code?: string })?.code ?? '-'})`;
    kinds[key] = (kinds[key] ?? 0) + 1;
  }
  return kinds;
}

/** Open TCP socket handles of this process (sshd runs elsewhere; the Docker client uses a unix socket). */
/**
 * TCP sockets this process holds open, read from /proc: idle pool sockets are unref'd, so
 * Node's own active-resource lists no longer show them.
 */
export function tcpSockets(): number {
  const inodes = new Set<string>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // Column 3 is the state: 0A is LISTEN, which no client socket is.
      if (fields.length > 9 && fields[3] !== '0A') inodes.add(fields[9]!);
    }
  }
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match && inodes.has(match[1]!)) count++;
    } catch {
      // Closed while listing.
    }
  }
  return count;
}

/** Every string reachable from an error (message, stack, cause chain, own string fields) or event argument. */
export function textOf(value: unknown, seen = new Set<unknown>()): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'object') return String(value);
  if (seen.has(value)) return '';
  seen.add(value);
  const parts: string[] = [];
  if (value instanceof Error) parts.push(value.name, value.message, value.stack ?? '', textOf(value.cause, seen));
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  for (const key of Object.keys(value)) parts.push(key, textOf((value as Record<string, unknown>)[key], seen));
  return parts.join('\n');
}

/** Asserts that none of `secrets` (or a 24-character slice of their middle) appears in `haystack`. */
export function expectNoSecrets(haystack: string, secrets: string[]): void {
  for (const secret of secrets) {
    expect(haystack).not.toContain(secret);
    const body = secret.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    if (body.length > 48) {
      const middle = body.slice(Math.floor(body.length / 2) - 12, Math.floor(body.length / 2) + 12);
      expect(haystack.replace(/\s+/g, '')).not.toContain(middle);
    }
  }
}

/** Samples `read()` every `everyMs` ms until stopped; keeps the maximum. */
export function sampleMax(read: () => number, everyMs = 5) {
  let max = read();
  const samples: number[] = [];
  const timer = setInterval(() => {
    const value = read();
    samples.push(value);
    if (value > max) max = value;
  }, everyMs);
  return {
    get max() {
      return max;
    },
    samples,
    stop(): number {
      clearInterval(timer);
      return max;
    },
  };
}

/** Runs `count` jobs with at most `concurrency` in flight; `job(i)` is started in index order. */
export async function runWithConcurrency<T>(count: number, concurrency: number, job: (index: number) => Promise<T>): Promise<Array<PromiseSettledResult<T>>> {
  const results = new Array<PromiseSettledResult<T>>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await job(index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}
