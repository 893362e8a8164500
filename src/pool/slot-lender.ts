import type { PoolEntry } from './pool-entry.js';

/**
 * The open connections of one pool key and the choice of which one lends the next slot
 * (HikariCP's ConcurrentBag, for channels): the least-loaded connection with room, so that
 * load spreads and surplus connections fall idle long enough to expire.
 */
export class SlotLender {
  readonly #entries = new Set<PoolEntry>();

  add(entry: PoolEntry): void {
    this.#entries.add(entry);
  }

  delete(entry: PoolEntry): boolean {
    return this.#entries.delete(entry);
  }

  get size(): number {
    return this.#entries.size;
  }

  [Symbol.iterator](): IterableIterator<PoolEntry> {
    return this.#entries.values();
  }

  /** The least-loaded connection that can lend a slot now, if any. */
  pick(): PoolEntry | undefined {
    let best: PoolEntry | undefined;
    for (const entry of this.#entries) {
      if (entry.freeSlots === 0) continue;
      if (!best || entry.openChannels < best.openChannels) best = entry;
    }
    return best;
  }

  /** Connections that take new channels (open, not retiring). */
  usableCount(): number {
    let count = 0;
    for (const entry of this.#entries) if (entry.lendable) count++;
    return count;
  }

  /** Usable connections that carry no command or lease and are not being probed. */
  idle(): PoolEntry[] {
    const idle: PoolEntry[] = [];
    for (const entry of this.#entries) if (entry.lendable && !entry.busy && !entry.probing) idle.push(entry);
    return idle;
  }
}
