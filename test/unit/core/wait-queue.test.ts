// The wait queue's serving order: priority first, FIFO within a priority, and aging so that
// a stream of high-priority work delays low-priority work by a bounded amount, never forever.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_OVERTAKES, nextSequence, WaitQueue } from '../../../src/core/wait-queue.js';
import type { WaitQueueOptions } from '../../../src/core/wait-queue.js';

interface Entry {
  readonly name: string;
  readonly priority: number;
  readonly seq: number;
}

function queueOf(options?: WaitQueueOptions) {
  const queue = new WaitQueue<Entry>(options);
  const add = (name: string, priority = 0, front = false): Entry => {
    const entry = { name, priority, seq: nextSequence(front) };
    queue.add(entry);
    return entry;
  };
  const served = (count = queue.length): string[] => Array.from({ length: count }, () => queue.shift()!.name);
  return { queue, add, served };
}

describe('wait queue order', () => {
  it('serves higher priority first and arrival order within a priority', () => {
    const { add, served } = queueOf();
    add('low-1', -1);
    add('a', 0);
    add('high-1', 5);
    add('b', 0);
    add('high-2', 5);
    expect(served()).toEqual(['high-1', 'high-2', 'a', 'b', 'low-1']);
  });

  it('puts a front entry (a retried command) ahead of its own priority only', () => {
    const { add, served } = queueOf();
    add('a', 0);
    add('high', 1);
    add('retry', 0, true);
    expect(served()).toEqual(['high', 'retry', 'a']);
  });

  it('removes a waiter that gave up, wherever it is', () => {
    const { queue, add, served } = queueOf({ maxOvertakes: 1 });
    const low = add('low', 0);
    const middle = add('middle', 1);
    add('high', 2);
    expect(served(1)).toEqual(['high']); // low and middle are now aged
    expect(queue.remove(low)).toBe(true);
    expect(queue.remove(low)).toBe(false);
    expect(queue.remove(middle)).toBe(true);
    expect(queue.length).toBe(0);
    expect(queue.shift()).toBeUndefined();
  });

  it('drains in serving order, aged entries first', () => {
    const { queue, add, served } = queueOf({ maxOvertakes: 1 });
    add('low', 0);
    add('high-1', 9);
    add('high-2', 9);
    expect(served(1)).toEqual(['high-1']);
    expect(queue.drain().map((entry) => entry.name)).toEqual(['low', 'high-2']);
    expect(queue.length).toBe(0);
  });

  it('regression: items() left out aged entries, so a waiter that had aged never got the cause of its timeout; it lists them first, as shift() serves them', () => {
    const { queue, add, served } = queueOf({ maxOvertakes: 1 });
    add('low', 0);
    add('high-1', 9);
    add('high-2', 9);
    expect(served(1)).toEqual(['high-1']);
    expect(queue.items().map((entry) => entry.name)).toEqual(['low', 'high-2']);
    expect(queue.peek()?.name).toBe('low');
    expect(served()).toEqual(['low', 'high-2']);
  });

  it('peeks at what shift() would serve, leaving it queued', () => {
    const { queue, add } = queueOf();
    expect(queue.peek()).toBeUndefined();
    add('a', 0);
    add('high', 3);
    expect(queue.peek()?.name).toBe('high');
    expect(queue.length).toBe(2);
  });

  it('rejects a negative aging bound', () => {
    expect(() => new WaitQueue({ maxOvertakes: -1 })).toThrow(RangeError);
  });
});

describe('wait queue aging', () => {
  it('serves a low-priority waiter after at most maxOvertakes later high-priority arrivals', () => {
    const { add, served } = queueOf({ maxOvertakes: 3 });
    add('low', 0);
    // A saturated pool where high-priority work keeps arriving as fast as it is served.
    const order: string[] = [];
    for (let i = 0; i < 10; i++) {
      add(`high-${i}`, 10);
      order.push(...served(1));
    }
    expect(order.indexOf('low')).toBe(3);
    expect(order.slice(0, 3)).toEqual(['high-0', 'high-1', 'high-2']);
  });

  it('never starves low priority under the default bound', () => {
    const { add, served } = queueOf();
    add('low', -100);
    const order: string[] = [];
    for (let i = 0; i < 1_000 && !order.includes('low'); i++) {
      add(`high-${i}`, 100);
      order.push(...served(1));
    }
    expect(order.indexOf('low')).toBe(DEFAULT_MAX_OVERTAKES);
  });

  it('keeps FIFO among aged entries and within every priority', () => {
    const { add, served } = queueOf({ maxOvertakes: 2 });
    add('a-low', 0);
    add('b-mid', 1);
    add('c-low', 0);
    add('d-top', 5);
    add('e-top', 5);
    // d and e overtake all three; after two overtakes all three are aged, served oldest first.
    expect(served()).toEqual(['d-top', 'e-top', 'a-low', 'b-mid', 'c-low']);
  });

  it('with aging off (maxOvertakes 0) serves strictly by priority', () => {
    const { add, served } = queueOf({ maxOvertakes: 0 });
    add('low', 0);
    const order: string[] = [];
    for (let i = 0; i < 100; i++) {
      add(`high-${i}`, 1);
      order.push(...served(1));
    }
    expect(order).not.toContain('low');
    expect(served()).toEqual(['low']);
  });

  it('holds both guarantees on random workloads: FIFO within a priority, overtakes bounded', () => {
    const bound = 4;
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const { queue, add } = queueOf({ maxOvertakes: bound });
    const waiting = new Map<Entry, number>(); // entry → later arrivals served before it
    const lastServedSeqByPriority = new Map<number, number>();
    let fifoBroken = 0;
    let mostOvertakes = 0;
    for (let step = 0; step < 5_000; step++) {
      if (random() < 0.55) {
        waiting.set(add(`e${step}`, Math.floor(random() * 4)), 0);
        continue;
      }
      const next = queue.shift();
      if (!next) continue;
      waiting.delete(next);
      for (const [entry, count] of waiting) if (entry.seq < next.seq) waiting.set(entry, count + 1);
      const previous = lastServedSeqByPriority.get(next.priority);
      if (previous !== undefined && next.seq < previous) fifoBroken++;
      lastServedSeqByPriority.set(next.priority, next.seq);
      // Once aged, an entry is only ever preceded by older aged ones: no later arrival passes it.
      for (const count of waiting.values()) mostOvertakes = Math.max(mostOvertakes, count);
    }
    expect(fifoBroken).toBe(0);
    expect(mostOvertakes).toBe(bound);
    expect(queue.length).toBe(waiting.size);
  });
});
