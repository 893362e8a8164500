import type { TraceParent } from './host-pool-events.js';
import type { CancelSignal } from '../core/cancel-source.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { AcquireTimeoutError } from '../core/errors.js';
import type { ProcessHold } from '../core/process-hold.js';
import { nextSequence, WaitQueue } from '../core/wait-queue.js';

// Beyond this an acquire's span would be mostly links: the first attempts tell the story.
const MAX_LINKED_ATTEMPTS = 16;

/** What a caller asks for when it wants a channel slot. */
export interface AcquireRequest {
  /** Higher first; equal priorities in arrival order. */
  readonly priority: number;
  /** Fires with a `CancelReason` when the caller gives up. */
  readonly cancel?: CancelSignal | undefined;
  /** Parent of the `ssh.pool.acquire` span. */
  readonly trace?: TraceParent | undefined;
  /**
   * The work rides the connection's SFTP channel (a transfer) and opens no channel of its own:
   * it may be given a place on an open SFTP channel when no slot is free.
   */
  readonly ridesSftp?: boolean | undefined;
}

/**
 * One acquire waiting for a slot (tarn.js's PendingOperation): it owns its timeout, the hold
 * that keeps the process alive while it waits, and the last error met on its behalf, which
 * becomes the cause of its timeout.
 */
export class PendingAcquire<T> {
  readonly priority: number;
  readonly seq: number;
  readonly enqueuedAt: number;
  readonly request: AcquireRequest;
  /** The last connect error met while this acquire waited. */
  lastCause: Error | undefined;
  /** Connect attempts started while this acquire waited: its spans link to them. */
  readonly connectAttempts: number[] = [];
  #settled = false;
  #resolve: (value: T) => void;
  #reject: (error: Error) => void;
  #timer: TimerHandle | undefined;
  #giveHoldBack: () => void;
  #onCancel: (() => void) | undefined;

  constructor(request: AcquireRequest, front: boolean, now: number, hold: ProcessHold, resolve: (value: T) => void, reject: (error: Error) => void) {
    this.request = request;
    this.priority = request.priority;
    this.seq = nextSequence(front);
    this.enqueuedAt = now;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#giveHoldBack = hold.take();
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Arms the deadline and the caller's cancel; `expire` runs at most once, for whichever fires. */
  arm(clock: Clock, timeoutMs: number, onTimeout: () => void, onCancel: () => void): void {
    this.#timer = clock.setTimeout(onTimeout, timeoutMs);
    const cancel = this.request.cancel;
    if (cancel) {
      this.#onCancel = onCancel;
      cancel.addEventListener('abort', onCancel, { once: true });
    }
  }

  /** The error of a wait that outlived `acquireTimeout`, naming the last connect error met meanwhile. */
  timeoutError(poolName: string, timeoutMs: number): AcquireTimeoutError {
    const cause = this.lastCause;
    const because = cause ? `; last connection error: ${cause.message}` : '';
    return new AcquireTimeoutError(`No channel to ${poolName} became free within ${timeoutMs} ms${because}`, poolName, timeoutMs, cause ? { cause } : undefined);
  }

  resolve(value: T): void {
    if (this.#finish()) this.#resolve(value);
  }

  reject(error: Error): void {
    if (this.#finish()) this.#reject(error);
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#timer?.cancel();
    if (this.#onCancel) this.request.cancel?.removeEventListener('abort', this.#onCancel);
    this.#giveHoldBack();
    return true;
  }
}

/** The acquires of one pool key waiting for a slot: highest priority first, FIFO within one. */
export class PendingAcquires<T> {
  // Only while someone waits: an empty queue holds no state worth keeping, and a fleet's host
  // pools are empty nearly all the time.
  #queue: WaitQueue<PendingAcquire<T>> | undefined;

  get length(): number {
    return this.#queue?.length ?? 0;
  }

  add(pending: PendingAcquire<T>): void {
    (this.#queue ??= new WaitQueue()).add(pending);
  }

  /** Removes `pending`; false when it was not (or no longer) queued. */
  remove(pending: PendingAcquire<T>): boolean {
    const removed = this.#queue?.remove(pending) ?? false;
    this.#dropIfEmpty();
    return removed;
  }

  shift(): PendingAcquire<T> | undefined {
    const next = this.#queue?.shift();
    this.#dropIfEmpty();
    return next;
  }

  /** The acquire `shift()` would return, left in the queue. */
  peek(): PendingAcquire<T> | undefined {
    return this.#queue?.peek();
  }

  /** The waiting acquires in serving order (a snapshot). */
  items(): ReadonlyArray<PendingAcquire<T>> {
    return this.#items();
  }

  /** Records a connect error as the possible cause of every waiting acquire's timeout. */
  noteCause(error: Error): void {
    for (const pending of this.#items()) pending.lastCause = error;
  }

  /**
   * The trace of the acquire a new demand open is for: the first in serving order that no
   * attempt was made for yet, else the first waiting.
   */
  causeOfNextOpen(): TraceParent | undefined {
    const items = this.#items();
    return (items.find((pending) => pending.connectAttempts.length === 0) ?? items[0])?.request.trace;
  }

  /** Records a connect attempt as made on behalf of every waiting acquire. */
  noteConnectAttempt(attemptId: number): void {
    for (const pending of this.#items()) if (pending.connectAttempts.length < MAX_LINKED_ATTEMPTS) pending.connectAttempts.push(attemptId);
  }

  /** Empties the queue, in serving order. */
  drain(): Array<PendingAcquire<T>> {
    const queue = this.#queue;
    this.#queue = undefined;
    return queue?.drain() ?? [];
  }

  #items(): readonly PendingAcquire<T>[] {
    return this.#queue?.items() ?? [];
  }

  #dropIfEmpty(): void {
    if (this.#queue?.length === 0) this.#queue = undefined;
  }
}
