import { sleep, systemClock } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import type { BudgetMember, ConnectionBudget } from './connection-budget.js';
import { ConnectionStore } from './connection-store.js';
import { Connector } from './connector.js';
import type { OpenResult } from './connector.js';
import { AcquireCancelled, errorTypeOf } from '../command/error-mapping.js';
import { AcquireTimeoutError, ChannelRefusedError, ConnectError, PoolClosedError } from '../core/errors.js';
import { HealthMonitor } from './health-monitor.js';
import { HostPoolEventStream } from './host-pool-events.js';
import type { AcquireOutcome, OpenPurpose, TraceParent } from './host-pool-events.js';
import { Housekeeper } from './housekeeper.js';
import { PendingAcquire, PendingAcquires } from './pending-acquires.js';
import type { AcquireRequest } from './pending-acquires.js';
import type { ResolvedPoolConfig } from '../config/pool-config.js';
import { ChannelOpenCancelled, ChannelOpenRefusal } from '../ssh/connection.js';
import { CONNECTION_LOST, emptyOutcome } from '../command/channel-contract.js';
import type { ConnectionFactory, PoolConnection, RunningChannel } from '../ssh/connection.js';
import type { CancelReason, ChannelOutcome, ChannelSpec } from '../command/channel-contract.js';
import { PoolEntry } from './pool-entry.js';
import { promiseOf } from '../core/promise-of.js';
import { processHold } from '../core/process-hold.js';
import type { ProcessHold } from '../core/process-hold.js';
import { SlotLender } from './slot-lender.js';
import type { ConnectionCounts, ConnectionEventDetails } from './types.js';
import type { CloseReason } from '../ssh/connection.js';

export type { AcquireRequest } from './pending-acquires.js';

/** One channel slot on one connection, held by one command or lease. */
export interface Slot {
  readonly entry: PoolEntry;
  readonly connection: PoolConnection;
  readonly outcome: AcquireOutcome;
  readonly waitMs: number;
  /** Clock time the slot was granted. */
  readonly grantedAt: number;
}

export interface ExecOutcome {
  readonly channel: ChannelOutcome;
  readonly slot: Slot;
}

/** Live numbers of one pool key for the observable instruments. */
export interface HostPoolGauges extends ConnectionCounts {
  readonly maxConnections: number;
  /** Channels the connections could carry at once, counting unopened ones at the configured limit. */
  readonly channelCapacity: number;
  readonly reconnectGivenUp: boolean;
}

export interface HostPoolOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly config: ResolvedPoolConfig;
  /** Opens one connection of this pool key (one attempt). */
  readonly factory: ConnectionFactory;
  readonly budget: ConnectionBudget;
  /** @default the system clock */
  readonly clock?: Clock;
  /** @default the process-wide hold */
  readonly hold?: ProcessHold;
}

export interface CloseOptions {
  /** ms to let running and queued work finish before it is stopped. */
  readonly timeout: number;
}

export const MAX_CHANNEL_ATTEMPTS = 10;

const NO_ATTEMPTS: readonly number[] = Object.freeze([]);

/** After a cancelled command's kill was sent, how long its channel may take to close before its connection is retired. */
export const STUCK_CHANNEL_MS = 750;
/** After a cancel, how long the kill may take to be sent before the channel counts as stuck. */
export const KILL_WAIT_MS = 5_000;
/** After the drain timeout, how long stopped commands get to release their channels. */
const FORCED_STOP_MS = 1_000;

/**
 * The connections of one pool key. It coordinates its parts and does no job itself:
 * - `PendingAcquires`: waiting acquires with their priority, timeout and last cause;
 * - `SlotLender` over `PoolEntry`s: which connection lends the next channel slot;
 * - `Connector` behind `ConnectionStore` (generic-pool): the one path that opens a connection,
 *   and the cap;
 * - `Housekeeper`: idle and lifetime expiry, warm minimum, reconnect; `HealthMonitor`: probes.
 * What happens is published on `events`; telemetry, metrics and public events observe it.
 * Invariants: non-retired open + opening connections <= `maxConnections` (the store's cap);
 * every acquire settles exactly once; pending or running work holds the process, idle state
 * does not.
 */
