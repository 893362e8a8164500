import type { CancelReason } from '../command/channel-contract.js';
import { AcquireCancelled, errorTypeOf } from '../command/error-mapping.js';
import type { Clock } from '../core/clock.js';
import { AcquireTimeoutError, ERROR_CODES, PoolClosedError } from '../core/errors.js';
import type { ProcessHold } from '../core/process-hold.js';
import type { GrowthPolicy } from './growth-policy.js';
import type { HostPoolEventStream, TraceParent } from './host-pool-events.js';
import { PendingAcquire } from './pending-acquires.js';
import type { AcquireRequest, PendingAcquires } from './pending-acquires.js';
import type { PoolDrain } from './pool-drain.js';
import type { PoolEntry } from './pool-entry.js';
import type { OpenConnections } from './open-connections.js';
import type { Slot } from './slot.js';

const NO_ATTEMPTS: readonly number[] = Object.freeze([]);

/** Slots given back, of every host pool: one set for the process, not one per pool key (a slot is lent once). */
const releasedSlots = new WeakSet<Slot>();

export interface SlotLendingOptions {
  readonly name: string;
  readonly acquireTimeout: number;
  readonly clock: Clock;
  readonly hold: ProcessHold;
  readonly events: HostPoolEventStream;
  readonly connections: OpenConnections;
  readonly pending: PendingAcquires<Slot>;
  /** Told when waiters were added (they may need more connections) and when the queue emptied. */
  readonly growth: Pick<GrowthPolicy, 'grow' | 'queueEmptied'>;
  /** Told when an acquire left the queue without a slot (timeout, cancel): a close may be drained now. */
  readonly drain: Pick<PoolDrain, 'changed'>;
}

/**
 * Lends channel slots (HikariCP's ConcurrentBag borrow and requite, over tarn.js's pending
 * operations): a slot at once on the least-loaded connection with room, else a place in the
 * queue until a slot frees, the acquire times out (naming the last connect error) or its
 * caller gives up. Reports each lend and each failed acquire on the event stream.
 * Invariant: a new acquire never takes what a waiting one waits for; a retry (`front`) may.
 * A transfer may pass waiters of its priority or lower by riding an open SFTP channel, which
 * takes no session from them, on a connection that leaves them a session of their own.
 */
export class SlotLending {
  readonly #options: SlotLendingOptions;
  #lastConnectError: Error | undefined;

  constructor(options: SlotLendingOptions) {
    this.#options = options;
  }

  /** A connect failed: the cause every waiter's timeout names, until a connection opens. */
  connectFailed(error: Error): void {
    this.#lastConnectError = error;
    this.#options.pending.noteCause(error);
  }

  connectionOpened(): void {
    this.#lastConnectError = undefined;
  }

