import type { CancelSignal } from '../core/cancel-source.js';
import { sleep } from '../core/clock.js';
import { ChannelRefusedError } from '../core/errors.js';
import { promiseOf } from '../core/promise-of.js';
import { AcquireCancelled } from '../command/error-mapping.js';
import type { CancelReason } from '../command/channel-contract.js';
import { ChannelOpenRefusal, ConnectionUnusable } from '../ssh/connection.js';
import { SftpRequestError, SftpSubsystemUnavailable } from '../ssh/sftp-session.js';
import type { SftpSession } from '../ssh/sftp-session.js';
import { MAX_CHANNEL_ATTEMPTS } from './channel-session.js';
import type { SessionRequest, SlotSource } from './channel-session.js';
import type { PoolEntry } from './pool-entry.js';
import type { Slot } from './slot.js';

/** Most remote files kept for removal per host (`removeLater`). */
const MAX_LEFT_BEHIND = 1_000;

/** A transfer's work on the connection's SFTP channel, and the slot it held. */
export interface SftpOutcome<T> {
  readonly value: T;
  readonly slot: Slot;
}

/** Raised when the connection went away twice while a transfer waited for its SFTP channel. */
export class SftpConnectionLost extends Error {
  override readonly name = 'SftpConnectionLost';
}

/**
 * The SFTP channels of one host pool: at most one per connection, opened by the first transfer
 * that needs it, shared by every later transfer on that connection, and closed with the
 * connection (idle expiry, lifetime, close). The channel is a session channel to the server, so
 * it takes one of the connection's slots from its open to its close (`PoolEntry.joinSftp`);
 * a transfer holds a slot like a command does (priority, `acquireTimeout`, the same queue) but
 * rides the shared channel instead of opening its own. Where that channel is open, a transfer
 * rides it without a free slot (`AcquireRequest.ridesSftp`), since it takes no session. An SFTP
 * channel no transfer uses gives its slot back to waiting work (`yieldIdle`) instead of
 * starving it.
 */
export class SftpChannels {
  readonly #source: SlotSource;
  /** Told when a channel closed by itself: its slot is free for waiters. */
  readonly #roomMade: (entry: PoolEntry) => void;
  readonly #sessions = new Map<PoolEntry, Promise<SftpSession>>();
  /** Channels closed to free their session: no transfer joins them. */
  readonly #yielded = new WeakSet<SftpSession>();
  /** Remote files to remove on the next channel to the host (see `removeLater`). */
  readonly #leftBehind = new Set<string>();

  /** Told when a channel starts to open: transfers waiting for a slot may ride it now. */
  readonly #rideOpened: () => void;

  constructor(source: SlotSource, roomMade: (entry: PoolEntry) => void, rideOpened: () => void = () => {}) {
    this.#source = source;
    this.#roomMade = roomMade;
    this.#rideOpened = rideOpened;
  }

  /**
   * Runs `work` on the SFTP channel of a connection, holding a slot on it meanwhile. A refused
   * channel lowers the connection's limit and retries at the head of the queue, as a command's
   * does. Rejects with `SftpSubsystemUnavailable` when the server has no SFTP subsystem,
   * `ChannelRefusedError` when it keeps refusing, `SftpConnectionLost` when connections keep
   * dying under the open; whatever `work` throws, as thrown.
   */
  async run<T>(request: SessionRequest, work: (session: SftpSession, slot: Slot) => Promise<T>): Promise<SftpOutcome<T>> {
    let lost = 0;
    let lastFailure: Error | undefined;
    const ride: SessionRequest = { ...request, ridesSftp: true };
    for (let attempt = 1; attempt <= MAX_CHANNEL_ATTEMPTS; attempt++) {
      const slot = await this.#source.acquire(ride, attempt > 1);
      const { entry } = slot;
      let session: SftpSession;
      try {
        session = await untilCancelled(slot.ridesSftp ? this.#joined(entry) : this.#sessionOn(entry, request), request.cancel);
        // Closed or ended a moment ago (the server's sftp-server ended, a stopped transfer ended it).
        if (session.isEnded) throw new ConnectionUnusable('the SFTP channel closed');
      } catch (error) {
        entry.leaveSftp();
        this.#source.releaseSlot(slot);
        if (error instanceof SftpSubsystemUnavailable || request.cancel.aborted) throw error;
        lastFailure = error as Error;
        if (error instanceof ChannelOpenRefusal) {
          await sleep(this.#source.clock, Math.min(500, 5 * 2 ** attempt));
          continue;
        }
        if (++lost >= 2) throw new SftpConnectionLost((error as Error).message, { cause: error });
        continue;
      }
      if (this.#leftBehind.size > 0) this.#removeLeftBehind(session);
      try {
        return { value: await work(session, slot), slot };
      } finally {
        entry.leaveSftp();
        this.#source.releaseSlot(slot);
      }
    }
    throw new ChannelRefusedError(
      `The server ${this.#source.name} refused an SFTP channel ${MAX_CHANNEL_ATTEMPTS} times in a row`,
      this.#source.name,
      lastFailure ? { cause: lastFailure } : undefined,
    );
  }

  /** Closes SFTP channels no transfer uses on connections with no free slot: waiting work needs the slot. */
  yieldIdle(entries: Iterable<PoolEntry>): void {
    for (const entry of entries) {
      if (!entry.sftpIdle || entry.freeSlots > 0 || !entry.lendable) continue;
      const session = this.#sessions.get(entry);
      if (!session) continue;
      // Out of the map at once: a transfer arriving meanwhile opens a new channel instead of
      // joining one about to close.
      this.#retire(entry);
      void session.then((open) => {
        this.#yielded.add(open);
        if (open.isClosed) this.#closedAfterYield(entry);
        else open.end();
      }, () => entry.sftpYieldEnded());
    }
  }

  /**
   * Removes `path` on the server with the next transfer to this host: a file a transfer could
   * not remove itself because its channel was lost (an atomic upload's temporary file).
   * Bounded, so that a host that stays unreachable cannot grow the list without end.
   */
  removeLater(path: string): void {
    if (this.#leftBehind.size < MAX_LEFT_BEHIND) this.#leftBehind.add(path);
  }

  /**
   * Sent ahead of the transfer's own requests, not awaited: sftp-server answers in order, so
   * they are done by the time the transfer hears back. A path the server cannot remove for a
   * reason other than the channel (gone already, no permission) is not tried again.
   */
  #removeLeftBehind(session: SftpSession): void {
    for (const path of this.#leftBehind) {
      this.#leftBehind.delete(path);
      session.unlink(path).catch((error: unknown) => {
        if (error instanceof SftpRequestError && error.status === undefined) this.removeLater(path);
      });
    }
  }

  /** The connection closed: its channel went with it. */
  forget(entry: PoolEntry): void {
    this.#sessions.delete(entry);
  }

  /** Takes the connection's channel out of use: no transfer joins it, and it holds its session until the server closes it. */
  #retire(entry: PoolEntry): void {
    this.#sessions.delete(entry);
    entry.sftpYielded();
  }

  #closedAfterYield(entry: PoolEntry): void {
    entry.sftpYieldEnded();
    this.#roomMade(entry);
  }

  /** Joins the connection's SFTP channel, opening it when there is none. The caller leaves it. */
  #sessionOn(entry: PoolEntry, request: SessionRequest): Promise<SftpSession> {
    const existing = this.#sessions.get(entry);
    if (existing) {
      entry.joinSftp(false);
      return existing;
    }
    entry.joinSftp(true);
    const opening = this.#open(entry, request);
    this.#sessions.set(entry, opening);
    this.#rideOpened();
    return opening;
  }

