import type { ConnectAttemptHooks } from '../ssh/connection.js';

/** How a connect attempt ended, as far as logins go. */
export type AttemptEnd = 'connected' | 'transient' | 'refused';

export interface FirstLoginOptions {
  /** Whether the pool key has a usable connection: its credentials are proven, nobody waits. */
  readonly proven: () => boolean;
  /** The first attempt in flight to reach the server did: more attempts may start now. */
  readonly serverReached: () => void;
}

/** One connect attempt's hooks, with what the gate knows of it. */
class Attempt implements ConnectAttemptHooks {
  readonly #gate: FirstLogin;
  isReached = false;
  ended = false;
  /** Set while the attempt waits for its login turn. */
  grant: ((allowed: boolean) => void) | undefined;

  constructor(gate: FirstLogin) {
    this.#gate = gate;
  }

  reached(): void {
    this.#gate.noteReached(this);
  }

  loginTurn(): boolean | Promise<boolean> {
    return this.#gate.turnOf(this);
  }
}

/**
 * What a burst of connect attempts costs a server while the pool key has no connection yet
 * (docs/architecture.md, where opening a connection is described):
 * - the growth policy starts one attempt alone, and the others only once an attempt in flight
 *   has reached the server: a server that is down costs one refused connect, not one per
 *   connection wanted;
 * - the others run TCP and key exchange beside the first, but offer credentials only after one
 *   login was answered: wrong credentials cost the server one failed login, not one per
 *   connection;
 * - a refused login ends the waiting attempts without offering anything; a login that failed
 *   otherwise (connection lost, timeout) hands the turn to the next waiting attempt.
 * Invariant: while the pool key has no usable connection, at most one attempt logs in.
 */
export class FirstLogin {
  readonly #options: FirstLoginOptions;
  #reachedInFlight = 0;
  #loggingIn: Attempt | undefined;
  #waiting: Attempt[] | undefined;

  constructor(options: FirstLoginOptions) {
    this.#options = options;
  }

  /** Whether an attempt in flight has reached the server. */
  get serverAnswering(): boolean {
    return this.#reachedInFlight > 0;
  }

  /** Attempts waiting for their login turn. */
  get waitingCount(): number {
    return this.#waiting?.length ?? 0;
  }

  /** The hooks of a new attempt; `end` must be called with them once it settles. */
  begin(): ConnectAttemptHooks {
    return new Attempt(this);
  }

  /** The attempt settled: its login turn (if it held it) passes on as `how` decides. */
  end(hooks: ConnectAttemptHooks, how: AttemptEnd): void {
    const attempt = hooks as Attempt;
    if (attempt.ended) return;
    attempt.ended = true;
    if (attempt.isReached) this.#reachedInFlight--;
    if (attempt.grant) {
      // Ended while waiting (its own timeout, the server closed it): it no longer wants a turn.
      attempt.grant = undefined;
      this.#waiting!.splice(this.#waiting!.indexOf(attempt), 1);
    }
    if (this.#loggingIn !== attempt) return;
    this.#loggingIn = undefined;
    if (how === 'transient') this.#handOn();
    else this.#answerAll(how === 'connected');
  }

  /** @internal Attempt.reached */
  noteReached(attempt: Attempt): void {
    if (attempt.isReached || attempt.ended) return;
    attempt.isReached = true;
    if (this.#reachedInFlight++ === 0) this.#options.serverReached();
  }

  /** @internal Attempt.loginTurn */
  turnOf(attempt: Attempt): boolean | Promise<boolean> {
    if (attempt.ended) return false;
    if (this.#options.proven()) return true;
    if (this.#loggingIn === undefined) {
      this.#loggingIn = attempt;
      return true;
    }
    return new Promise((resolve) => {
      attempt.grant = resolve;
      (this.#waiting ??= []).push(attempt);
    });
  }

  #handOn(): void {
    const next = this.#waiting?.shift();
    if (!next) return;
    this.#loggingIn = next;
    const grant = next.grant!;
    next.grant = undefined;
    grant(true);
  }

  #answerAll(allowed: boolean): void {
    const waiting = this.#waiting ?? [];
    this.#waiting = undefined;
    for (const attempt of waiting) {
      const grant = attempt.grant!;
      attempt.grant = undefined;
      grant(allowed);
    }
  }
}
