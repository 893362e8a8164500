import type { HostState } from './types.js';

/** Epoch milliseconds now; injectable so that tests need no real waiting. */
export type EpochNow = () => number;

export interface CircuitBreakerSettings {
  readonly failureThreshold: number;
  readonly cooldown: number;
  readonly maxCooldown: number;
}

export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerSettings = Object.freeze({
  failureThreshold: 1,
  cooldown: 5_000,
  maxCooldown: 60_000,
});

/** A change of state the owner reports (event, span, metric). */
export type Transition = 'down' | 'up';

/**
 * One host's circuit breaker, a pure state machine (the owner runs the probes):
 *
 *   up ──threshold failures in a row──▶ down ──cool-down over, beginProbe()──▶ probing
 *   ▲                                    ▲                                       │
 *   └──────── recordSuccess() ───────────┼──────────── probe succeeded ◀─────────┤
 *                                        └──── probe failed: cool-down doubles ◀─┘
 *
 * Failures are counted once per error object: one failed connection open rejects every
 * command waiting on it with the same error, and that is one failure, not one per command.
 */
export class CircuitBreaker {
  readonly #settings: CircuitBreakerSettings;
  readonly #clock: EpochNow;
  readonly #counted = new WeakSet<object>();
  #state: HostState = 'up';
  #failures = 0;
  #cooldown: number;
  #retryAt = 0;
  #lastError: Error | undefined;

  constructor(settings: CircuitBreakerSettings = DEFAULT_CIRCUIT_BREAKER, clock: EpochNow = Date.now) {
    this.#settings = settings;
    this.#clock = clock;
    this.#cooldown = settings.cooldown;
  }

  get state(): HostState {
    return this.#state;
  }

  /** True while commands may be sent to the host. */
  get isUp(): boolean {
    return this.#state === 'up';
  }

  /** Epoch ms at which a down host may be probed; undefined while up. */
  get retryAt(): number | undefined {
    return this.#state === 'up' ? undefined : this.#retryAt;
  }

  /** The failure that marked the host down (or the latest one since), while not up. */
  get lastError(): Error | undefined {
    return this.#state === 'up' ? undefined : this.#lastError;
  }

  /** ms from now until the probe is due; 0 when it is due now. */
  msUntilProbe(): number {
    return Math.max(0, this.#retryAt - this.#clock());
  }

  /** A connection to the host failed. Returns 'down' when this failure marks it down. */
  recordFailure(error: Error): Transition | undefined {
    if (this.#counted.has(error)) return undefined;
    this.#counted.add(error);
    this.#lastError = error;
    if (this.#state !== 'up') return undefined;
    this.#failures++;
    if (this.#failures < this.#settings.failureThreshold) return undefined;
    this.#trip(this.#settings.cooldown);
    return 'down';
  }

  /** A connection to the host worked (a command ran, a probe connected). */
  recordSuccess(): Transition | undefined {
    this.#failures = 0;
    if (this.#state === 'up') return undefined;
    this.#state = 'up';
    this.#cooldown = this.#settings.cooldown;
    this.#lastError = undefined;
    return 'up';
  }

  /** Starts the probe when it is due; false when the host is not down or its cool-down runs. */
  beginProbe(): boolean {
    if (this.#state !== 'down' || this.#clock() < this.#retryAt) return false;
    this.#state = 'probing';
    return true;
  }

  /** The probe could not connect: down again, for twice as long (up to `maxCooldown`). */
  probeFailed(error: Error): void {
    if (this.#state !== 'probing') return;
    this.#counted.add(error);
    this.#lastError = error;
    this.#trip(Math.min(this.#cooldown * 2, this.#settings.maxCooldown));
  }

  #trip(cooldown: number): void {
    this.#state = 'down';
    this.#failures = 0;
    this.#cooldown = cooldown;
    this.#retryAt = this.#clock() + cooldown;
  }
}
