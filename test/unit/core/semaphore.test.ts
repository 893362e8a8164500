import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../../src/core/semaphore.js';

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
