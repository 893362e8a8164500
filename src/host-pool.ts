import { performance } from 'node:perf_hooks';
import genericPool from 'generic-pool';
import type { Pool } from 'generic-pool';
import { backoffDelay, sleep } from './backoff.js';
import { AcquireTimeoutError, ChannelRefusedError, ConnectError, PoolClosedError } from './errors.js';
import type { PoolMetricsRecorder } from './pool-metrics-recorder.js';
import type { ResolvedPoolConfig } from './pool-config.js';
import { runChannel } from './run-channel.js';
import type { CancelReason, ChannelOutcome, RunningChannel } from './run-channel.js';
import { Semaphore } from './semaphore.js';
import { nextSequence, WaitQueue } from './wait-queue.js';
import type { BudgetMember, ConnectionBudget } from './connection-budget.js';
import { HealthMonitor } from './health-monitor.js';
import { ChannelOpenCancelled, ChannelOpenRefusal, SSHConnection } from './ssh-connection.js';
import type { ConnectionSettings } from './ssh-connection.js';
import type { TypedEventEmitter } from './typed-event-emitter.js';
import { context as otelContext } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import {
  ATTR_ACQUIRE_OUTCOME,
  ATTR_ACQUIRE_WAIT,
  ATTR_CONNECTION_ID,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_RECONNECT_OUTCOME,
} from './telemetry/constants.js';
import type { AcquireSpanOutcome } from './telemetry/constants.js';
import { PoolTelemetry } from './telemetry/pool-telemetry.js';
import type { CloseReason, ConnectionCounts, ConnectionEventDetails } from './types.js';

/** What a host pool needs from the pool instance that owns it. */
export interface HostPoolContext {
  readonly events: TypedEventEmitter;
  readonly metrics: PoolMetricsRecorder;
  readonly telemetry: PoolTelemetry;
  readonly budget: ConnectionBudget;
}

export type AcquireOutcome = 'reused' | 'created';

/** One channel slot on one connection, held by one command or lease. */
export interface Slot {
  readonly connection: SSHConnection;
  readonly outcome: AcquireOutcome;
  readonly waitMs: number;
  /** performance.now() when the slot was granted. */
  readonly grantedAt: number;
}

export interface AcquireRequest {
  /** Higher first; equal priorities in arrival order. */
  readonly priority: number;
  /** Fires with a `CancelReason` when the caller gives up. */
  readonly cancel?: AbortSignal | undefined;
  /** Parent of the `ssh.pool.acquire` span; the active context when absent. */
  readonly trace?: Context | undefined;
}

/** Rejection of an acquire whose caller gave up (timeout or abort) while it waited. */
export class AcquireCancelled extends Error {
  override readonly name = 'AcquireCancelled';
  constructor(readonly reason: CancelReason) {
    super(`acquire cancelled: ${reason}`);
  }
}

/**
 * The `error.type` telemetry records for an error that ended an acquire or a command before
 * it ran: the stable code the caller's error carries (a cancelled wait becomes the command's
 * timeout or abort code).
 */
export function errorTypeOf(error: unknown): string {
  if (error instanceof AcquireCancelled) return error.reason === 'timeout' ? 'ERR_SSHPOOL_COMMAND_TIMEOUT' : 'ERR_SSHPOOL_ABORTED';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : ((error as Error | null)?.name ?? 'Error');
}

/** A spec of one command on one channel. */
export interface ChannelSpec {
  readonly command: string;
  readonly stdin: string | Buffer | undefined;
  readonly maxBuffer: number;
}

export interface ExecOutcome {
  readonly channel: ChannelOutcome;
  readonly slot: Slot;
}

/**
 * generic-pool retries a rejected create in a tight loop while the acquire that caused it
 * stays pending forever. So create never rejects: a failed open is delivered as this
 * placeholder, which the host pool destroys at once after failing its waiters.
 */
class ConnectFailure {
  constructor(readonly error: ConnectError) {}
}

type PooledResource = SSHConnection | ConnectFailure;

interface Waiter {
  readonly priority: number;
  readonly seq: number;
  readonly enqueuedAt: number;
  resolve(slot: Slot): void;
  reject(error: Error): void;
}