  /** The channel a slot lent as a ride already joined; gone when it closed in between. The caller leaves it. */
  #joined(entry: PoolEntry): Promise<SftpSession> {
    return this.#sessions.get(entry) ?? Promise.reject(new ConnectionUnusable('the SFTP channel closed'));
  }

  #open(entry: PoolEntry, request: SessionRequest): Promise<SftpSession> {
    const { clock, events } = this.#source;
    const { connection } = entry;
    entry.openingStarted();
    const startedAt = clock.now();
    const open = connection.openSftp
      ? promiseOf(() => connection.openSftp!())
      : Promise.reject(new SftpSubsystemUnavailable('this connection cannot carry SFTP'));
    const opened: Promise<SftpSession> = open.then((session) => {
      entry.openingEnded();
      events.emit({ type: 'channel-opened', connection, parent: request.trace, openMs: clock.now() - startedAt, atEpoch: clock.epochNow(), prepared: false });
      // Ended by a stopped transfer: no later transfer may join it. It holds its session until
      // the server's close, as a yielded channel does, and a new channel may open meanwhile.
      session.onEnded(() => {
        if (this.#sessions.get(entry) !== opened || this.#yielded.has(session)) return;
        this.#retire(entry);
        this.#yielded.add(session);
      });
      void session.closed.then(() => {
        if (this.#yielded.has(session)) {
          this.#closedAfterYield(entry);
          return;
        }
        if (this.#sessions.get(entry) !== opened) return;
        this.#sessions.delete(entry);
        entry.sftpClosed();
        this.#roomMade(entry);
      });
      return session;
    }, (error: unknown) => {
      entry.openingEnded();
      if (error instanceof ChannelOpenRefusal && connection.usable) {
        entry.noteRefusal();
        events.emit({ type: 'channel-refused', connection });
      }
      entry.sftpClosed();
      // A server without the subsystem stays without it: later transfers on this connection
      // fail at once instead of opening a channel each.
      if (!(error instanceof SftpSubsystemUnavailable)) this.#sessions.delete(entry);
      throw connection.usable || error instanceof SftpSubsystemUnavailable ? error : new ConnectionUnusable((error as Error).message);
    });
    return opened;
  }
}

/**
 * `opening`, or a rejection as soon as the transfer is given up: an SFTP open the server does
 * not answer must not hold it. The open goes on and counts as the connection's SFTP channel.
 */
function untilCancelled<T>(opening: Promise<T>, cancel: CancelSignal): Promise<T> {
  if (cancel.aborted) {
    opening.catch(() => {});
    return Promise.reject(new AcquireCancelled(cancel.reason as CancelReason));
  }
  return new Promise<T>((resolve, reject) => {
    const onCancel = (): void => reject(new AcquireCancelled(cancel.reason as CancelReason));
    cancel.addEventListener('abort', onCancel, { once: true });
    opening.then(resolve, reject).finally(() => cancel.removeEventListener('abort', onCancel));
  });
}
