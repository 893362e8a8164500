import type { CancelSignal } from '../core/cancel-source.js';
import type { Clock } from '../core/clock.js';
import type { ProcessHold } from '../core/process-hold.js';

/** After the drain timeout, how long stopped commands get to release their channels. */
export const FORCED_STOP_MS = 1_000;

/** What tells whether a host pool still has work: the parts that hold it. */
export interface DrainView {
  /** Acquires waiting for a slot. */
  readonly length: number;
}

/** Connections that still carry a command or lease. */
export interface BusyView {
  anyBusy(): boolean;
}

/** What stops tracked work: a `CancelSource` for a command, an `AbortController` for a transfer. */
export interface Stoppable {
  abort(reason: unknown): void;
}

/** Work accepted by the pool: stopped through `stop` at a forced close; `done()` once it is over. */
export interface TrackedWork<S extends Stoppable> {
  readonly stop: S;
  done(): void;
}

/**
 * The running work of one host pool and the wait for it to end at close (tarn.js's and
 * HikariCP's shutdown, for channels). Every accepted command is tracked with a stop of
 * the pool's own, so a close past its drain timeout can stop it, and holds the process until
 * it is over. Invariant: drained = no waiting acquire, no tracked command, no busy connection.
 */
export class PoolDrain {
  readonly #clock: Clock;
  readonly #hold: ProcessHold;
  readonly #waiting: DrainView;
  readonly #connections: BusyView;
  // Made when needed and dropped when empty: most host pools of a fleet sit idle.
  #running: Set<Stoppable> | undefined;
  #watchers: Array<() => void> | undefined;
  #closing = false;

  constructor(clock: Clock, hold: ProcessHold, waiting: DrainView, connections: BusyView) {
    this.#clock = clock;
    this.#hold = hold;
    this.#waiting = waiting;
    this.#connections = connections;
  }

  /** Tracks one piece of work, stopped through `stop`; `cancel` (the caller's) is forwarded to it. */
  track<S extends Stoppable>(cancel: CancelSignal | undefined, stop: S): TrackedWork<S> {
    const giveHoldBack = this.#hold.take();
    // Most commands have no cancel of their own: nothing to forward, no listener.
    const forward = cancel && ((): void => stop.abort(cancel.reason));
    if (cancel?.aborted) forward!();
    else if (forward) cancel!.addEventListener('abort', forward, { once: true });
    (this.#running ??= new Set()).add(stop);
    let over = false;
    return {
      stop,
      done: () => {
        if (over) return;
        over = true;
        if (forward) cancel!.removeEventListener('abort', forward);
        this.#running?.delete(stop);
        if (this.#running?.size === 0) this.#running = undefined;
        giveHoldBack();
        this.changed();
      },
    };
  }

  /** Something that may end the drain happened (a slot freed, an acquire left, a connection closed). */
  changed(): void {
    if (!this.#closing || !this.#watchers || !this.#isDrained()) return;
    const watchers = this.#watchers;
    this.#watchers = undefined;
    for (const resolve of watchers) resolve();
  }

  /**
   * Waits up to `timeout` ms for the work to end; past it, `stopWaiting` fails the queued
   * acquires, running commands are stopped (reason `shutdown`) and get `FORCED_STOP_MS` more.
   */
  async settle(timeout: number, stopWaiting: () => void): Promise<void> {
    this.#closing = true;
    if (await this.#drained(timeout)) return;
    stopWaiting();
    for (const stop of [...(this.#running ?? [])]) stop.abort('shutdown');
    await this.#drained(FORCED_STOP_MS);
  }

  #isDrained(): boolean {
    return this.#waiting.length === 0 && this.#running === undefined && !this.#connections.anyBusy();
  }

  #drained(withinMs: number): Promise<boolean> {
    if (this.#isDrained()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#watchers = this.#watchers?.filter((watcher) => watcher !== onDrained);
        if (this.#watchers?.length === 0) this.#watchers = undefined;
        resolve(false);
      }, withinMs);
      const onDrained = (): void => {
        timer.cancel();
        resolve(true);
      };
      (this.#watchers ??= []).push(onDrained);
    });
  }
}
