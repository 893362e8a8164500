import type { PoolConnection } from '../ssh/connection.js';

/**
 * The pool's bookkeeping for one open connection (HikariCP's PoolEntry): how many channel
 * slots it lends and may lend, since when it has been idle, and whether it still takes work.
 * Invariant: `openChannels <= channelLimit` except when a refusal has just lowered the limit;
 * `slotsInUse` may pass it by the transfers riding the SFTP channel, which open no channel.
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
  #tunnels = 0;
  /** 1 while the connection's SFTP channel is open or opening. */
  #sftpChannel = 0;
  /** Slots whose holders (transfers) ride the SFTP channel instead of a channel of their own. */
  #sftpRiders = 0;
  /** SFTP channels given up for waiting work and not closed by the server yet: they still take a session. */
  #sftpClosing = 0;
  #opening = 0;
  #lentBefore = false;
  /** Channels in use above which a spare was refused (see `noteSpareRefusal`). */
  #spareLimit = Number.POSITIVE_INFINITY;
  /** The most channels established beside which the server accepted a spare; -1 before any. */
  #spareFitBeside = -1;
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
  /** Channels open or opening, probes and the SFTP channel included. */
  get openChannels(): number {
    return this.#slotsInUse - this.#sftpRiders + this.#sftpChannel + this.#sftpClosing + this.#probes;
  }
  /**
   * Channels that carry work: all but an SFTP channel no transfer is using, which closes with
   * the connection and never keeps it from going idle, expiring or retiring.
   */
  get workingChannels(): number {
    return this.openChannels - this.#sftpClosing - (this.sftpIdle ? 1 : 0);
  }
  /**
   * A transfer may ride the SFTP channel here without a free slot: it is open (or opening) and
   * not being given up, and the connection takes work.
   */
  get sftpRideable(): boolean {
    return this.#sftpChannel === 1 && this.lendable;
  }
  /** Transfers riding the SFTP channel now. */
  get sftpRiders(): number {
    return this.#sftpRiders;
  }
  /** The SFTP channel is open (or opening) and no transfer uses it. */
  get sftpIdle(): boolean {
    return this.#sftpChannel === 1 && this.#sftpRiders === 0;
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
  /** Tunnelled connections it carries: channels that are not sessions, so outside `channelLimit`. */
  get tunnels(): number {
    return this.#tunnels;
  }
  /** Carries a command, lease or tunnelled connection: in use, never idle. */
  get busy(): boolean {
    return this.#slotsInUse > 0 || this.#tunnels > 0;
  }
  /** No working channel (an idle SFTP channel does not count) and no tunnel: a retiring or expired connection may close now. */
  get empty(): boolean {
    return this.workingChannels === 0 && this.#tunnels === 0;
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
    if (!this.busy) this.#idleSince = now;
  }

  /** A tunnelled connection starts on this connection (no session slot: OpenSSH's MaxSessions counts sessions only). */
  carryTunnel(): void {
    this.#tunnels++;
    this.#idleSince = undefined;
  }

  endTunnel(now: number): void {
    this.#tunnels = Math.max(0, this.#tunnels - 1);
    if (!this.busy) this.#idleSince = now;
  }

  /**
   * A transfer holding a slot here starts to ride the SFTP channel: its slot no longer stands
   * for a channel of its own. `opens`: this transfer's slot becomes the SFTP channel itself.
   */
  joinSftp(opens: boolean): void {
    if (opens) this.#sftpChannel = 1;
    this.#sftpRiders++;
  }

  /** A riding transfer is done with the SFTP channel; called just before its slot is released. */
  leaveSftp(): void {
    this.#sftpRiders = Math.max(0, this.#sftpRiders - 1);
  }

  /** The SFTP channel closed or failed to open. */
  sftpClosed(): void {
    this.#sftpChannel = 0;
  }

  /** The idle SFTP channel is being closed to free its session: it counts until `sftpYieldEnded`. */
  sftpYielded(): void {
    if (this.#sftpChannel === 0) return;
    this.#sftpChannel = 0;
    this.#sftpClosing++;
  }

  sftpYieldEnded(): void {
    this.#sftpClosing = Math.max(0, this.#sftpClosing - 1);
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
    this.#lowerLimitTo(this.establishedChannels - 1 + this.#openSpares());
  }

  /**
   * The server refused a spare session: no spare beside as many channels as are established now.
   * Only spares learn from it. Commands' channels keep their limit: a jump host with OpenSSH
   * `MaxSessions 0` refuses every session yet carries its forwarded channels, which take slots.
   */
  noteSpareRefusal(): void {
    const established = this.establishedChannels;
    // sshd lets a closed session go a moment after its close: a spare opened right after a
    // command's channel closed can be refused for it. Beside no more channels than a spare was
    // accepted beside before, a refusal is that moment, not a limit (learned as one, it stopped
    // spares on a MaxSessions 1 server for good after a few dozen commands).
    this.#spareLimit = Math.min(this.#spareLimit, Math.max(established, this.#spareFitBeside + 1));
  }

  /** The server accepted a spare asked for beside `beside` established channels. */
  noteSpareOpened(beside: number): void {
    this.#spareFitBeside = Math.max(this.#spareFitBeside, beside);
  }

  /** Channels in use whose open the server has confirmed. */
  get establishedChannels(): number {
    return Math.max(0, this.openChannels - this.#opening);
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
