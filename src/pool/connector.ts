import { backoffDelay } from '../core/backoff.js';
import { sleep } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import type { BudgetMember, ConnectionBudget } from './connection-budget.js';
import { ConnectError, ConnectTimeoutError } from '../core/errors.js';
import type { EndpointInfo } from '../core/errors.js';
import type { HostPoolEventStream, OpenPurpose, TraceParent } from './host-pool-events.js';
import type { ConnectionFactory, PoolConnection } from '../ssh/connection.js';
import { connectPhasesOf } from '../ssh/connect-phases.js';
import { ConnectGate } from './connect-gate.js';
import { FirstLogin } from './first-login.js';
import type { HandshakeEnd } from './connect-gate.js';
import type { ReconnectConfig } from '../config/types.js';

/** One request to open a connection. */
export interface OpenRequest {
  readonly purpose: OpenPurpose;
  /** Attempts in all (1 = no retry). Transient failures only are retried. */
  readonly attempts: number;
  /**
   * Retry only handshakes the server dropped before their key exchange ended (beyond its
   * `MaxStartups`): for opens started beside a pool key's first one, which a server failing
   * later in the handshake must not multiply. @default false
   */
  readonly retryDropsOnly?: boolean;
  /** Asked before each retry: with nobody left waiting, a retry is pointless. */
  readonly stillWanted: () => boolean;
  /** Asked as each attempt starts: the trace of the acquire it is made for, if any. */
  readonly cause?: (() => TraceParent | undefined) | undefined;
}

export type OpenResult =
  | { readonly ok: true; readonly connection: PoolConnection; readonly attemptId: number }
  | {
    readonly ok: false;
    readonly error: ConnectError;
    readonly attemptId: number | undefined;
    /** Nothing was attempted: by the time the open had its place, nobody wanted it any more. */
    readonly unneeded?: true;
  };

export interface ConnectorOptions {
  readonly endpoint: EndpointInfo;
  readonly factory: ConnectionFactory;
  readonly budget: ConnectionBudget;
  readonly budgetMember: BudgetMember;
  readonly clock: Clock;
  readonly events: HostPoolEventStream;
  readonly maxConcurrentConnects: number;
  readonly backoff: Required<ReconnectConfig>;
  /** Fires when the pool closes: backoff sleeps end early and no new attempt starts. */
  readonly closed: AbortSignal;
  /**
   * Hears every failed attempt, retried or not: an acquire that times out while the open still
   * retries names this error as its cause, instead of none.
   */
  readonly attemptFailed?: (error: ConnectError) => void;
  /** Whether the pool key has a usable connection: then no attempt waits for another's login. */
  readonly proven: () => boolean;
  /** The first attempt in flight to reach the server did (the growth policy may start more). */
  readonly serverReached: () => void;
}

let nextAttemptId = 1;

/**
 * The one path that opens a connection (HikariCP's PoolEntryCreator): a permit from the
 * instance-wide budget, then attempts with backoff between them, each with a place at the
 * connect gate (at most `maxConcurrentConnects` handshakes, fewer after the server dropped some)
 * and, until the pool key has a connection, a login turn (`FirstLogin`). Never rejects: a
 * failure is a result, because the store that calls it
 * (generic-pool) would retry a rejected create in a tight loop.
 * Invariant: a successful open keeps its budget permit, which the connection's close gives back.
 */
export class Connector {
  readonly #options: ConnectorOptions;
  readonly #gate: ConnectGate;
  // Made by the first open under way and dropped with the last: most pool keys of a fleet sit
  // idle with their connections open, and need none.
  #firstLogin: FirstLogin | undefined;
  #opensUnderWay = 0;

  constructor(options: ConnectorOptions) {
    this.#options = options;
    this.#gate = new ConnectGate(options.maxConcurrentConnects);
  }

  /** Whether an attempt in flight has finished a key exchange with the server (see `FirstLogin`). */
  get serverAnswering(): boolean {
    return this.#firstLogin?.serverAnswering ?? false;
  }

  /** The pool closed (after its `closed` signal fired): attempts waiting for a login turn end now. */
  close(): void {
    this.#firstLogin?.close();
  }

  /** Handshakes this pool key may run at once now (learned from the server's drops). */
  get concurrentConnects(): number {
    return this.#gate.limit;
  }

