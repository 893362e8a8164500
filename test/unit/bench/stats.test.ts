import { describe, expect, it } from 'vitest';
import { percentile } from '../../../bench/compare/stats.js';

describe('benchmark percentiles', () => {
  it('use the nearest rank, so p99 of 100 samples is the 99th smallest', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
  });
});
