import { backoffDelay } from '../core/backoff.js';
import { sleep } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import { joinHeartbeat } from '../core/heartbeat.js';
import type { OpenResult } from './connector.js';
import type { HostPoolEventStream } from './host-pool-events.js';
import type { ResolvedPoolConfig } from '../config/pool-config.js';
import type { Opener } from './growth-policy.js';
import type { OpenConnections } from './open-connections.js';

/** The pool's one open path, and what to do when an open shows that waiters cannot be served. */
export interface KeeperOpener extends Opener {
  /** A permanent connect failure: waiting acquires cannot be served. */
  failWaiters(error: Error): void;
}

/** The parts of the host pool the housekeeper keeps, each through the little it needs. */
export interface KeptParts {
  readonly config: ResolvedPoolConfig;
  readonly clock: Clock;
  readonly events: HostPoolEventStream;
  /** Fires when the pool closes: backoffs end early, nothing new starts. */
  readonly closed: AbortSignal;
  readonly connections: Pick<OpenConnections, 'usableCount' | 'closingCount' | 'idle'>;
  readonly store: { readonly opening: number; readonly size: number; readonly max: number };
  readonly pending: { readonly length: number };
  readonly opener: KeeperOpener;
}

/**
 * Background upkeep of one pool key (HikariCP's HouseKeeper): closes connections idle past
 * `idleTimeout` or past `maxLifetime`, keeps the warm minimum, and after an unexpected drop
 * re-opens connections with backoff. One reconnect loop per pool key, and each of its attempts
 * opens a new connection, so events are bounded by real state changes: no storms. Its timers
 * never keep the process alive.
 */
export class Housekeeper {
  readonly #parts: KeptParts;
  /** Leaves the shared timer of this clock and period (one for every pool key, not one each). */
  #leaveHeartbeat: (() => void) | undefined;
  #stopped = false;
  #reconnecting = false;
  #warming = false;
  // Set when reconnect used up its attempts, or an open failed for good (auth, host key):
  // nothing reopens in the background until a connection opens again (a command's demand),
  // so a dead host is not retried forever, nor an account locked by logins nobody asked for.
  #gaveUp = false;

  constructor(parts: KeptParts) {
    this.#parts = parts;
  }

  get gaveUp(): boolean {
    return this.#gaveUp;
  }

  get reconnecting(): boolean {
    return this.#reconnecting;
  }

  start(): void {
    this.#schedule();
    this.ensureWarm();
  }

  stop(): void {
    this.#stopped = true;
    this.#leaveHeartbeat?.();
    this.#leaveHeartbeat = undefined;
  }

  /** A connection opened: the host answers again. */
  connectionOpened(): void {
    this.#gaveUp = false;
  }

