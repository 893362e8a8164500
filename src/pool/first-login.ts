import type { ConnectAttemptHooks, LoginTurnAnswer } from '../ssh/connection.js';

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
  /** The gate's generation when the attempt began: a login answered since speaks for it. */
  readonly generation: number;
  isReached = false;
  ended = false;
  /** Given its login turn: it offered (or is offering) credentials. */
  offered = false;
  /** Set while the attempt waits for its login turn. */
  grant: ((answer: LoginTurnAnswer) => void) | undefined;

  constructor(gate: FirstLogin, generation: number) {
    this.#gate = gate;
    this.generation = generation;
  }

  reached(): void {
    this.#gate.noteReached(this);
  }

  loginTurn(): LoginTurnAnswer | Promise<LoginTurnAnswer> {
    return this.#gate.turnOf(this);
  }
}

/**
 * What a burst of connect attempts costs a server while the pool key has no connection yet
 * (docs/architecture.md, where opening a connection is described):
 * - the growth policy starts one attempt alone, and the others only once an attempt in flight
 *   finished a key exchange with the server, its host key accepted: a server that is down,
 *   frozen, not speaking SSH or presenting a rejected key costs one attempt at a time;
 * - the others run TCP and key exchange beside the first, but offer credentials only after one
 *   login was answered: wrong credentials cost the server one failed login, not one per
 *   connection;
 * - a refused login ends the waiting attempts without offering anything, and those begun
 *   before it that ask later (their key exchange was slower); a login that failed otherwise
 *   (connection lost, timeout) hands the turn to the next waiting attempt. A successful login
 *   likewise lets every attempt begun before it log in at once. Any attempt's login counts,
 *   not only that of the attempt whose turn it is.
 * Invariant: while the pool key has no usable connection, at most one attempt logs in whose
 * credentials no answered login speaks for.
 */
export class FirstLogin {
  readonly #options: FirstLoginOptions;
  #reachedInFlight = 0;
  #loggingIn: Attempt | undefined;
  #waiting: Attempt[] | undefined;
  /** Attempts begin in the current generation; an answered login starts a new one. */
  #generation = 0;
  /** The last answered login (it speaks for every attempt of an earlier generation): accepted or refused. */
  #lastAnswer = true;
  #closed = false;

  constructor(options: FirstLoginOptions) {
    this.#options = options;
  }

  /** Whether an attempt in flight has finished a key exchange with the server. */
  get serverAnswering(): boolean {
    return this.#reachedInFlight > 0;
  }

  /** Attempts waiting for their login turn. */
  get waitingCount(): number {
    return this.#waiting?.length ?? 0;
  }

  /** Counts answered logins: an open notes it as it starts, and gives it to `begin`. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * The hooks of a new attempt; `end` must be called with them once it settles. `since`: the
   * generation when the attempt's open started (a login answered since speaks for it).
   */
  begin(since = this.#generation): ConnectAttemptHooks {
    return new Attempt(this, since);
  }

  /** Whether an attempt of an open started at generation `since` would be refused its login turn. */
  refusedSince(since: number): boolean {
    return this.#answeredFor(since) === 'refused';
  }

  /**
   * What already speaks for an attempt begun at generation `since`: a usable connection, or a
   * login answered since it began; undefined when nothing does yet.
   */
  #answeredFor(since: number): 'granted' | 'refused' | undefined {
    if (this.#options.proven()) return 'granted';
    if (since < this.#generation) return this.#lastAnswer ? 'granted' : 'refused';
    return undefined;
  }

  /** The pool closed: attempts waiting for a turn end without logging in, and so do later ones. */
  close(): void {
    this.#closed = true;
    this.#answerAll('closed');
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
    const wasLoggingIn = this.#loggingIn === attempt;
    if (wasLoggingIn) this.#loggingIn = undefined;
    // A login the server answered, whichever attempt made it (one let in because a connection
    // was usable, or an earlier login spoke for it, counts too): it speaks for every attempt
    // begun so far, those still in their key exchange included. A refusal counts only from an
    // attempt that offered credentials: another's could be a host key it did not accept.
    if (how === 'connected' || (how === 'refused' && attempt.offered)) {
      this.#generation++;
      this.#lastAnswer = how === 'connected';
      this.#answerAll(this.#lastAnswer ? 'granted' : 'refused');
    } else if (wasLoggingIn) {
      this.#handOn();
    }
  }

  /** @internal Attempt.reached */
  noteReached(attempt: Attempt): void {
    if (attempt.isReached || attempt.ended) return;
    attempt.isReached = true;
    if (this.#reachedInFlight++ === 0) this.#options.serverReached();
  }

  /** @internal Attempt.loginTurn */
  turnOf(attempt: Attempt): LoginTurnAnswer | Promise<LoginTurnAnswer> {
    if (this.#closed) return 'closed';
    if (attempt.ended) return 'refused';
    const answered = this.#answeredFor(attempt.generation);
    if (answered) return this.#answer(attempt, answered);
    if (this.#loggingIn === undefined) {
      this.#loggingIn = attempt;
      return this.#answer(attempt, 'granted');
    }
    return new Promise((resolve) => {
      attempt.grant = resolve;
      (this.#waiting ??= []).push(attempt);
    });
  }

  #answer(attempt: Attempt, answer: LoginTurnAnswer): LoginTurnAnswer {
    if (answer === 'granted') attempt.offered = true;
    return answer;
  }

  #handOn(): void {
    const next = this.#waiting?.shift();
    if (!next) return;
    this.#loggingIn = next;
    const grant = next.grant!;
    next.grant = undefined;
    grant(this.#answer(next, 'granted'));
  }

  #answerAll(answer: LoginTurnAnswer): void {
    const waiting = this.#waiting ?? [];
    this.#waiting = undefined;
    for (const attempt of waiting) {
      const grant = attempt.grant!;
      attempt.grant = undefined;
      grant(this.#answer(attempt, answer));
    }
  }
}