export const MAX_CHANNEL_ATTEMPTS = 10;

/**
 * The connections of one pool key. generic-pool owns their lifecycle (create, validate on
 * every lend, destroy, the `maxConnections` cap); this class lends *channel slots* on the
 * connections it has borrowed from generic-pool, and keeps the warm minimum, idle eviction,
 * health probes and reconnects, whose timing generic-pool cannot express. Invariants:
 * - a connection is borrowed from generic-pool exactly while it carries a slot, or while
 *   it is being handed to waiters;
 * - `borrowed.size + borrowsInFlight <= config.maxConnections`;
 * - waiters are served highest priority first, FIFO within a priority.
 */
export class HostPool implements BudgetMember {
  readonly name: string;
  readonly settings: ConnectionSettings;
  readonly config: ResolvedPoolConfig;

  #context: HostPoolContext;
  #pool: Pool<PooledResource>;
  #live = new Set<SSHConnection>();
  #borrowed = new Set<SSHConnection>();
  #unclaimed = new Set<SSHConnection>();
  #retireReasons = new WeakMap<SSHConnection, CloseReason>();
  #waiters = new WaitQueue<Waiter>();
  #borrowsInFlight = 0;
  #lastConnectError: ConnectError | undefined;
  #lastRefusal: Error | undefined;
  #connectGate: Semaphore;
  #closing = false;
  #saturated = false;
  #drainWatchers: Array<() => void> = [];
  #health: HealthMonitor;
  #maintenanceTimer: NodeJS.Timeout | undefined;
  #replenishing = false;
  // Set when reconnect used up its attempts: nothing reopens in the background until a
  // connection opens again (a command's demand), so a dead host is not retried forever.
  #gaveUp = false;
  #reconnecting = false;
  // Creates requested by the reconnect loop make one attempt: the loop owns their backoff.
  #singleAttemptCreates = 0;
  // Aborted by close(): cuts connect backoff short so closeAll() never waits on a dead host.
  #closeSignal = new AbortController();

