import { backoffDelay } from '../core/backoff.js';
import { sleep } from '../core/clock.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { OpenResult } from './connector.js';
import type { HostPoolEventStream, OpenPurpose } from './host-pool-events.js';
import type { ResolvedPoolConfig } from '../config/pool-config.js';
import type { PoolEntry } from './pool-entry.js';

/** What the housekeeper needs from the host pool it keeps. */
export interface KeptPool {
  readonly config: ResolvedPoolConfig;
  readonly clock: Clock;
  readonly events: HostPoolEventStream;
  /** Fires when the pool closes: backoffs end early, nothing new starts. */
  readonly closed: AbortSignal;
  /** Connections that take new channels. */
  usableCount(): number;
  /** Opens in flight, whatever their purpose. */
  openingCount(): number;
  /** Whether the cap leaves room for one more connection. */
  hasRoom(): boolean;
  /** Acquires waiting for a slot. */
  waitingCount(): number;
  idleEntries(): PoolEntry[];
  /** Closes an idle connection with reason `idle` (recording how long it sat idle) or `expired`. */
  closeIdle(entry: PoolEntry, reason: 'idle' | 'expired'): void;
  isExpired(entry: PoolEntry): boolean;
  /** Opens one connection through the pool's one open path. */
  open(purpose: OpenPurpose, attempts: number): Promise<OpenResult>;
  /** A permanent connect failure: waiting acquires cannot be served. */
  failWaiters(error: Error): void;
}

/**
 * Background upkeep of one pool key (HikariCP's HouseKeeper): closes connections idle past
 * `idleTimeout` or past `maxLifetime`, keeps the warm minimum, and after an unexpected drop
 * re-opens connections with backoff. One reconnect loop per pool key, and each of its attempts
 * opens a new connection, so events are bounded by real state changes: no storms. Its timers
 * never keep the process alive.
 */
export class Housekeeper {
  readonly #pool: KeptPool;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #reconnecting = false;
  #warming = false;
  // Set when reconnect used up its attempts: nothing reopens in the background until a
  // connection opens again (a command's demand), so a dead host is not retried forever.
  #gaveUp = false;

  constructor(pool: KeptPool) {
    this.#pool = pool;
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
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** A connection opened: the host answers again. */
  connectionOpened(): void {
    this.#gaveUp = false;
  }

  /** How often the timed work runs: a quarter of the shortest period it watches, 10 ms to 1 s. */
  #period(): number | undefined {
    const { idleTimeout, maxLifetime, warmUpConnections } = this.#pool.config;
    const shortest = Math.min(idleTimeout || Infinity, maxLifetime || Infinity);
    if (shortest === Infinity) return warmUpConnections > 0 ? 1_000 : undefined;
    return Math.max(10, Math.min(1_000, Math.floor(shortest / 4)));
  }

  #schedule(): void {
    const period = this.#period();
    if (period === undefined || this.#stopped) return;
    this.#timer = this.#pool.clock.setTimeout(() => {
      this.tick();
      this.#schedule();
    }, period);
  }

  /**
   * Closes idle connections past `idleTimeout` (the warm minimum excepted, most recently used
   * kept) and idle ones past `maxLifetime`, then tops the warm minimum back up.
   */
  tick(): void {
    if (this.#stopped) return;
    const pool = this.#pool;
    const now = pool.clock.now();
    const { idleTimeout, warmUpConnections } = pool.config;
    const idle = pool.idleEntries().sort((a, b) => (b.idleSince ?? 0) - (a.idleSince ?? 0));
    // Busy connections count toward the warm minimum too.
    let kept = pool.usableCount() - idle.length;
    for (const entry of idle) {
      if (pool.isExpired(entry)) pool.closeIdle(entry, 'expired');
      else if (kept < warmUpConnections || idleTimeout === 0 || now - (entry.idleSince ?? now) < idleTimeout) kept++;
      else pool.closeIdle(entry, 'idle');
    }
    this.ensureWarm();
  }

  /** Opens connections up to the warm minimum; a failure hands over to reconnect. */
  ensureWarm(): void {
    const pool = this.#pool;
    const missing = pool.config.warmUpConnections - pool.usableCount() - pool.openingCount();
    if (this.#stopped || this.#gaveUp || this.#reconnecting || this.#warming || missing <= 0) return;
    this.#warming = true;
    const opens: Array<Promise<OpenResult>> = [];
    for (let i = 0; i < missing && pool.hasRoom(); i++) opens.push(pool.open('warm-up', pool.config.maxRetries + 1));
    void Promise.all(opens).then((results) => {
      this.#warming = false;
      const failure = results.find((result) => !result.ok);
      if (failure && !failure.ok && failure.error.transient) this.connectionLost(false);
    });
  }

  /**
   * Re-establishes the warm minimum (at least one connection when the lost one was busy or
   * commands wait) after an unexpected drop: bounded attempts, configured backoff, one open
   * per attempt. Permanent failures (auth, host key) stop it at once.
   */
  connectionLost(wasBusy: boolean): void {
    if (this.#stopped || this.#reconnecting || !this.#pool.config.reconnect.enabled) return;
    this.#reconnecting = true;
    void this.#reconnect(wasBusy).finally(() => {
      this.#reconnecting = false;
    });
  }

  #target(wasBusy: boolean): number {
    const demand = wasBusy || this.#pool.waitingCount() > 0 ? 1 : 0;
    return Math.max(this.#pool.config.warmUpConnections, demand);
  }

  async #reconnect(wasBusy: boolean): Promise<void> {
    const pool = this.#pool;
    const { reconnect } = pool.config;
    let attempt = 0;
    while (!this.#stopped && !pool.closed.aborted && pool.usableCount() < this.#target(wasBusy)) {
      if (attempt >= reconnect.maxRetries) {
        this.#gaveUp = true;
        pool.events.emit({ type: 'reconnect-gave-up', attempts: attempt });
        return;
      }
      attempt++;
      pool.events.emit({ type: 'reconnect-started', attempt });
      await sleep(pool.clock, backoffDelay(attempt, reconnect), pool.closed);
      if (this.#stopped || pool.closed.aborted) return;
      // A command's own open may have brought the pool back meanwhile, or be about to.
      if (pool.usableCount() + pool.openingCount() >= this.#target(wasBusy) || !pool.hasRoom()) {
        pool.events.emit({ type: 'reconnect-finished', attempt, outcome: 'success', connection: undefined, error: undefined, attemptId: undefined });
        return;
      }
      const result = await pool.open('reconnect', 1);
      if (result.ok) {
        pool.events.emit({ type: 'reconnect-finished', attempt, outcome: 'success', connection: result.connection, error: undefined, attemptId: result.attemptId });
        attempt = 0;
        wasBusy = false;
        continue;
      }
      pool.events.emit({ type: 'reconnect-finished', attempt, outcome: 'failure', connection: undefined, error: result.error, attemptId: result.attemptId });
      if (!result.error.transient) {
        pool.failWaiters(result.error);
        return;
      }
    }
  }
}
