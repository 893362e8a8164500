import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/core/backoff.js';
import { ConnectionBudget } from '../../../src/pool/connection-budget.js';
import { DEFAULT_POOL_CONFIG } from '../../../src/index.js';
import { Semaphore } from '../../../src/core/semaphore.js';
import { nextSequence, WaitQueue } from '../../../src/core/wait-queue.js';

const curve = (backoff: 'exponential' | 'linear' | 'fixed') => ({ ...DEFAULT_POOL_CONFIG.reconnect, initialDelay: 100, maxDelay: 1_000, backoff, jitter: false });

describe('backoff', () => {
  it('grows exponentially, linearly or not at all, and never past maxDelay', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, curve('exponential')))).toEqual([100, 200, 400, 800, 1_000]);
    expect([1, 2, 3].map((n) => backoffDelay(n, curve('linear')))).toEqual([100, 200, 300]);
    expect([1, 2, 3].map((n) => backoffDelay(n, curve('fixed')))).toEqual([100, 100, 100]);
  });

  it('spreads delays by at most ±20% with jitter', () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(3, { ...curve('exponential'), jitter: true });
      expect(delay).toBeGreaterThanOrEqual(320);
      expect(delay).toBeLessThanOrEqual(480);
    }
  });
});

describe('semaphore', () => {
  it('serves waiters in arrival order once permits come back', async () => {
    const gate = new Semaphore(1);
    await gate.acquire();
    const order: number[] = [];
    const first = gate.acquire().then(() => order.push(1));
    const second = gate.acquire().then(() => order.push(2));
    gate.release();
    await first;
    gate.release();
    await second;
    expect(order).toEqual([1, 2]);
  });
});

describe('connection budget', () => {
  const member = (idle: number) => ({ idle, closed: 0, closeOneIdleConnection(): boolean {
    if (this.idle === 0) return false;
    this.idle--;
    this.closed++;
    return true;
  } });

  it('grants permits up to the cap, then asks another member to give up an idle connection', async () => {
    const budget = new ConnectionBudget(1);
    const a = member(1);
    const b = member(0);
    budget.join(a);
    budget.join(b);
    expect(await budget.acquire(a)).toBe(true);
    const waiting = budget.acquire(b);
    expect(a.closed).toBe(1);
    budget.release(); // the idle connection of `a` closed: its permit goes to `b`
    expect(await waiting).toBe(true);
    expect(budget.used).toBe(1);
  });

  it('never evicts from the requester itself, and is unlimited at 0', async () => {
    const budget = new ConnectionBudget(1);
    const a = member(3);
    budget.join(a);
    await budget.acquire(a);
    void budget.acquire(a);
    expect(a.closed).toBe(0);
    const unlimited = new ConnectionBudget(0);
    for (let i = 0; i < 100; i++) expect(await unlimited.acquire(a)).toBe(true);
  });

  it('resolves the pending requests of a member that leaves with false', async () => {
    const budget = new ConnectionBudget(1);
    const a = member(0);
    const b = member(0);
    budget.join(a);
    budget.join(b);
    await budget.acquire(a);
    const pending = budget.acquire(b);
    budget.leave(b);
    expect(await pending).toBe(false);
  });
});

describe('wait queue', () => {
  it('serves higher priority first, arrival order within a priority, and front entries ahead of their priority', () => {
    const queue = new WaitQueue<{ priority: number; seq: number; name: string }>();
    const add = (name: string, priority: number, front = false) => queue.add({ name, priority, seq: nextSequence(front) });
    add('a', 0);
    add('b', 5);
    add('c', 0);
    add('d', 5);
    add('retry', 0, true);
    expect(queue.drain().map((item) => item.name)).toEqual(['b', 'd', 'retry', 'a', 'c']);
  });
});