  /** The result of an open that cannot start because the pool closed. */
  closedResult(): OpenResult {
    const { endpoint } = this.#options;
    return { ok: false, error: new ConnectError(`The pool for ${endpoint.poolName} closed while connecting`, endpoint, false), attemptId: undefined };
  }

  #unneededResult(): OpenResult {
    const { endpoint } = this.#options;
    const error = new ConnectError(`Opening a connection to ${endpoint.poolName} was given up: nothing waits for it any more`, endpoint, true);
    return { ok: false, error, attemptId: undefined, unneeded: true };
  }

  async open(request: OpenRequest): Promise<OpenResult> {
    this.#opensUnderWay++;
    const firstLogin = (this.#firstLogin ??= new FirstLogin({ proven: this.#options.proven, serverReached: this.#options.serverReached }));
    try {
      return await this.#openWith(request, firstLogin);
    } finally {
      if (--this.#opensUnderWay === 0) this.#firstLogin = undefined;
    }
  }

  async #openWith(request: OpenRequest, firstLogin: FirstLogin): Promise<OpenResult> {
    const { budget, budgetMember, clock, events, factory, closed, endpoint } = this.#options;
    // A login answered after this open started speaks for all its attempts (see FirstLogin).
    const since = firstLogin.generation;
    if (!(await budget.acquire(budgetMember))) return this.closedResult();
    let keepsPermit = false;
    try {
      let last: OpenResult | undefined;
      for (let attempt = 1; attempt <= request.attempts; attempt++) {
        // Retries of this open back off; a new open starts afresh, so that a caller's wait stays
        // bounded by its attempts instead of growing with the pool's failure history.
        if (attempt > 1) {
          await sleep(clock, backoffDelay(attempt - 1, this.#options.backoff), closed);
          if (!request.stillWanted()) break;
        }
        if (closed.aborted) break;
        // A place per attempt: a retry waiting out its backoff holds none.
        const place = await this.#gate.enter();
        let end: HandshakeEnd = 'failed';
        try {
          if (closed.aborted) break;
          // The wait for a place can be long (other handshakes, a halved limit): the commands it
          // was for may have failed meanwhile, or a login with these credentials been refused.
          if (!request.stillWanted() || firstLogin.refusedSince(since)) {
            if (last) break;
            return this.#unneededResult();
          }
          const attemptId = nextAttemptId++;
          events.emit({ type: 'connect-started', attemptId, purpose: request.purpose, cause: request.cause?.() });
          const startedAt = clock.now();
          const hooks = firstLogin.begin(since);
          try {
            const connection = await factory(hooks);
            firstLogin.end(hooks, 'connected');
            end = 'connected';
            if (closed.aborted) {
              connection.destroy('shutdown');
              break;
            }
            keepsPermit = true;
            events.emit({ type: 'connected', attemptId, connection, durationMs: connection.connectDurationMs });
            return { ok: true, connection, attemptId };
          } catch (error) {
            const connectError = error instanceof ConnectError
              ? error
              : new ConnectError(`Cannot connect to ${endpoint.poolName}: ${(error as Error).message}`, endpoint, true, { cause: error });
            firstLogin.end(hooks, connectError.transient ? 'transient' : 'refused');
            if (droppedHandshake(connectError)) end = 'dropped';
            events.emit({ type: 'connect-failed', attemptId, error: connectError, durationMs: clock.now() - startedAt });
            this.#options.attemptFailed?.(connectError);
            last = { ok: false, error: connectError, attemptId };
            if (!connectError.transient || (request.retryDropsOnly && end !== 'dropped')) break;
          }
        } finally {
          this.#gate.leave(place, end);
        }
      }
      return last ?? this.closedResult();
    } finally {
      if (!keepsPermit) budget.release();
    }
  }
}

/**
 * Whether the server dropped the handshake after accepting the TCP connection and before the
 * key exchange ended: what OpenSSH does beyond `MaxStartups` (ssh reports
 * "kex_exchange_identification: Connection closed by remote host"). A timeout is slowness, not
 * a drop; a refused TCP connection is a server that is down.
 */
function droppedHandshake(error: ConnectError): boolean {
  if (!error.transient || error instanceof ConnectTimeoutError) return false;
  const phases = connectPhasesOf(error).map((mark) => mark.phase);
  return phases.includes('tcp-connected') && !phases.includes('key-exchanged');
}
