import { describe, expect, it } from 'vitest';
import { createSelector } from '../../../src/groups/strategies.js';

function picks(strategy: Parameters<typeof createSelector>[0], rounds: number, candidates = [0, 1, 2], load: (i: number) => number = () => 0): number[] {
  const selector = createSelector(strategy);
  return Array.from({ length: rounds }, () => selector.pick(candidates, load)!);
}

describe('host selection', () => {
  it('round-robin takes each host in turn', () => {
    expect(picks('round-robin', 7)).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it('round-robin skips hosts that are down and keeps its turn order when they return', () => {
    const selector = createSelector('round-robin');
    expect(selector.pick([0, 1, 2], () => 0)).toBe(0);
    expect(selector.pick([0, 2], () => 0)).toBe(2); // host 1 is down: its turn goes to the next
    expect(selector.pick([0, 2], () => 0)).toBe(0);
    expect(selector.pick([0, 1, 2], () => 0)).toBe(1);
  });

  it('least-used takes the host with the fewest running and waiting commands', () => {
    const loads = [4, 1, 3];
    expect(picks('least-used', 3, [0, 1, 2], (i) => loads[i]!)).toEqual([1, 1, 1]);
  });

  it('least-used spreads over tied hosts instead of piling on the first', () => {
    expect(picks('least-used', 6)).toEqual([0, 1, 2, 0, 1, 2]);
    const loads = [0, 5, 0];
    expect(picks('least-used', 4, [0, 1, 2], (i) => loads[i]!)).toEqual([0, 2, 0, 2]);
  });

  it('failover always takes the first host that is up, primary first', () => {
    expect(picks('failover', 3)).toEqual([0, 0, 0]);
    expect(picks('failover', 2, [1, 2])).toEqual([1, 1]);
  });

  it('returns nothing when no host is a candidate', () => {
    for (const strategy of ['round-robin', 'least-used', 'failover'] as const) expect(createSelector(strategy).pick([], () => 0)).toBeUndefined();
  });
});