export class HostPool implements BudgetMember {
  readonly name: string;
  readonly details: ConnectionEventDetails;
  readonly config: ResolvedPoolConfig;
  readonly events = new HostPoolEventStream();
  readonly clock: Clock;

  readonly #hold: ProcessHold;
  readonly #budget: ConnectionBudget;
  readonly #entries = new SlotLender();
  readonly #pending = new PendingAcquires<Slot>();
  readonly #store: ConnectionStore;
  readonly #housekeeper: Housekeeper;
  readonly #health: HealthMonitor;
  readonly #opens = new Set<Promise<OpenResult>>();
  readonly #running = new Set<AbortController>();
  readonly #closeController = new AbortController();
  readonly #idleClosed = new WeakMap<PoolEntry, number>();
  readonly #released = new WeakSet<Slot>();
  #lastConnectError: ConnectError | undefined;
  #lastRefusal: Error | undefined;
  #saturated = false;
  #closing: Promise<void> | undefined;
  #drainWatchers: Array<() => void> = [];

  constructor(options: HostPoolOptions) {
    this.name = options.name;
    this.config = options.config;
    this.details = { poolName: options.name, host: options.host, port: options.port, username: options.username };
    this.clock = options.clock ?? systemClock;
    this.#hold = options.hold ?? processHold;
    this.#budget = options.budget;
    const connector = new Connector({
      endpoint: { poolName: options.name, host: options.host, port: options.port },
      factory: options.factory,
      budget: options.budget,
      budgetMember: this,
      clock: this.clock,
      events: this.events,
      maxConcurrentConnects: options.config.maxConcurrentConnects,
      backoff: options.config.reconnect,
      closed: this.#closeController.signal,
    });
    this.#store = new ConnectionStore(connector, options.config.maxConnections);
    this.#housekeeper = new Housekeeper({
      config: this.config,
      clock: this.clock,
      events: this.events,
      closed: this.#closeController.signal,
      usableCount: () => this.#entries.usableCount(),
      openingCount: () => this.#store.opening,
      hasRoom: () => this.#store.size < this.#store.max,
      waitingCount: () => this.#pending.length,
      idleEntries: () => this.#entries.idle(),
      closeIdle: (entry, reason) => this.#closeIdle(entry, reason),
      isExpired: (entry) => this.#isExpired(entry),
      open: (purpose, attempts) => this.#open(purpose, attempts),
      failWaiters: (error) => this.#failWaiters(error),
    });
    this.#health = new HealthMonitor(options.config.healthCheck, {
      events: this.events,
      clock: this.clock,
      idleEntries: () => this.#entries.idle(),
      probeFreed: (entry) => this.#afterRoomMade(entry),
    });
    options.budget.join(this);
    // Bookkeeping, not telemetry: which connect attempts each waiting acquire waited on.
    this.events.subscribe((event) => {
      if (event.type === 'connect-started') this.#pending.noteConnectAttempt(event.attemptId);
    });
  }

  /** Starts background upkeep (warm minimum, expiry, probes). Separate so observers can subscribe first. */
  start(): void {
    this.#housekeeper.start();
    this.#health.start();
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Live counts, computed now from the connections and queue. */
  stats(): ConnectionCounts {
    let active = 0;
    let idle = 0;
    let channels = 0;
    for (const entry of this.#entries) {
      if (!entry.connection.usable) continue;
      if (entry.busy || entry.retiring) active++;
      else idle++;
      channels += entry.openChannels;
    }
    return { activeConnections: active, idleConnections: idle, totalConnections: active + idle, pendingRequests: this.#pending.length, openChannels: channels };
  }

  gauges(): HostPoolGauges {
    let capacity = 0;
    let counted = 0;
    for (const entry of this.#entries) {
      if (!entry.lendable) continue;
      capacity += entry.channelLimit;
      counted++;
    }
    capacity += Math.max(0, this.config.maxConnections - counted) * this.config.maxChannelsPerConnection;
    return { ...this.stats(), maxConnections: this.config.maxConnections, channelCapacity: capacity, reconnectGivenUp: this.#housekeeper.gaveUp };
  }

  // ---- acquiring ----

  /** Takes a channel slot: on a connection with room, else waits for one. */
  acquire(request: AcquireRequest, front = false): Promise<Slot> {
    const startedAtEpoch = this.clock.epochNow();
    // A retry at the front belongs to a command accepted before the close: it may go on.
    if (this.#closing && !front) {
      this.#acquireFailed(request.trace, startedAtEpoch, 'error', 0, 'ERR_SSHPOOL_POOL_CLOSED', NO_ATTEMPTS);
      return Promise.reject(new PoolClosedError(`The pool for ${this.name} is closed`));
    }
    if (request.cancel?.aborted) return Promise.reject(new AcquireCancelled(request.cancel.reason as CancelReason));
    if (this.#pending.length === 0 || front) {
      const entry = this.#entries.pick();
      if (entry) return Promise.resolve(this.#grant(entry, 0, request.trace, startedAtEpoch, NO_ATTEMPTS));
    }
    return new Promise<Slot>((resolve, reject) => {
      const pending: PendingAcquire<Slot> = new PendingAcquire<Slot>(request, front, this.clock.now(), this.#hold, resolve, (error) => {
        const timedOut = error instanceof AcquireTimeoutError || (error instanceof AcquireCancelled && error.reason === 'timeout');
        this.#acquireFailed(request.trace, startedAtEpoch, timedOut ? 'timeout' : 'error', this.clock.now() - pending.enqueuedAt, errorTypeOf(error), pending.connectAttempts);
        reject(error);
      });
      pending.lastCause = this.#lastConnectError;
      pending.arm(
        this.clock,
        this.config.acquireTimeout,
        () => {
          if (!this.#dequeue(pending)) return;
          const cause = pending.lastCause;
          const because = cause ? `; last connection error: ${cause.message}` : '';
          pending.reject(new AcquireTimeoutError(
            `No channel to ${this.name} became free within ${this.config.acquireTimeout} ms${because}`,
            this.name,
            this.config.acquireTimeout,
            cause ? { cause } : undefined,
          ));
        },
        () => {
          if (this.#dequeue(pending)) pending.reject(new AcquireCancelled(request.cancel?.reason as CancelReason));
        },
      );
      this.#pending.add(pending);
      this.#grow();
    });
  }

  #grant(entry: PoolEntry, waitMs: number, parent: TraceParent | undefined, startedAtEpoch: number, connectAttempts: readonly number[]): Slot {
    const idleSince = entry.idleSince;
    const first = entry.lend();
    const now = this.clock.now();
    // A connection's first slot pays for its opening; every later one is a reuse.
    const outcome: AcquireOutcome = first ? 'created' : 'reused';
    const idleMs = !first && idleSince !== undefined ? now - idleSince : undefined;
    this.events.emit({ type: 'acquired', outcome, connection: entry.connection, waitMs, idleMs, parent, startedAtEpoch, connectAttempts });
    return { entry, connection: entry.connection, outcome, waitMs, grantedAt: now };
  }

  #acquireFailed(
    parent: TraceParent | undefined, startedAtEpoch: number, outcome: 'timeout' | 'error', waitMs: number, errorType: string, connectAttempts: readonly number[],
  ): void {
    this.events.emit({ type: 'acquire-failed', outcome, waitMs, errorType, parent, startedAtEpoch, connectAttempts });
  }

  #dequeue(pending: PendingAcquire<Slot>): boolean {
    if (!this.#pending.remove(pending)) return false;
    if (this.#pending.length === 0) this.#saturated = false;
    queueMicrotask(() => this.#checkDrained());
    return true;
  }

  #serveWaiters(): void {
    while (this.#pending.length > 0) {
      const entry = this.#entries.pick();
      if (!entry) break;
      const pending = this.#pending.shift()!;
      const waitMs = this.clock.now() - pending.enqueuedAt;
      pending.resolve(this.#grant(entry, waitMs, pending.request.trace, this.clock.epochNow() - waitMs, pending.connectAttempts));
    }
    if (this.#pending.length === 0) this.#saturated = false;
  }

  #failWaiters(error: Error): void {
    for (const pending of this.#pending.drain()) pending.reject(error);
    this.#saturated = false;
    this.#checkDrained();
  }

  // ---- opening ----

  /** The one place that decides whether to open more connections for waiting acquires. */
  #grow(): void {
    const waiting = this.#pending.length;
    if (waiting === 0) return;
    const perConnection = this.config.maxChannelsPerConnection;
    const uncovered = waiting - this.#store.opening * perConnection;
    const room = this.#store.max - this.#store.size;
    // Until one connection of this key is open, open one at a time: with bad credentials a
    // burst of commands must cost the server one failed login, not one per connection slot.
    const untested = this.#entries.usableCount() === 0;
    const allowed = untested ? (this.#store.opening === 0 ? Math.min(1, room) : 0) : room;
    const wanted = Math.ceil(uncovered / perConnection);
    for (let i = 0; i < Math.min(wanted, allowed); i++) void this.#open('demand', this.config.maxRetries + 1);
    if (uncovered > room * perConnection && !this.#saturated) {
      this.#saturated = true;
      this.events.emit({ type: 'pool-full' });
    }
  }

  #open(purpose: OpenPurpose, attempts: number): Promise<OpenResult> {
    const opened = this.#store.open({
      purpose,
      attempts,
      stillWanted: () => !this.#closeController.signal.aborted && (purpose !== 'demand' || this.#pending.length > 0),
    });
    this.#opens.add(opened);
    void opened.then((result) => {
      this.#opens.delete(opened);
      if (result.ok) this.#adopt(result.connection);
      else this.#openFailed(result.error, purpose);
      this.#checkDrained();
    });
    return opened;
  }

  #adopt(connection: PoolConnection): void {
    const entry = new PoolEntry(connection, this.config.maxChannelsPerConnection, this.clock.now());
    this.#entries.add(entry);
    this.#lastConnectError = undefined;
    this.#housekeeper.connectionOpened();
    connection.onClose((reason, error) => this.#entryClosed(entry, reason, error));
    if (this.#closeController.signal.aborted && this.#pending.length === 0) {
      connection.close('shutdown');
      return;
    }
    this.#serveWaiters();
    if (!entry.busy) this.#budget.connectionIdled(this);
    this.#grow();
  }

  #openFailed(error: ConnectError, purpose: OpenPurpose): void {
    this.#lastConnectError = error;
    this.#pending.noteCause(error);
    // The open already retried (with backoff): its failure is the answer for now. Waiters fail
    // unless an open connection of this key will free a slot for them; waiting on other opens
    // would chain opens forever while the server is down.
    if (purpose === 'demand' && (!error.transient || this.#entries.usableCount() === 0)) this.#failWaiters(error);
  }

  #entryClosed(entry: PoolEntry, reason: CloseReason, error: Error | undefined): void {
    const wasBusy = entry.busy;
    this.#entries.delete(entry);
    this.#store.remove(entry.connection);
    this.#budget.release();
    this.events.emit({ type: 'closed', connection: entry.connection, reason, error, idleMs: this.#idleClosed.get(entry) });
    const unexpected = reason === 'remote' || reason === 'error' || reason === 'unhealthy';
    if (unexpected && !this.#closing) this.#housekeeper.connectionLost(wasBusy);
    this.#grow();
    this.#checkDrained();
  }

  // ---- running commands ----

  /**
   * Runs one command on a slot of its own. A refused channel lowers that connection's limit
   * and the command tries again at the head of the queue, so a server's `MaxSessions` is
   * learned instead of surfacing as failures.
   */
  async execute(spec: ChannelSpec, request: AcquireRequest): Promise<ExecOutcome> {
    const giveHoldBack = this.#hold.take();
    // The pool's own controller: closeAll() cuts running commands through it too.
    const cancel = new AbortController();
    const forward = (): void => cancel.abort(request.cancel!.reason);
    if (request.cancel?.aborted) forward();
    else request.cancel?.addEventListener('abort', forward, { once: true });
    this.#running.add(cancel);
    let handedOff = false;
    try {
      let lostDuringOpen = 0;
      for (let attempt = 1; attempt <= MAX_CHANNEL_ATTEMPTS; attempt++) {
        const slot = await this.acquire({ priority: request.priority, cancel: cancel.signal, trace: request.trace }, attempt > 1);
        const running = await this.openOnSlot(slot, spec, cancel.signal, request.trace);
        if (typeof running === 'object') {
          handedOff = true;
          const channel = await this.follow(slot, running, cancel.signal, () => {
            this.#running.delete(cancel);
            giveHoldBack();
            this.#checkDrained();
          }, true);
          return { channel, slot };
        }
        this.releaseSlot(slot);
        // A connection that closes in answer to this command's request, twice, is the command's
        // doing (sshd drops a connection over a malformed request): it fails alone instead of
        // taking one connection after another down with it.
        if (running === 'lost' && ++lostDuringOpen >= 2) return { channel: CONNECTION_LOST, slot };
        if (running === 'refused') await this.pauseAfterRefusal(attempt);
      }
      throw this.refusedTooOften();
    } finally {
      request.cancel?.removeEventListener('abort', forward);
      if (!handedOff) {
        this.#running.delete(cancel);
        giveHoldBack();
        this.#checkDrained();
      }
    }
  }

  /**
   * Follows a running channel to its end. `ownsSlot`: the slot was taken for this channel alone
   * and is released when the server frees the channel (a lease keeps its slot). After a cancel,
   * a channel that does not close within `STUCK_CHANNEL_MS` retires its connection (and gives
   * its slot back), so no slot is held forever. `done` runs once the command is over for the
   * pool: settled, and its channel freed or its connection retired.
   */
  follow(slot: Slot, running: RunningChannel, cancel: AbortSignal, done: () => void, ownsSlot = false): Promise<ChannelOutcome> {
    let freed = false;
    let stuckTimer: { cancel(): void } | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      stuckTimer?.cancel();
      cancel.removeEventListener('abort', onCancel);
      done();
    };
    let extended = false;
    const giveUpOnChannel = (): void => {
      // A kill the server confirmed will close the channel: on a loaded server that can take
      // longer, so it gets one more grace period before its connection is given up on.
      if (!freed && !extended && running.killConfirmed?.()) {
        extended = true;
        stuckTimer = this.clock.setTimeout(giveUpOnChannel, KILL_WAIT_MS);
        return;
      }
      if (!freed) {
        this.#retire(slot.entry);
        if (ownsSlot) this.releaseSlot(slot);
      }
      finish();
    };
    const onCancel = (): void => {
      if (freed) return;
      // The grace period runs from the kill: under load the channel's open, the process-group
      // report and the kill channel may each take a while. A kill that never comes (a shell that
      // never reported its group) is waited for only so long.
      stuckTimer = this.clock.setTimeout(giveUpOnChannel, running.killSent ? KILL_WAIT_MS : STUCK_CHANNEL_MS);
      void running.killSent?.then(() => {
        if (finished || freed) return;
        stuckTimer?.cancel();
        stuckTimer = this.clock.setTimeout(giveUpOnChannel, STUCK_CHANNEL_MS);
      });
    };
    if (cancel.aborted) onCancel();
    else cancel.addEventListener('abort', onCancel, { once: true });
    void running.freed.then(() => {
      freed = true;
      if (ownsSlot) this.releaseSlot(slot);
      if (cancel.aborted) finish();
    });
    // A continuation, not an async function (see `promiseOf`).
    return running.outcome.then((outcome) => {
      if (!cancel.aborted || freed) finish();
      return outcome;
    });
  }

  /** The server frees a session slot a little after the close; give it that moment. */
  pauseAfterRefusal(attempt: number): Promise<void> {
    return sleep(this.clock, Math.min(500, 5 * 2 ** attempt));
  }

  refusedTooOften(): ChannelRefusedError {
    const cause = this.#lastRefusal;
    return new ChannelRefusedError(
      `The server ${this.name} refused a session channel ${MAX_CHANNEL_ATTEMPTS} times in a row`,
      this.name,
      cause ? { cause } : undefined,
    );
  }

  /**
   * Opens a channel on a held slot and starts the command. The caller releases the slot.
   * `refused`: the server refused the channel; `lost`: the connection closed meanwhile.
   */
  openOnSlot(slot: Slot, spec: ChannelSpec, cancel: AbortSignal, trace?: TraceParent): Promise<RunningChannel | 'refused' | 'lost'> {
    const { entry } = slot;
    entry.openingStarted();
    const startedAt = this.clock.now();
    return promiseOf(() => entry.connection.openChannel(spec, cancel)).then((running) => {
      entry.openingEnded();
      this.events.emit({ type: 'channel-opened', connection: entry.connection, parent: trace, openMs: this.clock.now() - startedAt, atEpoch: this.clock.epochNow() });
      return running;
    }, (error: unknown) => this.#channelOpenFailed(entry, cancel, error));
  }

  /** What a failed channel open means for the command: a cancelled one still follows its late channel. */
  #channelOpenFailed(entry: PoolEntry, cancel: AbortSignal, error: unknown): RunningChannel | 'refused' | 'lost' {
    entry.openingEnded();
    if (error instanceof ChannelOpenCancelled) {
      return {
        outcome: Promise.resolve(emptyOutcome(cancel.reason as CancelReason)),
        freed: error.settled,
        killSent: error.killSent,
        killConfirmed: error.killConfirmed,
      };
    }
    this.#lastRefusal = error as Error;
    if (!entry.connection.usable) return 'lost';
    if (error instanceof ChannelOpenRefusal) {
      entry.noteRefusal();
      this.events.emit({ type: 'channel-refused', connection: entry.connection });
    }
    return 'refused';
  }

  /** Gives a slot back (once; later calls do nothing); the connection serves a waiter, goes idle, or retires. */
  releaseSlot(slot: Slot): void {
    if (this.#released.has(slot)) return;
    this.#released.add(slot);
    const now = this.clock.now();
    slot.entry.release(now);
    this.events.emit({ type: 'released', connection: slot.connection, heldMs: now - slot.grantedAt });
    this.#afterRoomMade(slot.entry);
  }

  /** A connection gained room (a slot or a probe's channel freed). */
  #afterRoomMade(entry: PoolEntry): void {
    const { connection } = entry;
    if (connection.usable && entry.openChannels === 0) {
      if (entry.retiring) connection.close('expired');
      else if (this.#isExpired(entry)) connection.close('expired');
    }
    if (entry.lendable && !this.#isExpired(entry)) this.#serveWaiters();
    if (entry.lendable && !entry.busy) this.#budget.connectionIdled(this);
    this.#checkDrained();
  }

  /** A connection whose cancelled channel will not close: no new channels, and off the cap. */
  #retire(entry: PoolEntry): void {
    if (entry.retiring || !entry.connection.usable) return;
    entry.retire();
    this.#store.remove(entry.connection, true);
    this.events.emit({ type: 'retired', connection: entry.connection, why: 'stuck-channel' });
    if (entry.openChannels === 0) entry.connection.close('expired');
    this.#grow();
  }

  #isExpired(entry: PoolEntry): boolean {
    return this.config.maxLifetime > 0 && this.clock.now() - entry.openedAt >= this.config.maxLifetime;
  }

  // ---- upkeep and closing ----

  /**
   * Opens connections until `count` are open (at most `maxConnections`), counting those already
   * opening, then leaves them idle. Rejects with the connect error when one could not be opened.
   */
  async warmUp(count: number): Promise<void> {
    if (this.#closing) throw new PoolClosedError(`The pool for ${this.name} is closed`);
    const target = Math.min(count, this.config.maxConnections);
    const missing = target - this.#entries.usableCount() - this.#store.opening;
    const opens = [...this.#opens];
    for (let i = 0; i < missing && this.#store.size < this.#store.max; i++) opens.push(this.#open('warm-up', this.config.maxRetries + 1));
    const results = await Promise.all(opens);
    if (this.#entries.usableCount() >= target) return;
    const failure = results.find((result) => !result.ok);
    if (failure && !failure.ok) throw failure.error;
  }

  /** Closes every idle connection of this pool key now. */
  async closeIdle(): Promise<void> {
    const idle = this.#entries.idle();
    for (const entry of idle) this.#closeIdle(entry, 'idle');
    await Promise.all(idle.map((entry) => whenClosed(entry.connection)));
  }

  #closeIdle(entry: PoolEntry, reason: 'idle' | 'expired'): void {
    if (reason === 'idle') this.#idleClosed.set(entry, this.clock.now() - (entry.idleSince ?? this.clock.now()));
    entry.connection.close(reason);
  }

  /** Budget eviction: gives up the longest-idle connection, never one in use. */
  closeOneIdleConnection(): boolean {
    const idle = this.#entries.idle().sort((a, b) => (a.idleSince ?? 0) - (b.idleSince ?? 0))[0];
    if (!idle) return false;
    this.#closeIdle(idle, 'idle');
    return true;
  }

  /**
   * Refuses new acquires, lets queued and running work finish for up to `timeout` ms, then
   * stops what remains (commands end with `AbortedError`, queued acquires with
   * `PoolClosedError`) and closes every connection with reason `shutdown`.
   */
  close(options: CloseOptions): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  async #close(options: CloseOptions): Promise<void> {
    // A drain the caller awaits is work: the process stays until it is over.
    const giveHoldBack = this.#hold.take();
    try {
      await this.#drainAndClose(options);
    } finally {
      giveHoldBack();
    }
  }

  async #drainAndClose({ timeout }: CloseOptions): Promise<void> {
    this.#closeController.abort();
    this.#housekeeper.stop();
    this.#health.stop();
    await Promise.resolve();
    const drained = await this.#drained(timeout);
    if (!drained) {
      this.#failWaiters(new PoolClosedError(`The pool for ${this.name} closed before a channel became free (closeAll drain timeout ${timeout} ms)`));
      for (const controller of [...this.#running]) controller.abort('shutdown');
      await this.#drained(FORCED_STOP_MS);
    }
    const connections = [...this.#entries].map((entry) => entry.connection);
    for (const connection of connections) connection.close('shutdown');
    this.#budget.leave(this);
    await Promise.all(connections.map(whenClosed));
    await this.#store.close();
  }

  #isDrained(): boolean {
    if (this.#pending.length > 0 || this.#running.size > 0) return false;
    for (const entry of this.#entries) if (entry.busy) return false;
    return true;
  }

  #drained(withinMs: number): Promise<boolean> {
    if (this.#isDrained()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.#drainWatchers = this.#drainWatchers.filter((watcher) => watcher !== onDrained);
        resolve(false);
      }, withinMs);
      const onDrained = (): void => {
        timer.cancel();
        resolve(true);
      };
      this.#drainWatchers.push(onDrained);
    });
  }

  #checkDrained(): void {
    if (!this.#closing || this.#drainWatchers.length === 0 || !this.#isDrained()) return;
    for (const resolve of this.#drainWatchers.splice(0)) resolve();
  }
}

function whenClosed(connection: PoolConnection): Promise<void> {
  if (connection.closed) return Promise.resolve();
  return new Promise((resolve) => connection.onClose(() => resolve()));
}
