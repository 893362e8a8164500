// PendingAcquire and PendingAcquires: one waiting acquire (its timeout, cancel, hold and last
// cause) and the queue of them.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AcquireTimeoutError, ConnectError, ERROR_CODES } from '../../../src/core/errors.js';
import { PendingAcquire, PendingAcquires } from '../../../src/pool/pending-acquires.js';
import type { AcquireRequest } from '../../../src/pool/pending-acquires.js';
import { FakeClock } from '../../support/fake-clock.js';
import { FakeHold } from '../../support/fake-connections.js';

interface Waiter {
  readonly pending: PendingAcquire<string>;
  readonly name: string;
  readonly settled: Array<{ value?: string; error?: Error }>;
}

function setup() {
  const clock = new FakeClock();
  const hold = new FakeHold();
  const queue = new PendingAcquires<string>();
  const waiter = (name: string, request: Partial<AcquireRequest> = {}, front = false): Waiter => {
    const settled: Waiter['settled'] = [];
    const pending = new PendingAcquire<string>(
      { priority: 0, ...request }, front, clock.now(), hold,
      (value) => settled.push({ value }), (error) => settled.push({ error }),
    );
    return { pending, name, settled };
  };
  const enqueue = (name: string, request: Partial<AcquireRequest> = {}, front = false): Waiter => {
    const w = waiter(name, request, front);
    queue.add(w.pending);
    return w;
  };
  return { clock, hold, queue, waiter, enqueue };
}

const refused = new ConnectError('Cannot connect to u@fake:22: ECONNREFUSED', { poolName: 'u@fake:22', host: 'fake', port: 22 }, true);

describe('pending acquires', () => {
  it('serves higher priority first and arrival order within a priority', () => {
    const { queue, enqueue } = setup();
    const names = new Map<PendingAcquire<string>, string>();
    for (const [name, priority] of [['a', 0], ['high-1', 2], ['b', 0], ['high-2', 2], ['low', -1]] as const) {
      const w = enqueue(name, { priority });
      names.set(w.pending, name);
    }
    const served = Array.from({ length: queue.length }, () => names.get(queue.shift()!));
    expect(served).toEqual(['high-1', 'high-2', 'a', 'b', 'low']);
    expect(queue.shift()).toBeUndefined();
  });

  it('puts a retry (front) ahead of its own priority, never ahead of a higher one', () => {
    const { queue, enqueue } = setup();
    const first = enqueue('first');
    const high = enqueue('high', { priority: 1 });
    const retry = enqueue('retry', {}, true);
    expect(queue.drain()).toEqual([high.pending, retry.pending, first.pending]);
    expect(queue.length).toBe(0);
  });

  it('removes a waiter that gave up, and says so only once', () => {
    const { queue, enqueue } = setup();
    const a = enqueue('a');
    const b = enqueue('b');
    expect(queue.remove(a.pending)).toBe(true);
    expect(queue.remove(a.pending)).toBe(false);
    expect(queue.drain()).toEqual([b.pending]);
  });

  it('holds the process from the moment an acquire waits until it settles, once', () => {
    const { hold, waiter } = setup();
    const w = waiter('w');
    expect(hold.count).toBe(1);
    w.pending.resolve('slot');
    expect(hold.count).toBe(0);
    w.pending.reject(new Error('late'));
    w.pending.resolve('again');
    expect(hold.count).toBe(0);
    expect(w.settled).toEqual([{ value: 'slot' }]);
    expect(w.pending.settled).toBe(true);
  });

  it('fires its timeout after timeoutMs on the clock, not before', async () => {
    const { clock, waiter } = setup();
    const w = waiter('w');
    let timedOut = 0;
    w.pending.arm(clock, 1_000, () => timedOut++, () => {});
    await clock.advance(999);
    expect(timedOut).toBe(0);
    await clock.advance(1);
    expect(timedOut).toBe(1);
  });

  it('cancels its timer and forgets the caller\'s signal once settled', async () => {
    const { clock, waiter } = setup();
    const controller = new AbortController();
    const w = waiter('w', { cancel: controller.signal });
    let fired = 0;
    w.pending.arm(clock, 100, () => fired++, () => fired++);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    w.pending.resolve('slot');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
    controller.abort('aborted');
    await clock.advance(200);
    expect(fired).toBe(0);
  });

  it('runs its cancel handler when the caller gives up', () => {
    const { clock, waiter } = setup();
    const controller = new AbortController();
    const w = waiter('w', { cancel: controller.signal });
    let cancelled = 0;
    w.pending.arm(clock, 1_000, () => {}, () => cancelled++);
    controller.abort('aborted');
    expect(cancelled).toBe(1);
  });

  it('names the last connection error met meanwhile in its timeout error, as message and cause', () => {
    const { waiter } = setup();
    const w = waiter('w');
    w.pending.lastCause = refused;
    const error = w.pending.timeoutError('u@fake:22', 1_000);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error.code).toBe(ERROR_CODES.acquireTimeout);
    expect(error.message).toBe('No channel to u@fake:22 became free within 1000 ms; last connection error: Cannot connect to u@fake:22: ECONNREFUSED');
    expect(error.cause).toBe(refused);
    expect(error.timeoutMs).toBe(1_000);
  });

  it('says only that it timed out when no connection error was met', () => {
    const { waiter } = setup();
    const error = waiter('w').pending.timeoutError('u@fake:22', 250);
    expect(error.message).toBe('No channel to u@fake:22 became free within 250 ms');
    expect(error.cause).toBeUndefined();
  });

  it('records a connect error as the cause of every acquire waiting now, not of later ones', () => {
    const { queue, enqueue } = setup();
    const a = enqueue('a');
    const b = enqueue('b', { priority: 3 });
    queue.noteCause(refused);
    const c = enqueue('c');
    expect(a.pending.lastCause).toBe(refused);
    expect(b.pending.lastCause).toBe(refused);
    expect(c.pending.lastCause).toBeUndefined();
  });

  it('records the connect attempts each acquire waited on, at most 16 of them', () => {
    const { queue, enqueue } = setup();
    const early = enqueue('early');
    for (let id = 1; id <= 10; id++) queue.noteConnectAttempt(id);
    const late = enqueue('late');
    for (let id = 11; id <= 30; id++) queue.noteConnectAttempt(id);
    expect(early.pending.connectAttempts).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(late.pending.connectAttempts).toEqual(Array.from({ length: 16 }, (_, i) => i + 11));
  });
});