  acquire(request: AcquireRequest, front: boolean, closed: boolean): Promise<Slot> {
    const { clock, connections, pending: queue, name, acquireTimeout } = this.#options;
    const startedAtEpoch = clock.epochNow();
    if (closed) {
      this.#failed(request.trace, startedAtEpoch, 'error', 0, ERROR_CODES.poolClosed, NO_ATTEMPTS);
      return Promise.reject(new PoolClosedError(`The pool for ${name} is closed`));
    }
    if (request.cancel?.aborted) return Promise.reject(new AcquireCancelled(request.cancel.reason as CancelReason));
    const entry = queue.length === 0 || front ? connections.pickFor(request) : this.#rideBesideWaiters(request);
    if (entry) return Promise.resolve(this.#grant(entry, request, 0, startedAtEpoch, NO_ATTEMPTS));
    return new Promise<Slot>((resolve, reject) => {
      const pending: PendingAcquire<Slot> = new PendingAcquire<Slot>(request, front, clock.now(), this.#options.hold, resolve, (error) => {
        const timedOut = error instanceof AcquireTimeoutError || (error instanceof AcquireCancelled && error.reason === 'timeout');
        this.#failed(request.trace, startedAtEpoch, timedOut ? 'timeout' : 'error', clock.now() - pending.enqueuedAt, errorTypeOf(error), pending.connectAttempts);
        reject(error);
      });
      pending.lastCause = this.#lastConnectError;
      pending.arm(
        clock,
        acquireTimeout,
        () => {
          if (this.#dequeue(pending)) pending.reject(pending.timeoutError(name, acquireTimeout));
        },
        () => {
          if (this.#dequeue(pending)) pending.reject(new AcquireCancelled(request.cancel?.reason as CancelReason));
        },
      );
      queue.add(pending);
      this.#options.growth.grow();
    });
  }

  /** Hands free slots to waiters, highest priority first. */
  serveWaiters(): void {
    const { clock, connections, pending: queue } = this.#options;
    while (queue.length > 0) {
      const entry = connections.pickFor(queue.peek()!.request);
      if (!entry) break;
      this.#serve(queue.shift()!, entry, clock);
    }
    if (queue.length > 0) this.#serveRiders();
    if (queue.length === 0) this.#options.growth.queueEmptied();
  }

  /** Waiting transfers that may pass the head by riding an open SFTP channel (see `#rideBesideWaiters`). */
  #serveRiders(): void {
    const { clock, connections, pending: queue } = this.#options;
    // Runs at every freed slot while work waits: with no SFTP channel to ride (most pool keys
    // never transfer), the waiters are not looked through.
    if (!connections.pickRide(2)) return;
    for (const pending of queue.items()) {
      if (!pending.request.ridesSftp) continue;
      const entry = this.#rideBesideWaiters(pending.request);
      if (!entry) continue;
      queue.remove(pending);
      this.#serve(pending, entry, clock);
    }
  }

  /**
   * Where a transfer may ride although acquires wait: only past waiters of its priority or lower,
   * and only on a connection allowed two sessions or more, so that the ones it passes still get
   * sessions as they free (with one session, the SFTP channel must idle to be given up to them).
   */
  #rideBesideWaiters(request: AcquireRequest): PoolEntry | undefined {
    if (!request.ridesSftp) return undefined;
    const head = this.#options.pending.peek();
    if (head && head.priority > request.priority) return undefined;
    return this.#options.connections.pickRide(2);
  }

  #serve(pending: PendingAcquire<Slot>, entry: PoolEntry, clock: Clock): void {
    const waitMs = clock.now() - pending.enqueuedAt;
    pending.resolve(this.#grant(entry, pending.request, waitMs, clock.epochNow() - waitMs, pending.connectAttempts));
  }

  /** Fails every waiting acquire. */
  failWaiters(error: Error): void {
    for (const pending of this.#options.pending.drain()) pending.reject(error);
    this.#options.growth.queueEmptied();
  }

  /** Takes a slot back from its holder. False when it was already given back (release is idempotent). */
  release(slot: Slot): boolean {
    if (releasedSlots.has(slot)) return false;
    releasedSlots.add(slot);
    const now = this.#options.clock.now();
    slot.entry.release(now);
    this.#options.events.emit({ type: 'released', connection: slot.connection, heldMs: now - slot.grantedAt });
    return true;
  }

  #grant(entry: PoolEntry, request: AcquireRequest, waitMs: number, startedAtEpoch: number, connectAttempts: readonly number[]): Slot {
    const idleSince = entry.idleSince;
    const first = entry.lend();
    // Joined here, not when the transfer gets to run: until then the channel could otherwise be
    // given up as idle, and the slot would stand for a channel that is not there.
    const ridesSftp = request.ridesSftp === true && entry.sftpRideable;
    if (ridesSftp) entry.joinSftp(false);
    const parent = request.trace;
    const now = this.#options.clock.now();
    // A connection's first slot pays for its opening; every later one is a reuse.
    const outcome = first ? 'created' : 'reused';
    const idleMs = !first && idleSince !== undefined ? now - idleSince : undefined;
    this.#options.events.emit({ type: 'acquired', outcome, connection: entry.connection, waitMs, idleMs, parent, startedAtEpoch, connectAttempts });
    return { entry, connection: entry.connection, outcome, waitMs, grantedAt: now, ridesSftp };
  }

  #failed(
    parent: TraceParent | undefined, startedAtEpoch: number, outcome: 'timeout' | 'error', waitMs: number, errorType: string, connectAttempts: readonly number[],
  ): void {
    this.#options.events.emit({ type: 'acquire-failed', outcome, waitMs, errorType, parent, startedAtEpoch, connectAttempts });
  }

  #dequeue(pending: PendingAcquire<Slot>): boolean {
    const { pending: queue, growth, drain } = this.#options;
    if (!queue.remove(pending)) return false;
    if (queue.length === 0) growth.queueEmptied();
    queueMicrotask(() => drain.changed());
    return true;
  }
}
