import type { PoolEntry } from './pool-entry.js';

/**
 * The open connections of one pool key and the choice of which one lends the next slot
 * (HikariCP's ConcurrentBag, for channels): the least-loaded connection with room, so that
 * load spreads and surplus connections fall idle long enough to expire.
 */
export class OpenConnections {
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

  /**
   * The connection whose open SFTP channel a transfer can ride, the one with the fewest riders;
   * `minLimit`: only connections allowed at least that many sessions (a ride that passes waiting
   * work must leave it a session besides the SFTP channel's).
   */
  pickRide(minLimit = 1): PoolEntry | undefined {
    let best: PoolEntry | undefined;
    for (const entry of this.#entries) {
      if (!entry.sftpRideable || entry.channelLimit < minLimit) continue;
      if (!best || entry.sftpRiders < best.sftpRiders) best = entry;
    }
    return best;
  }

  /** The connection for `request`: a ride on an open SFTP channel for a transfer, else a free slot. */
  pickFor(request: { readonly ridesSftp?: boolean | undefined }): PoolEntry | undefined {
    return (request.ridesSftp ? this.pickRide() : undefined) ?? this.pick();
  }

  /**
   * The connection for a new tunnelled connection: the least loaded (sessions and tunnels) of
   * those that take new channels, with or without a free session slot.
   */
  pickForTunnel(): PoolEntry | undefined {
    let best: PoolEntry | undefined;
    for (const entry of this.#entries) {
      if (!entry.lendable) continue;
      if (!best || entry.openChannels + entry.tunnels < best.openChannels + best.tunnels) best = entry;
    }
    return best;
  }

  /** Connections that take new channels (open, not retiring). */
  usableCount(): number {
    let count = 0;
    for (const entry of this.#entries) if (entry.lendable) count++;
    return count;
  }

  /** Live counts of the connections, for stats: computed now, never kept. */
  counts(): { readonly active: number; readonly idle: number; readonly openChannels: number } {
    let active = 0;
    let idle = 0;
    let openChannels = 0;
    for (const entry of this.#entries) {
      if (!entry.connection.usable) continue;
      if (entry.busy || entry.retiring) active++;
      else idle++;
      openChannels += entry.openChannels;
    }
    return { active, idle, openChannels };
  }

  /** Channels the pool key could carry at once: learned limits, unopened connections at `perConnection`. */
  capacity(maxConnections: number, perConnection: number): number {
    let capacity = 0;
    let counted = 0;
    for (const entry of this.#entries) {
      if (!entry.lendable) continue;
      capacity += entry.channelLimit;
      counted++;
    }
    return capacity + Math.max(0, maxConnections - counted) * perConnection;
  }

  /** Spare session channels open and waiting for a command (see spare-channels.ts). */
  spareCount(): number {
    let count = 0;
    for (const entry of this.#entries) if (entry.connection.usable && entry.connection.spare === 'ready') count++;
    return count;
  }

  /** Connections closing but not closed yet: their close decides what replaces them (reconnect after an unexpected one). */
  closingCount(): number {
    let count = 0;
    for (const entry of this.#entries) if (!entry.connection.usable) count++;
    return count;
  }

  /** Whether any connection still carries a command or lease. */
  anyBusy(): boolean {
    for (const entry of this.#entries) if (entry.busy) return true;
    return false;
  }

  /** Usable connections that carry no command or lease and are not being probed. */
  idle(): PoolEntry[] {
    const idle: PoolEntry[] = [];
    for (const entry of this.#entries) if (entry.lendable && !entry.busy && !entry.probing) idle.push(entry);
    return idle;
  }
}
