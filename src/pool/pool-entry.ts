import type { PoolConnection } from '../ssh/connection.js';

/**
 * The pool's bookkeeping for one open connection (HikariCP's PoolEntry): how many channel
 * slots it lends and may lend, since when it has been idle, and whether it still takes work.
 * Invariant: `slotsInUse <= channelLimit` except when a refusal has just lowered the limit.
 * A spare session (`connection.spare`) is opened only with room beside the channels in use and
 * is claimed by the next channel opened, so channels on the server stay within the limit too.
 */
export class PoolEntry {
  readonly connection: PoolConnection;
  /** Clock time the connection became ready. */
  readonly openedAt: number;
  #channelLimit: number;
  #slotsInUse = 0;
  #probes = 0;
  #opening = 0;
  #lentBefore = false;
  /** Channels in use above which a spare was refused (see `noteSpareRefusal`). */
  #spareLimit = Number.POSITIVE_INFINITY;
  #idleSince: number | undefined;
  #retiring = false;
  #idleWhenClosed: number | undefined;

  constructor(connection: PoolConnection, channelLimit: number, now: number) {
    this.connection = connection;
    this.openedAt = now;
    this.#channelLimit = channelLimit;
    this.#idleSince = now;
  }

  get id(): number {
    return this.connection.id;
  }
  get channelLimit(): number {
    return this.#channelLimit;
  }
  /** Slots held by commands and leases (probes excluded). */
  get slotsInUse(): number {
    return this.#slotsInUse;
  }
  /** Channels open or opening, probes included. */
  get openChannels(): number {
    return this.#slotsInUse + this.#probes;
  }
  get probing(): boolean {
    return this.#probes > 0;
  }
  /** Since when no command or lease has held a slot; undefined while one does. */
  get idleSince(): number | undefined {
    return this.#idleSince;
  }
  /** Retired: takes no new channels, closes once the ones it carries end. */
  get retiring(): boolean {
    return this.#retiring;
  }
  /** Open, not retiring: may lend a slot when it has room. */
  get lendable(): boolean {
    return !this.#retiring && this.connection.usable;
  }
  get freeSlots(): number {
    return this.lendable ? Math.max(0, this.#channelLimit - this.openChannels) : 0;
  }
  get busy(): boolean {
    return this.#slotsInUse > 0;
  }

  /** Takes a slot. Returns whether this is the connection's first lend ever. */
  lend(): boolean {
    const first = !this.#lentBefore;
    this.#lentBefore = true;
    this.#slotsInUse++;
    this.#idleSince = undefined;
    return first;
  }

  release(now: number): void {
    this.#slotsInUse = Math.max(0, this.#slotsInUse - 1);
    if (this.#slotsInUse === 0) this.#idleSince = now;
  }

  /** A probe takes a channel but is not use: `idleSince` stays, so idle expiry still runs. */
  startProbe(): void {
    this.#probes++;
  }

  endProbe(): void {
    this.#probes = Math.max(0, this.#probes - 1);
  }

  /** Brackets a channel open sent to the server and not yet answered. */
  openingStarted(): void {
    this.#opening++;
  }
  openingEnded(): void {
    this.#opening = Math.max(0, this.#opening - 1);
  }

  /**
   * The server refused a channel: never offer more than it has accepted at once. The channels
   * established right now are what it allows: neither the refused one nor others still
   * awaiting an answer count; an open spare session does.
   */
  noteRefusal(): void {
    this.#lowerLimitTo(this.openChannels - this.#opening - 1 + this.#openSpares());
  }

  /**
   * The server refused a spare session: no spare beside as many channels as are established now.
   * Only spares learn from it. Commands' channels keep their limit: a jump host with OpenSSH
   * `MaxSessions 0` refuses every session yet carries its forwarded channels, which take slots.
   */
  noteSpareRefusal(): void {
    this.#spareLimit = Math.min(this.#spareLimit, Math.max(0, this.openChannels - this.#opening));
  }

  /** Whether a spare session fits beside the channels in use without passing the limits learned so far. */
  get roomForSpare(): boolean {
    return this.lendable && this.connection.spare === undefined && this.openChannels < Math.min(this.#channelLimit, this.#spareLimit);
  }

  #openSpares(): number {
    return this.connection.spare === 'ready' ? 1 : 0;
  }

  #lowerLimitTo(established: number): void {
    this.#channelLimit = Math.max(1, Math.min(this.#channelLimit, established));
  }

  retire(): void {
    this.#retiring = true;
  }

  /** Whether the connection has outlived `maxLifetime` (0: never). */
  expired(now: number, maxLifetime: number): boolean {
    return maxLifetime > 0 && now - this.openedAt >= maxLifetime;
  }

  /** Closes the idle connection; with reason `idle`, records how long it sat idle for the close event. */
  closeIdle(reason: 'idle' | 'expired', now: number): void {
    if (reason === 'idle') this.#idleWhenClosed = now - (this.#idleSince ?? now);
    this.connection.close(reason);
  }

  /** How long it had been idle when closed for idleness; undefined for any other close. */
  get idleWhenClosed(): number | undefined {
    return this.#idleWhenClosed;
  }
}