  constructor(name: string, settings: ConnectionSettings, config: ResolvedPoolConfig, context: HostPoolContext) {
    this.name = name;
    this.settings = settings;
    this.config = config;
    this.#context = context;
    this.#connectGate = new Semaphore(config.maxConcurrentConnects);
    this.#pool = genericPool.createPool<PooledResource>(
      {
        create: () => this.#create(),
        destroy: (resource) => this.#destroy(resource),
        validate: (resource) => Promise.resolve(this.#isLendable(resource)),
      },
      {
        max: config.maxConnections,
        // The warm minimum and idle eviction are kept here, not by generic-pool: its `min`
        // re-creates a lost connection at once, with no backoff and no reconnect events, and
        // parks a failed create among the idle ones.
        min: 0,
        // Every lend is validated: a connection that died while idle is never handed out.
        testOnBorrow: true,
        // Most recently used first, so surplus connections stay idle long enough to expire.
        fifo: false,
        idleTimeoutMillis: Number.MAX_SAFE_INTEGER,
        evictionRunIntervalMillis: 0,
        autostart: true,
      },
    );
    const { idleTimeout, maxLifetime } = config;
    const shortest = Math.min(idleTimeout || Infinity, maxLifetime || Infinity);
    if (shortest !== Infinity) {
      this.#maintenanceTimer = setInterval(() => this.#maintain(), Math.max(10, Math.min(1_000, Math.floor(shortest / 4))));
      this.#maintenanceTimer.unref();
    }
    context.budget.join(this);
    this.#health = new HealthMonitor(config.healthCheck, {
      details: this.details,
      events: context.events,
      telemetry: context.telemetry,
      idleConnections: () => this.#idleConnections(),
      // Lent while its probe ran: the probe's channel may have been the last one open.
      probeFreed: (connection) => this.#offer(connection),
    });
    this.#health.start();
    if (config.warmUpConnections > 0) this.#replenish();
  }

  get details(): ConnectionEventDetails {
    return { poolName: this.name, host: this.settings.host, port: this.settings.port, username: this.settings.username };
  }

  /** Live counts, computed now. */
  stats(): ConnectionCounts {
    let active = 0;
    let idle = 0;
    let channels = 0;
    for (const connection of this.#live) {
      if (connection.state !== 'ready') continue;
      if (this.#borrowed.has(connection)) active++;
      else idle++;
      channels += connection.openChannels;
    }
    return {
      activeConnections: active,
      idleConnections: idle,
      totalConnections: active + idle,
      pendingRequests: this.#waiters.length,
      openChannels: channels,
    };
  }

  /** Takes a channel slot: on a borrowed connection with room, else on another one, else waits. */
  acquire(request: AcquireRequest, front = false): Promise<Slot> {
    const parent = request.trace ?? otelContext.active();
    const startedAt = Date.now();
    if (this.#closing) {
      this.#noteAcquireFailure(parent, startedAt, 'error', 0, 'ERR_SSHPOOL_POOL_CLOSED');
      return Promise.reject(new PoolClosedError(`The pool for ${this.name} is closed`));
    }
    if (request.cancel?.aborted) return Promise.reject(new AcquireCancelled(request.cancel.reason as CancelReason));
    if (this.#waiters.length === 0 || front) {
      const connection = this.#pickConnection();
      if (connection) {
        const slot = this.#grant(connection, 0);
        this.#noteAcquired(parent, startedAt, slot);
        return Promise.resolve(slot);
      }
    }
    return new Promise<Slot>((resolve, reject) => {
      const enqueuedAt = performance.now();
      const cancel = request.cancel;
      const settleWith = (settle: () => void): void => {
        clearTimeout(timer);
        cancel?.removeEventListener('abort', onCancel);
        settle();
      };
      const waiter: Waiter = {
        priority: request.priority,
        seq: nextSequence(front),
        enqueuedAt,
        resolve: (slot) => settleWith(() => {
          this.#noteAcquired(parent, startedAt, slot);
          resolve(slot);
        }),
        reject: (error) => settleWith(() => {
          const timedOut = error instanceof AcquireTimeoutError || (error instanceof AcquireCancelled && error.reason === 'timeout');
          this.#noteAcquireFailure(parent, startedAt, timedOut ? 'timeout' : 'error', performance.now() - enqueuedAt, errorTypeOf(error));
          reject(error);
        }),
      };
      const timer = setTimeout(() => {
        if (!this.#removeWaiter(waiter)) return;
        const cause = this.#lastConnectError;
        const because = cause ? `; last connection error: ${cause.message}` : '';
        waiter.reject(new AcquireTimeoutError(
          `No channel to ${this.name} became free within ${this.config.acquireTimeout} ms${because}`,
          this.name,
          this.config.acquireTimeout,
          cause ? { cause } : undefined,
        ));
      }, this.config.acquireTimeout);
      timer.unref();
      const onCancel = (): void => {
        if (this.#removeWaiter(waiter)) waiter.reject(new AcquireCancelled(cancel?.reason as CancelReason));
      };
      cancel?.addEventListener('abort', onCancel, { once: true });
      this.#waiters.add(waiter);
      this.#grow();
    });
  }

  /**
   * The acquire span is made once the outcome is known, back-dated to the start: that is what
   * lets `acquireSpans: 'non-reused'` keep only the interesting ones without a span per command.
   */
  #acquireSpan(parent: Context, startedAt: number, outcome: AcquireSpanOutcome): Span | undefined {
    const wanted = this.config.telemetry.acquireSpans;
    if (wanted === 'none' || (wanted === 'non-reused' && outcome === 'reused')) return undefined;
    return this.#context.telemetry.startAcquire(parent, this.name, startedAt);
  }

  #noteAcquired(parent: Context, startedAt: number, slot: Slot): void {
    this.#context.telemetry.recordAcquire(this.name, slot.outcome, slot.waitMs);
    const span = this.#acquireSpan(parent, startedAt, slot.outcome);
    if (!span) return;
    span.setAttributes({
      [ATTR_ACQUIRE_OUTCOME]: slot.outcome,
      [ATTR_ACQUIRE_WAIT]: slot.waitMs / 1000,
      [ATTR_CONNECTION_ID]: slot.connection.id,
    });
    if (slot.connection.connectSpan) span.addLink({ context: slot.connection.connectSpan });
    span.end();
  }

  #noteAcquireFailure(parent: Context, startedAt: number, outcome: AcquireSpanOutcome, waitMs: number, errorType: string): void {
    this.#context.telemetry.recordAcquire(this.name, outcome, waitMs);
    const span = this.#acquireSpan(parent, startedAt, outcome);
    if (!span) return;
    span.setAttributes({ [ATTR_ACQUIRE_OUTCOME]: outcome, [ATTR_ACQUIRE_WAIT]: waitMs / 1000 });
    PoolTelemetry.fail(span, errorType);
  }

  /**
   * Runs one command on a slot of its own. A refused channel lowers that connection's limit
   * and the command tries again at the head of the queue, so a server's `MaxSessions` is
   * learned instead of surfacing as failures.
   */
  async execute(spec: ChannelSpec, request: AcquireRequest & { cancel: AbortSignal }): Promise<ExecOutcome> {
    for (let attempt = 1; attempt <= MAX_CHANNEL_ATTEMPTS; attempt++) {
      const slot = await this.acquire(request, attempt > 1);
      const running = await this.openOnSlot(slot, spec, request.cancel);
      if (running !== 'refused') {
        void running.freed.then(() => {
          this.#context.telemetry.recordUseTime(this.name, performance.now() - slot.grantedAt);
          this.releaseSlot(slot.connection);
        });
        return { channel: await running.outcome, slot };
      }
      this.releaseSlot(slot.connection);
      await this.pauseAfterRefusal(attempt);
    }
    throw this.refusedTooOften();
  }

  /** The server frees a session slot a little after the close; give it that moment. */
  pauseAfterRefusal(attempt: number): Promise<void> {
    return sleep(Math.min(500, 5 * 2 ** attempt));
  }

  refusedTooOften(): ChannelRefusedError {
    const cause = this.#lastRefusal;
    return new ChannelRefusedError(
      `The server ${this.name} refused a session channel ${MAX_CHANNEL_ATTEMPTS} times in a row`,
      this.name,
      cause ? { cause } : undefined,
    );
  }

  /** Opens a channel on a held slot and starts the command. The caller releases the slot. */
  async openOnSlot(slot: Slot, spec: ChannelSpec, cancel: AbortSignal): Promise<RunningChannel | 'refused'> {
    const { connection } = slot;
    try {
      return await connection.openChannel(spec.command, (channel) =>
        runChannel(connection, channel, { stdin: spec.stdin, maxBuffer: spec.maxBuffer, cancel }), cancel);
    } catch (error) {
      if (error instanceof ChannelOpenCancelled) {
        const ending = cancel.reason === 'aborted' ? 'aborted' : 'timeout';
        const empty = Buffer.alloc(0);
        return { outcome: Promise.resolve({ stdout: empty, stderr: empty, exitCode: null, signal: null, ending }), freed: error.settled };
      }
      this.#lastRefusal = error as Error;
      if (error instanceof ChannelOpenRefusal) {
        // The channels this connection has established right now are what the server allows:
        // neither this refused one nor others still awaiting the server's answer count.
        connection.lowerChannelLimit(connection.openChannels - connection.openingChannels - 1);
        this.#context.telemetry.recordRefusal(this.name);
      }
      return 'refused';
    }
  }

  /** Gives a slot back; a connection left with no channel returns to generic-pool. */
  releaseSlot(connection: SSHConnection): void {
    connection.releaseSlot();
    this.#offer(connection);
  }

  /** A lent connection has room (just borrowed, or a channel freed): waiters take it, or it goes idle. */
  #offer(connection: SSHConnection): void {
    if (!this.#borrowed.has(connection)) return;
    if (connection.state === 'ready') this.#serveWaiters();
    if (connection.openChannels === 0) this.#giveBack(connection);
    this.#checkDrained();
  }

  /**
   * Opens connections until `count` are open (at most `maxConnections`), then leaves them idle.
   * Rejects with the connect error when one could not be opened.
   */
  async warmUp(count: number): Promise<void> {
    if (this.#closing) throw new PoolClosedError(`The pool for ${this.name} is closed`);
    // Borrowing every connection not already lent makes generic-pool create the missing ones.
    const wanted = Math.min(count, this.config.maxConnections) - this.#borrowed.size;
    if (wanted <= 0) return;
    const resources = await Promise.all(Array.from({ length: wanted }, () => this.#pool.acquire()));
    let failure: ConnectError | undefined;
    for (const resource of resources) {
      if (resource instanceof ConnectFailure) {
        failure ??= resource.error;
        void this.#pool.destroy(resource);
      } else {
        void this.#pool.release(resource).catch(() => {});
      }
    }
    this.#grow();
    if (failure) throw failure;
  }

  /** Closes every idle connection of this pool key now. */
  async closeIdle(): Promise<void> {
    const idle = [...this.#live].filter((c) => !this.#borrowed.has(c) && c.state === 'ready');
    await Promise.all(idle.map((connection) => this.#closeIdleConnection(connection)));
  }

  /**
   * Refuses new acquires, lets queued and running commands finish, then closes every
   * connection with reason `shutdown`.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#closeSignal.abort();
    this.#health.stop();
    clearInterval(this.#maintenanceTimer);
    await new Promise<void>((resolve) => {
      this.#drainWatchers.push(resolve);
      this.#checkDrained();
    });
    await this.#pool.drain();
    await this.#pool.clear();
    for (const connection of this.#live) connection.close('shutdown');
    this.#context.budget.leave(this);
    await Promise.all([...this.#live].map((c) => new Promise<void>((resolve) => {
      if (c.state === 'closed') resolve();
      else c.onClose(() => resolve());
    })));
  }

  #isDrained(): boolean {
    if (this.#waiters.length > 0 || this.#borrowsInFlight > 0) return false;
    for (const connection of this.#borrowed) if (connection.openChannels > 0) return false;
    return true;
  }

  #checkDrained(): void {
    if (!this.#closing || this.#drainWatchers.length === 0 || !this.#isDrained()) return;
    for (const resolve of this.#drainWatchers.splice(0)) resolve();
  }

  #pickConnection(): SSHConnection | undefined {
    let best: SSHConnection | undefined;
    for (const connection of this.#borrowed) {
      if (connection.freeSlots === 0) continue;
      if (!best || connection.openChannels < best.openChannels) best = connection;
    }
    return best;
  }

  #grant(connection: SSHConnection, waitMs: number): Slot {
    const created = this.#unclaimed.delete(connection);
    connection.reserveSlot();
    const grantedAt = performance.now();
    if (created) {
      return { connection, outcome: 'created', waitMs, grantedAt };
    }
    this.#context.metrics.connectionReused();
    this.#context.events.emit('connection:reused', this.settings.host, { ...this.details, connectionId: connection.id });
    return { connection, outcome: 'reused', waitMs, grantedAt };
  }

  #removeWaiter(waiter: Waiter): boolean {
    if (!this.#waiters.remove(waiter)) return false;
    if (this.#waiters.length === 0) this.#saturated = false;
    this.#checkDrained();
    return true;
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0) {
      const connection = this.#pickConnection();
      if (!connection) break;
      const waiter = this.#waiters.shift()!;
      waiter.resolve(this.#grant(connection, performance.now() - waiter.enqueuedAt));
    }
    if (this.#waiters.length === 0) this.#saturated = false;
  }

  /** Borrows more connections while queued demand exceeds what is on its way. */
  #grow(): void {
    if (this.#waiters.length === 0) return;
    const perConnection = this.config.maxChannelsPerConnection;
    const uncovered = this.#waiters.length - this.#borrowsInFlight * perConnection;
    const room = this.config.maxConnections - this.#borrowed.size - this.#borrowsInFlight;
    // Until one connection of this key has opened, open one at a time: with bad credentials a
    // burst of commands must cost the server one failed login, not one per connection slot.
    const untested = this.#readyCount() === 0;
    const allowed = untested ? (this.#borrowsInFlight === 0 ? Math.min(1, room) : 0) : room;
    const wanted = Math.ceil(uncovered / perConnection);
    for (let i = 0; i < Math.min(wanted, allowed); i++) this.#borrow();
    if (uncovered > room * perConnection && !this.#saturated) {
      this.#saturated = true;
      this.#context.events.emit('pool:full', this.settings.host, this.details);
    }
  }

  #borrow(): void {
    this.#borrowsInFlight++;
    const startedAt = performance.now();
    this.#pool.acquire().then(
      (resource) => {
        this.#borrowsInFlight--;
        if (resource instanceof ConnectFailure) {
          void this.#pool.destroy(resource);
          this.#onConnectFailure(resource.error);
          return;
        }
        const connection = resource;
        this.#borrowed.add(connection);
        // Opened for this borrow: its first slot is a "created" acquire; anything else was idle.
        if (connection.createdAt >= startedAt) this.#unclaimed.add(connection);
        else if (connection.idleSince !== undefined) {
          this.#context.metrics.idlePeriodEnded(performance.now() - connection.idleSince);
        }
        this.#offer(connection);
        this.#grow();
      },
      (error: Error) => {
        // generic-pool rejects only when it is draining; nothing is owed to anyone then.
        this.#borrowsInFlight--;
        this.#failWaiters(error);
      },
    );
  }

  #giveBack(connection: SSHConnection): void {
    this.#borrowed.delete(connection);
    this.#unclaimed.delete(connection);
    const retire = this.#closing ? 'shutdown' : this.#isExpired(connection) ? 'expired' : undefined;
    if (retire) {
      this.#retireReasons.set(connection, retire);
      void this.#pool.destroy(connection).catch(() => {});
    } else {
      void this.#pool.release(connection).catch(() => {});
      this.#context.budget.connectionIdled(this);
    }
  }

  #onConnectFailure(error: ConnectError): void {
    // The create already retried (maxRetries, with backoff): the failure is the answer for
    // now. Waiters fail unless an open connection of this key will free a slot for them;
    // waiting on other opens in flight would chain opens forever while the server is down.
    if (!error.transient || this.#borrowed.size === 0) this.#failWaiters(error);
  }

  #failWaiters(error: Error): void {
    for (const waiter of this.#waiters.drain()) waiter.reject(error);
    this.#saturated = false;
    this.#checkDrained();
  }

  #isExpired(connection: SSHConnection): boolean {
    return this.config.maxLifetime > 0 && performance.now() - connection.createdAt >= this.config.maxLifetime;
  }

  #isLendable(resource: PooledResource): boolean {
    // Every create answers a pending borrow (no `min`, no acquire timeout in generic-pool), so a
    // failure always reaches the borrower that asked for it, never an idle shelf.
    if (resource instanceof ConnectFailure) return true;
    if (resource.state !== 'ready') return false;
    if (this.#isExpired(resource)) {
      this.#retireReasons.set(resource, 'expired');
      return false;
    }
    return true;
  }

  async #create(): Promise<PooledResource> {
    if (!(await this.#context.budget.acquire(this))) {
      return new ConnectFailure(new ConnectError(`The pool for ${this.name} closed while waiting to connect`, this.settings, false));
    }
    let keepsPermit = false;
    await this.#connectGate.acquire();
    try {
      let lastError: ConnectError | undefined;
      const singleAttempt = this.#singleAttemptCreates > 0;
      if (singleAttempt) this.#singleAttemptCreates--;
      const maxRetries = singleAttempt ? 0 : this.config.maxRetries;
      for (let attempt = 0; attempt <= maxRetries; attempt++) {
        // Retries of this open back off; a new open starts afresh, so that a caller's wait stays
        // bounded by (maxRetries + 1) attempts instead of growing with the pool's failure history.
        if (attempt > 0) {
          await sleep(backoffDelay(attempt, this.config.reconnect), this.#closeSignal.signal);
          // Retries are for waiting commands: with nobody left waiting, stop here.
          if (this.#waiters.length === 0) break;
        }
        if (this.#closing && this.#waiters.length === 0) {
          lastError ??= new ConnectError(`The pool for ${this.name} closed while connecting`, this.settings, false);
          break;
        }
        const span = this.#context.telemetry.startConnect(this.name, this.settings.host, this.settings.port);
        const startedAt = performance.now();
        try {
          const connection = await SSHConnection.open(this.settings);
          if (connection.peerAddress) span.setAttribute(ATTR_NETWORK_PEER_ADDRESS, connection.peerAddress);
          span.setAttribute(ATTR_CONNECTION_ID, connection.id);
          span.end();
          connection.connectSpan = span.spanContext();
          this.#context.telemetry.recordCreateTime(this.name, connection.connectDurationMs);
          keepsPermit = true;
          this.#adopt(connection);
          // generic-pool lends a new connection to a pending borrow within a few microtasks; one
          // that nobody borrowed sits idle there, and another host may be waiting for its permit.
          setImmediate(() => {
            if (connection.state === 'ready' && !this.#borrowed.has(connection) && connection.openChannels === 0) {
              this.#context.budget.connectionIdled(this);
            }
          });
          return connection;
        } catch (error) {
          const connectError = error instanceof ConnectError
            ? error
            : new ConnectError(`Cannot connect to ${this.name}: ${(error as Error).message}`, this.settings, true, { cause: error });
          PoolTelemetry.fail(span, connectError.code, connectError.message);
          this.#context.telemetry.recordCreateTime(this.name, performance.now() - startedAt, connectError.code);
          lastError = connectError;
          this.#lastConnectError = connectError;
          this.#context.metrics.connectionFailed();
          this.#context.events.emit('connection:failed', this.settings.host, connectError, this.details);
          if (!connectError.transient) break;
        }
      }
      return new ConnectFailure(lastError ?? new ConnectError(`Cannot connect to ${this.name}`, this.settings, false));
    } finally {
      this.#connectGate.release();
      if (!keepsPermit) this.#context.budget.release();
    }
  }

  #adopt(connection: SSHConnection): void {
    this.#gaveUp = false;
    this.#live.add(connection);
    this.#context.metrics.connectionCreated(connection.connectDurationMs);
    const details = { ...this.details, connectionId: connection.id };
    this.#context.events.emit('connection:created', this.settings.host, connection.connectDurationMs, details);
    connection.onClose((reason, error) => {
      const wasBusy = connection.openChannels > 0 || this.#borrowed.has(connection);
      this.#context.budget.release();
      this.#live.delete(connection);
      this.#unclaimed.delete(connection);
      if (this.#borrowed.delete(connection)) void this.#pool.destroy(connection).catch(() => {});
      this.#context.telemetry.recordClosed(this.name, reason);
      if (reason === 'error' && error) this.#context.events.emit('connection:error', this.settings.host, error, details);
      this.#context.events.emit('connection:closed', this.settings.host, reason, details);
      const unexpected = reason === 'remote' || reason === 'error' || reason === 'unhealthy';
      if (unexpected && !this.#closing && this.config.reconnect.enabled) void this.#reconnect(wasBusy);
      this.#grow();
      this.#checkDrained();
    });
  }

  /** Budget eviction: gives up the longest-idle connection, never one in use. */
  closeOneIdleConnection(): boolean {
    const idle = this.#idleConnections().sort((a, b) => (a.idleSince ?? 0) - (b.idleSince ?? 0))[0];
    if (!idle) return false;
    void this.#closeIdleConnection(idle);
    return true;
  }

  /** Open connections that carry nothing and are not being probed. */
  #idleConnections(): SSHConnection[] {
    return [...this.#live].filter((c) => c.state === 'ready' && !this.#borrowed.has(c) && c.openChannels === 0 && !this.#health.isProbing(c));
  }

  #readyCount(): number {
    let count = 0;
    for (const connection of this.#live) if (connection.state === 'ready') count++;
    return count;
  }

  /**
   * Closes idle connections past `idleTimeout` (the warm minimum excepted, most recently used
   * kept) and idle ones past `maxLifetime`, then tops the warm minimum back up.
   */
  #maintain(): void {
    if (this.#closing) return;
    const now = performance.now();
    const { idleTimeout, warmUpConnections } = this.config;
    const idle = this.#idleConnections().sort((a, b) => (b.idleSince ?? 0) - (a.idleSince ?? 0));
    let kept = 0;
    for (const connection of idle) {
      if (this.#isExpired(connection)) {
        connection.close('expired');
      } else if (kept < warmUpConnections || idleTimeout === 0 || now - (connection.idleSince ?? now) < idleTimeout) {
        kept++;
      } else {
        void this.#closeIdleConnection(connection);
      }
    }
    this.#replenish();
  }

  /** Opens connections up to the warm minimum in the background; failures go to reconnect. */
  #replenish(): void {
    const { warmUpConnections } = this.config;
    if (this.#closing || this.#gaveUp || this.#replenishing || this.#reconnecting || this.#readyCount() >= warmUpConnections) return;
    this.#replenishing = true;
    this.warmUp(warmUpConnections)
      .catch(() => {
        if (this.config.reconnect.enabled) void this.#reconnect(false);
      })
      .finally(() => {
        this.#replenishing = false;
      });
  }

  /** How many open connections the pool should have right now. */
  #reconnectTarget(wasBusy: boolean): number {
    const demand = wasBusy || this.#waiters.length > 0 ? 1 : 0;
    return Math.max(this.config.warmUpConnections, demand);
  }

  /**
   * Re-establishes the warm minimum (at least one connection when the lost one was busy or
   * commands wait) after an unexpected drop: bounded attempts, configured backoff, one loop
   * per pool key. Permanent failures (auth, host key) stop it at once.
   */
  async #reconnect(wasBusy: boolean): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    const { reconnect } = this.config;
    try {
      let attempt = 0;
      while (!this.#closing && this.#readyCount() < this.#reconnectTarget(wasBusy)) {
        attempt++;
        if (attempt > reconnect.maxRetries) {
          this.#gaveUp = true;
          return;
        }
        this.#context.events.emit('connection:reconnecting', this.settings.host, attempt, this.details);
        await sleep(backoffDelay(attempt, reconnect), this.#closeSignal.signal);
        if (this.#closing) return;
        if (this.#readyCount() >= this.#reconnectTarget(wasBusy)) {
          // A command's own open got there first: the pool is back all the same.
          this.#context.events.emit('connection:reconnected', this.settings.host, this.details);
          return;
        }
        const span = this.#context.telemetry.startReconnect(this.name, attempt);
        this.#singleAttemptCreates++;
        this.#borrowsInFlight++;
        const resource = await this.#pool.acquire().catch((error: Error) => new ConnectFailure(
          new ConnectError(`Cannot reconnect to ${this.name}: ${error.message}`, this.settings, false),
        ));
        this.#borrowsInFlight--;
        if (resource instanceof ConnectFailure) {
          void this.#pool.destroy(resource).catch(() => {});
          span.setAttribute(ATTR_RECONNECT_OUTCOME, 'failure');
          PoolTelemetry.fail(span, resource.error.code, resource.error.message);
          this.#context.telemetry.recordReconnectAttempt(this.name, 'failure');
          if (!resource.error.transient) {
            this.#failWaiters(resource.error);
            return;
          }
          continue;
        }
        span.setAttribute(ATTR_RECONNECT_OUTCOME, 'success');
        span.end();
        this.#context.telemetry.recordReconnectAttempt(this.name, 'success');
        this.#context.events.emit('connection:reconnected', this.settings.host, { ...this.details, connectionId: resource.id });
        wasBusy = false;
        attempt = 0;
        this.#borrowed.add(resource);
        this.#offer(resource);
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  async #destroy(resource: PooledResource): Promise<void> {
    if (resource instanceof ConnectFailure) return;
    if (resource.state === 'ready') {
      const reason = this.#retireReasons.get(resource) ?? (this.#closing ? 'shutdown' : 'idle');
      if (reason === 'idle') this.#noteIdleClose(resource);
      resource.close(reason);
    }
    await waitForClose(resource);
  }

  async #closeIdleConnection(connection: SSHConnection): Promise<void> {
    this.#noteIdleClose(connection);
    connection.close('idle');
    await waitForClose(connection);
  }

  #noteIdleClose(connection: SSHConnection): void {
    const idleMs = connection.idleSince === undefined ? 0 : performance.now() - connection.idleSince;
    this.#context.metrics.idlePeriodEnded(idleMs);
    this.#context.events.emit('connection:idle', this.settings.host, idleMs, { ...this.details, connectionId: connection.id });
  }
}

function waitForClose(connection: SSHConnection): Promise<void> {
  if (connection.state === 'closed') return Promise.resolve();
  return new Promise((resolve) => connection.onClose(() => resolve()));
}
