import type { Clock } from '../core/clock.js';
import type { HostPoolEventStream } from './host-pool-events.js';
import type { PoolEntry } from './pool-entry.js';

/**
 * A spare the server closed sooner than this after it opened (a server timing out unused sessions)
 * is not replaced at once but after the connection's next command: a server that closes spares
 * straight away must not get a stream of opens.
 */
export const QUICK_SPARE_LOSS_MS = 1_000;

export interface SpareChannelsOptions {
  /** `poolConfig.spareChannels`. */
  readonly enabled: boolean;
  /** `poolConfig.maxLifetime`: a connection past it gets no new spare. */
  readonly maxLifetime: number;
  readonly clock: Clock;
  readonly events: HostPoolEventStream;
}

/**
 * Keeps one spare session channel on each connection with room for it, so that a warm command
 * sends only `exec` (ssh/spare-session.ts). A spare is asked for when a connection opens idle,
 * as soon as a command has asked for its channel (it may have taken the spare: the next one then
 * opens while the command runs, ready for a command sent right after), when a slot or probe
 * frees, and when the server closed the spare. Spares count against the channel limit learned from
 * refusals; a refused spare fails nothing and stops spares beside as many channels as were
 * established then (`PoolEntry.noteSpareRefusal`). The connection, not this part, holds the
 * spare: there is no second account of it.
 */
export class SpareChannels {
  readonly #options: SpareChannelsOptions;

  constructor(options: SpareChannelsOptions) {
    this.#options = options;
  }

  /** Asks `entry`'s connection for a spare if spares are on, it has none, and there is room. */
  replenish(entry: PoolEntry): void {
    const { enabled, maxLifetime, clock, events } = this.#options;
    const { connection } = entry;
    if (!enabled || connection.prepareSpare === undefined || !entry.roomForSpare) return;
    const now = clock.now();
    if (entry.expired(now, maxLifetime)) return;
    void connection.prepareSpare(() => {
      if (clock.now() - now >= QUICK_SPARE_LOSS_MS) this.replenish(entry);
    }).then((outcome) => {
      if (outcome !== 'refused') return;
      entry.noteSpareRefusal();
      events.emit({ type: 'channel-refused', connection });
    });
  }
}
