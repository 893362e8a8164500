import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/core/backoff.js';
import type { BackoffCurve } from '../../../src/core/backoff.js';

const curve = (backoff: BackoffCurve) => ({ initialDelay: 100, maxDelay: 1_000, backoff, jitter: false });

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
