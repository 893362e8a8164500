import type { Clock } from '../core/clock.js';
import { joinHeartbeat } from '../core/heartbeat.js';
import { SPARE_MAX_IDLE_MS } from '../ssh/spare-session.js';
import type { HostPoolEventStream } from './host-pool-events.js';
import type { PoolEntry } from './pool-entry.js';

export interface SpareChannelsOptions {
  /** `poolConfig.spareChannels`. */
  readonly enabled: boolean;
  /** `poolConfig.maxLifetime`: a connection past it gets no new spare. */
  readonly maxLifetime: number;
  readonly clock: Clock;
  readonly events: HostPoolEventStream;
  /** The pool key's open connections, whose stale spares the sweep closes. */
  readonly connections: Iterable<PoolEntry>;
}

/**
 * Keeps one spare session channel on each connection with room for it, so that a warm command
 * sends only `exec` (ssh/spare-session.ts). A spare is asked for when a connection opens idle,
 * as soon as a command has asked for its channel (it may have taken the spare: the next one then
 * opens while the command runs, ready for a command sent right after), and when a slot or probe
 * frees; one the server closed is not replaced before the next of these. Spares count against
 * the channel limit learned from refusals; a refused spare fails nothing and stops spares beside
 * as many channels as were established then (`PoolEntry.noteSpareRefusal`). A spare no command took within
 * `SPARE_MAX_IDLE_MS` is closed by a sweep (`tick`). The connection, not this part, holds the
 * spare: there is no second account of it.
 */
export class SpareChannels {
  readonly #options: SpareChannelsOptions;
  /**
   * Leaves the shared heartbeat that closes spares once they are too old to be used. Joined
   * while any connection of the pool key may hold a spare, left at the first beat that finds
   * none: an idle pool key then keeps neither a spare nor a place on the timer.
   */
  #leaveSweep: (() => void) | undefined;

  constructor(options: SpareChannelsOptions) {
    this.#options = options;
  }

  /** Asks `entry`'s connection for a spare if spares are on, it has none, and there is room. */
  replenish(entry: PoolEntry): void {
    const { enabled, maxLifetime, clock, events } = this.#options;
    const { connection } = entry;
    if (!enabled || connection.prepareSpare === undefined || !entry.roomForSpare) return;
    if (entry.expired(clock.now(), maxLifetime)) return;
    this.#leaveSweep ??= joinHeartbeat(clock, SPARE_MAX_IDLE_MS, this);
    // Counted as the open leaves: a command may claim the spare before it is answered.
    const beside = entry.establishedChannels;
    void connection.prepareSpare().then((outcome) => {
      if (outcome === 'ready') entry.noteSpareOpened(beside);
      if (outcome !== 'refused') return;
      entry.noteSpareRefusal();
      events.emit({ type: 'channel-refused', connection });
    });
  }

  /**
   * The sweep, once per `SPARE_MAX_IDLE_MS`: closes every spare that has waited that long, so an
   * idle connection holds no spare from one to two seconds after its last command on. No new
   * spare is asked for: the next command asks for one as it takes its channel.
   */
  tick(): void {
    let held = false;
    for (const entry of this.#options.connections) {
      if (entry.connection.closeStaleSpare?.() !== undefined) held = true;
    }
    if (!held) this.stop();
  }

  /** Leaves the sweep (the pool closes; or no spare is held). */
  stop(): void {
    this.#leaveSweep?.();
    this.#leaveSweep = undefined;
  }
}
