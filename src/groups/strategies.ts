import type { HostGroupStrategy } from './types.js';

export const STRATEGIES: readonly HostGroupStrategy[] = ['round-robin', 'least-used', 'failover'];

/**
 * Picks the member for one command. `candidates` are the indexes (in host order, ascending)
 * of the members that may take it now; `loadOf` reads a member's live load and is only
 * called by strategies that need it. Returns undefined when there is no candidate.
 */
export interface HostSelector {
  readonly strategy: HostGroupStrategy;
  pick(candidates: readonly number[], loadOf: (index: number) => number): number | undefined;
}

/** The candidate at or after `cursor`, wrapping around: the round-robin turn. */
function nextTurn(candidates: readonly number[], cursor: number): number | undefined {
  return candidates.find((index) => index >= cursor) ?? candidates[0];
}

class RoundRobin implements HostSelector {
  readonly strategy = 'round-robin';
  #cursor = 0;

  pick(candidates: readonly number[]): number | undefined {
    const chosen = nextTurn(candidates, this.#cursor);
    if (chosen !== undefined) this.#cursor = chosen + 1;
    return chosen;
  }
}

class LeastUsed implements HostSelector {
  readonly strategy = 'least-used';
  #cursor = 0;

  pick(candidates: readonly number[], loadOf: (index: number) => number): number | undefined {
    let least = Infinity;
    let tied: number[] = [];
    for (const index of candidates) {
      const load = loadOf(index);
      if (load < least) {
        least = load;
        tied = [index];
      } else if (load === least) {
        tied.push(index);
      }
    }
    // Ties rotate: with every host idle, sequential commands still spread over the group.
    const chosen = nextTurn(tied, this.#cursor);
    if (chosen !== undefined) this.#cursor = chosen + 1;
    return chosen;
  }
}

class Failover implements HostSelector {
  readonly strategy = 'failover';

  pick(candidates: readonly number[]): number | undefined {
    return candidates[0];
  }
}

export function createSelector(strategy: HostGroupStrategy): HostSelector {
  switch (strategy) {
    case 'round-robin':
      return new RoundRobin();
    case 'least-used':
      return new LeastUsed();
    case 'failover':
      return new Failover();
  }
}