  /** How often the timed work runs: a quarter of the shortest period it watches, 10 ms to 1 s. */
  #period(): number | undefined {
    const { idleTimeout, maxLifetime, warmUpConnections } = this.#parts.config;
    const shortest = Math.min(idleTimeout || Infinity, maxLifetime || Infinity);
    if (shortest === Infinity) return warmUpConnections > 0 ? 1_000 : undefined;
    return Math.max(10, Math.min(1_000, Math.floor(shortest / 4)));
  }

  #schedule(): void {
    const period = this.#period();
    if (period === undefined || this.#stopped || this.#leaveHeartbeat) return;
    this.#leaveHeartbeat = joinHeartbeat(this.#parts.clock, period, this);
  }

  /**
   * Closes idle connections past `idleTimeout` (the warm minimum excepted, most recently used
   * kept) and idle ones past `maxLifetime`, then tops the warm minimum back up.
   */
  tick(): void {
    if (this.#stopped) return;
    const parts = this.#parts;
    const now = parts.clock.now();
    const { idleTimeout, warmUpConnections } = parts.config;
    const { maxLifetime } = parts.config;
    const idle = parts.connections.idle().sort((a, b) => (b.idleSince ?? 0) - (a.idleSince ?? 0));
    // Busy connections count toward the warm minimum too.
    let kept = parts.connections.usableCount() - idle.length;
    for (const entry of idle) {
      if (entry.expired(now, maxLifetime)) entry.closeIdle('expired', now);
      else if (kept < warmUpConnections || idleTimeout === 0 || now - (entry.idleSince ?? now) < idleTimeout) kept++;
      else entry.closeIdle('idle', now);
    }
    this.ensureWarm();
  }

  /** Opens connections up to the warm minimum; a failure hands over to reconnect. */
  ensureWarm(): void {
    const parts = this.#parts;
    // A connection still closing is not missing yet: an unexpected close hands it to reconnect,
    // which must not race a warm-up open for the same place (its events would then depend on
    // which came first); any other close is topped up at the next tick.
    const missing = parts.config.warmUpConnections - parts.connections.usableCount() - parts.connections.closingCount() - parts.store.opening;
    if (this.#stopped || this.#gaveUp || this.#reconnecting || this.#warming || missing <= 0) return;
    this.#warming = true;
    const opens: Array<Promise<OpenResult>> = [];
    for (let i = 0; i < missing && parts.store.size < parts.store.max; i++) opens.push(parts.opener.open('warm-up', parts.config.maxRetries + 1));
    void Promise.all(opens).then((results) => {
      this.#warming = false;
      const failure = results.find((result) => !result.ok);
      if (!failure || failure.ok) return;
      // Credentials or a host key the server refuses do not get better by asking again: only
      // demand (a command, warmUp) tries once more.
      if (failure.error.transient) this.connectionLost(false);
      else this.#gaveUp = true;
    });
  }

  /**
   * Re-establishes the warm minimum (at least one connection when the lost one was busy or
   * commands wait) after an unexpected drop: bounded attempts, configured backoff, one open
   * per attempt. Permanent failures (auth, host key) stop it at once.
   */
  connectionLost(wasBusy: boolean): void {
    if (this.#stopped || this.#reconnecting || !this.#parts.config.reconnect.enabled) return;
    this.#reconnecting = true;
    void this.#reconnect(wasBusy).finally(() => {
      this.#reconnecting = false;
    });
  }

  #target(wasBusy: boolean): number {
    const demand = wasBusy || this.#parts.pending.length > 0 ? 1 : 0;
    return Math.max(this.#parts.config.warmUpConnections, demand);
  }

  async #reconnect(wasBusy: boolean): Promise<void> {
    const parts = this.#parts;
    const { reconnect } = parts.config;
    let attempt = 0;
    let deferred = 0;
    while (!this.#stopped && !parts.closed.aborted && parts.connections.usableCount() < this.#target(wasBusy)) {
      if (attempt >= reconnect.maxRetries) {
        this.#gaveUp = true;
        parts.events.emit({ type: 'reconnect-gave-up', attempts: attempt });
        return;
      }
      // Back off first. An attempt starts only when reconnect itself opens a connection, so
      // that its success always means a connection it opened is there.
      await sleep(parts.clock, backoffDelay(attempt + 1, reconnect), parts.closed);
      if (this.#stopped || parts.closed.aborted) return;
      // A command's own open brought the pool back meanwhile: nothing left to reconnect.
      if (parts.connections.usableCount() >= this.#target(wasBusy)) return;
      // One is opening (or the pool is full): its outcome decides; back off again, no attempt
      // (bounded: a pool that never makes room ends the episode; demand reopens it).
      if (parts.connections.usableCount() + parts.store.opening >= this.#target(wasBusy) || parts.store.size >= parts.store.max) {
        if (++deferred > reconnect.maxRetries) return;
        continue;
      }
      attempt++;
      parts.events.emit({ type: 'reconnect-started', attempt });
      const result = await parts.opener.open('reconnect', 1);
      if (result.ok) {
        parts.events.emit({ type: 'reconnect-finished', attempt, outcome: 'success', connection: result.connection, error: undefined, attemptId: result.attemptId });
        attempt = 0;
        wasBusy = false;
        continue;
      }
      parts.events.emit({ type: 'reconnect-finished', attempt, outcome: 'failure', connection: undefined, error: result.error, attemptId: result.attemptId });
      if (!result.error.transient) {
        this.#gaveUp = true;
        parts.opener.failWaiters(result.error);
        return;
      }
    }
  }
}
