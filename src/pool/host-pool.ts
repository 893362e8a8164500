import type { ChannelSpec } from '../command/channel-contract.js';
import { CancelSource } from '../core/cancel-source.js';
import { PoolClosedError } from '../core/errors.js';
import type { ConnectError } from '../core/errors.js';
import { systemClock } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import { processHold } from '../core/process-hold.js';
import type { ProcessHold } from '../core/process-hold.js';
import type { ResolvedPoolConfig } from '../config/pool-config.js';
import type { CloseReason, PoolConnection } from '../ssh/connection.js';
import { ChannelSession } from './channel-session.js';
import type { BudgetMember, ConnectionBudget } from './connection-budget.js';
import { ConnectionStore } from './connection-store.js';
import { Connector } from './connector.js';
import type { OpenResult } from './connector.js';
import { GrowthPolicy } from './growth-policy.js';
import { HealthMonitor } from './health-monitor.js';
import { HostPoolEventStream } from './host-pool-events.js';
import type { OpenPurpose } from './host-pool-events.js';
import { Housekeeper } from './housekeeper.js';
import { PendingAcquires } from './pending-acquires.js';
import type { AcquireRequest } from './pending-acquires.js';
import { PoolDrain } from './pool-drain.js';
import { PoolEntry } from './pool-entry.js';
import { OpenConnections } from './open-connections.js';
import { SlotLending } from './slot-lending.js';
import { TunnelChannels } from './tunnel-channels.js';
import { SftpChannels } from './sftp-channels.js';
import type { SftpOutcome } from './sftp-channels.js';
import type { SftpSession } from '../ssh/sftp-session.js';
import { SpareChannels } from './spare-channels.js';
import type { ExecOutcome, Slot } from './slot.js';
import type { ConnectionCounts, ConnectionEventDetails } from './types.js';
import type { CloseOptions, HostPoolGauges, HostPoolOptions } from './host-pool-options.js';

/**
 * The connections of one pool key. It coordinates its parts and does no job itself
 * (docs/architecture.md, "The host pool and its parts"):
 * - `SlotLending` over `PendingAcquires` and `OpenConnections`: a slot now on the least-loaded
 *   connection, or a wait with its priority, timeout and last cause;
 * - `GrowthPolicy`: whether waiters need more connections;
 * - `Connector` behind `ConnectionStore` (generic-pool): the one path that opens a connection,
 *   and the cap;
 * - `ChannelSession`: a command's channel on a slot, refusals, kill grace;
 * - `Housekeeper`: idle and lifetime expiry, warm minimum, reconnect; `HealthMonitor`: probes;
 * - `PoolDrain`: running work, and the wait for it at close.
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
  /** The channel path; leases run their commands through it too. */
  readonly channels: ChannelSession;
  // Tunnels, SFTP and probes are made on first use: most pool keys of a fleet never use them.
  #tunnels: TunnelChannels | undefined;
  #sftp: SftpChannels | undefined;

  readonly #hold: ProcessHold;
  readonly #budget: ConnectionBudget;
  readonly #connections = new OpenConnections();
  readonly #pending = new PendingAcquires<Slot>();
  readonly #connector: Connector;
  readonly #store: ConnectionStore;
  readonly #growth: GrowthPolicy;
  readonly #housekeeper: Housekeeper;
  /** Only when `healthCheck.enabled`. */
  readonly #health: HealthMonitor | undefined;
  readonly #drain: PoolDrain;
  readonly #lending: SlotLending;
  readonly #spares: SpareChannels;
  /** Opens in flight; none most of the time, so no set then. */
  #opens: Set<Promise<OpenResult>> | undefined;
  readonly #closeController = new AbortController();
  #closing: Promise<void> | undefined;

  constructor(options: HostPoolOptions) {
    const { name, host, port, username, config, budget } = options;
    this.name = name;
    this.config = config;
    this.details = { poolName: name, host, port, username };
    this.clock = options.clock ?? systemClock;
    this.#hold = options.hold ?? processHold;
    this.#budget = budget;
    const { clock, events } = this;
    const closed = this.#closeController.signal;
    const connector = (this.#connector = new Connector({
      endpoint: this.details, factory: options.factory, budget, budgetMember: this, clock, events,
      maxConcurrentConnects: config.maxConcurrentConnects, backoff: config.reconnect, closed,
      attemptFailed: (error) => this.#lending.connectFailed(error),
      proven: () => this.#connections.usableCount() > 0,
      serverReached: () => this.#growth.grow(),
    }));
    this.#store = new ConnectionStore(connector, config.maxConnections);
    // One object for both parts that read these: a fleet has a host pool per host.
    const parts = { connections: this.#connections, store: this.#store, contact: connector, pending: this.#pending, opener: this, config, clock, events, closed };
    this.#growth = new GrowthPolicy(config, parts, events);
    this.#housekeeper = new Housekeeper(parts);
    this.#health = config.healthCheck.enabled
      ? new HealthMonitor(config.healthCheck, { events, clock, connections: this.#connections, roomMade: (entry) => this.#roomMade(entry) })
      : undefined;
    this.#drain = new PoolDrain(clock, this.#hold, this.#pending, this.#connections);
    this.#lending = new SlotLending({
      name, acquireTimeout: config.acquireTimeout, clock, hold: this.#hold, events,
      connections: this.#connections, pending: this.#pending, drain: this.#drain,
      // A waiter may also get the slot of an SFTP channel no transfer uses.
      growth: { grow: () => this.#waitersQueued(), queueEmptied: () => this.#growth.queueEmptied() },
    });
    this.#spares = new SpareChannels({ enabled: config.spareChannels, maxLifetime: config.maxLifetime, clock, events, connections: this.#connections });
    this.channels = new ChannelSession(this);
    budget.join(this);
    // Bookkeeping, not telemetry: which connect attempts each waiting acquire waited on.
    events.subscribe((event) => {
      if (event.type === 'connect-started') this.#pending.noteConnectAttempt(event.attemptId);
    });
  }

  /** Starts background upkeep (warm minimum, expiry, probes). Separate so observers can subscribe first. */
  start(): void {
    this.#housekeeper.start();
    this.#health?.start();
  }

  /** Tunnelled connections (`forward`, `socks`): channels that are not sessions, on the least-loaded connection. */
  get tunnels(): TunnelChannels {
    if (this.#tunnels) return this.#tunnels;
    const tunnels = new TunnelChannels({
      name: this.name, clock: this.clock, events: this.events, connections: this.#connections,
      acquire: (request, front) => this.acquire(request, front),
      releaseSlot: (slot) => this.releaseSlot(slot),
      tunnelEnded: (entry) => this.#roomMade(entry),
      backoff: this.config.reconnect, hold: this.#hold,
    });
    // Asked for after the close: it is as closed as the pool.
    if (this.#closing) tunnels.closeAll();
    this.#tunnels = tunnels;
    return tunnels;
  }

  /** The SFTP channel of each connection, for file transfers. */
  #sftpChannels(): SftpChannels {
    this.#sftp ??= new SftpChannels(this, (entry) => this.#roomMade(entry), () => this.#lending.serveWaiters());
    return this.#sftp;
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Live counts, computed now from the connections and queue. */
  stats(): ConnectionCounts {
    const { active, idle, openChannels } = this.#connections.counts();
    return { activeConnections: active, idleConnections: idle, totalConnections: active + idle, pendingRequests: this.#pending.length, openChannels };
  }

  gauges(): HostPoolGauges {
    const { maxConnections, maxChannelsPerConnection } = this.config;
    const channelCapacity = this.#connections.capacity(maxConnections, maxChannelsPerConnection);
    return { ...this.stats(), maxConnections, channelCapacity, reconnectGivenUp: this.#housekeeper.gaveUp, tunnelConnections: this.#tunnels?.counts() ?? { local: 0, remote: 0, socks: 0 }, spareChannels: this.#connections.spareCount() };
  }

  // ---- slots ----

  /** Takes a channel slot: on a connection with room, else waits for one. `front`: a retry of accepted work. */
  acquire(request: AcquireRequest, front = false): Promise<Slot> {
    // A retry at the front belongs to a command accepted before the close: it may go on.
    return this.#lending.acquire(request, front, this.#closing !== undefined && !front);
  }

  /** Fails every waiting acquire (a permanent connect failure, or a close past its drain). */
  failWaiters(error: Error): void {
    this.#lending.failWaiters(error);
    this.#drain.changed();
  }

  /** Gives a slot back (once; later calls do nothing); the connection serves a waiter, goes idle, or retires. */
  releaseSlot(slot: Slot): void {
    if (this.#lending.release(slot)) this.#roomMade(slot.entry);
  }

  /** A channel was asked for on `entry`: it may have taken the connection's spare, so another is prepared. */
  channelRequested(entry: PoolEntry): void {
    if (!this.#closing) this.#spares.replenish(entry);
  }

  /** A connection gained room (a slot or a probe's channel freed). */
  #roomMade(entry: PoolEntry): void {
    const { connection } = entry;
    const expired = entry.expired(this.clock.now(), this.config.maxLifetime);
    if (connection.usable && entry.empty && (entry.retiring || expired)) connection.close('expired');
    if (entry.lendable && !expired) this.#lending.serveWaiters();
    if (this.#pending.length > 0) this.#sftp?.yieldIdle(this.#connections);
    if (entry.lendable && !entry.busy) this.#budget.connectionIdled(this);
    // After the waiters: a waiter served by the freed slot takes the spare instead.
    if (!this.#closing) this.#spares.replenish(entry);
    this.#drain.changed();
  }

  /** A connection whose cancelled channel will not close: no new channels, and off the cap. */
  retire(entry: PoolEntry): void {
    if (entry.retiring || !entry.connection.usable) return;
    entry.retire();
    this.#store.remove(entry.connection, true);
    this.events.emit({ type: 'retired', connection: entry.connection, why: 'stuck-channel' });
    if (entry.empty) entry.connection.close('expired');
    this.#growth.grow();
  }

  /** Runs one command on a slot of its own (see `ChannelSession.run`); `closeAll()` can stop it. */
  execute(spec: ChannelSpec, request: AcquireRequest): Promise<ExecOutcome> {
    const work = this.#drain.track(request.cancel, new CancelSource());
    return this.channels.run(spec, { priority: request.priority, cancel: work.stop, trace: request.trace }, work.done);
  }

  /**
   * Runs a file transfer's `work` on the SFTP channel of a connection, with a slot held like a
   * command's (see `SftpChannels.run`); `closeAll()` can stop it through the request's signal.
   */
  transfer<T>(request: AcquireRequest, work: (session: SftpSession, slot: Slot, cancel: AbortSignal) => Promise<T>): Promise<SftpOutcome<T>> {
    const tracked = this.#drain.track(request.cancel, new AbortController());
    const { signal } = tracked.stop;
    return this.#sftpChannels().run({ priority: request.priority, cancel: signal, trace: request.trace }, (session, slot) => work(session, slot, signal))
      .finally(() => tracked.done());
  }

  /** Removes a remote file with this host's next transfer (see `SftpChannels.removeLater`). */
  removeLater(path: string): void {
    this.#sftpChannels().removeLater(path);
  }

  #waitersQueued(): void {
    this.#growth.grow();
    this.#sftp?.yieldIdle(this.#connections);
  }

  // ---- connections ----

  /** The one place connections are opened for this pool key, whatever the purpose. */
  open(purpose: OpenPurpose, attempts: number, retryDropsOnly = false): Promise<OpenResult> {
    const opened = this.#store.open({
      purpose,
      attempts,
      retryDropsOnly,
      stillWanted: () => !this.#closeController.signal.aborted && (purpose !== 'demand' || this.#pending.length > 0),
      cause: purpose === 'demand' ? () => this.#pending.causeOfNextOpen() : undefined,
    });
    (this.#opens ??= new Set()).add(opened);
    void opened.then((result) => {
      this.#opens?.delete(opened);
      if (this.#opens?.size === 0) this.#opens = undefined;
      if (result.ok) this.#adopt(result.connection);
      // Given up before any attempt: waiters that came meanwhile need opens of their own.
      else if (result.unneeded) this.#growth.grow();
      else this.#openFailed(result.error, purpose);
      this.#drain.changed();
    });
    return opened;
  }

  #adopt(connection: PoolConnection): void {
    const entry = new PoolEntry(connection, this.config.maxChannelsPerConnection, this.clock.now());
    this.#connections.add(entry);
    this.#lending.connectionOpened();
    this.#housekeeper.connectionOpened();
    connection.onClose((reason, error) => this.#entryClosed(entry, reason, error));
    if (this.#closeController.signal.aborted && this.#pending.length === 0) {
      connection.close('shutdown');
      return;
    }
    this.#lending.serveWaiters();
    if (!entry.busy) {
      this.#budget.connectionIdled(this);
      // Opened ahead of demand (warm-up, reconnect): its first command finds a spare. A
      // connection opened for a waiter gets one as that command asks for its channel.
      this.#spares.replenish(entry);
    }
    this.#growth.grow();
  }

  #openFailed(error: ConnectError, purpose: OpenPurpose): void {
    this.#lending.connectFailed(error);
    // The open already retried (with backoff): its failure is the answer for now. Waiters fail
    // unless an open connection of this key will free a slot for them, or an open still under
    // way may (opens started beside a first one retry only dropped handshakes); failures start
    // no new opens, so this never chains opens while the server is down.
    const hope = this.#connections.usableCount() > 0 || this.#store.opening > 0;
    if (purpose === 'demand' && (!error.transient || !hope)) this.failWaiters(error);
  }

  #entryClosed(entry: PoolEntry, reason: CloseReason, error: Error | undefined): void {
    const wasBusy = entry.busy;
    this.#connections.delete(entry);
    this.#sftp?.forget(entry);
    this.#store.remove(entry.connection);
    this.#budget.release();
    this.events.emit({ type: 'closed', connection: entry.connection, reason, error, idleMs: entry.idleWhenClosed });
    const unexpected = reason === 'remote' || reason === 'error' || reason === 'unhealthy';
    if (unexpected && !this.#closing) this.#housekeeper.connectionLost(wasBusy);
    this.#growth.grow();
    this.#drain.changed();
  }

  /**
   * Opens connections until `count` are open (at most `maxConnections`), counting those already
   * opening, then leaves them idle. Rejects with the connect error when one could not be opened.
   */
  async warmUp(count: number): Promise<void> {
    if (this.#closing) throw new PoolClosedError(`The pool for ${this.name} is closed`);
    const target = Math.min(count, this.config.maxConnections);
    const missing = target - this.#connections.usableCount() - this.#store.opening;
    const opens = [...(this.#opens ?? [])];
    for (let i = 0; i < missing && this.#store.size < this.#store.max; i++) opens.push(this.open('warm-up', this.config.maxRetries + 1));
    const results = await Promise.all(opens);
    if (this.#connections.usableCount() >= target) return;
    const failure = results.find((result) => !result.ok);
    if (failure && !failure.ok) throw failure.error;
  }

  /** Closes every idle connection of this pool key now. */
  async closeIdle(): Promise<void> {
    const idle = this.#connections.idle();
    const now = this.clock.now();
    for (const entry of idle) entry.closeIdle('idle', now);
    await Promise.all(idle.map((entry) => whenClosed(entry.connection)));
  }

  /** Budget eviction: gives up the longest-idle connection, never one in use. */
  closeOneIdleConnection(): boolean {
    const idle = this.#connections.idle().sort((a, b) => (a.idleSince ?? 0) - (b.idleSince ?? 0))[0];
    idle?.closeIdle('idle', this.clock.now());
    return idle !== undefined;
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

  async #close({ timeout }: CloseOptions): Promise<void> {
    // A drain the caller awaits is work: the process stays until it is over.
    const giveHoldBack = this.#hold.take();
    try {
      this.#closeController.abort();
      this.#connector.close();
      // Tunnelled connections last as long as their clients wish: a close does not wait for them.
      this.#tunnels?.closeAll();
      this.#housekeeper.stop();
      this.#health?.stop();
      this.#spares.stop();
      await Promise.resolve();
      await this.#drain.settle(timeout, () => this.failWaiters(
        new PoolClosedError(`The pool for ${this.name} closed before a channel became free (closeAll drain timeout ${timeout} ms)`),
      ));
      const connections = [...this.#connections].map((entry) => entry.connection);
      for (const connection of connections) connection.close('shutdown');
      this.#budget.leave(this);
      await Promise.all(connections.map(whenClosed));
      await this.#store.close();
    } finally {
      giveHoldBack();
    }
  }
}

function whenClosed(connection: PoolConnection): Promise<void> {
  if (connection.closed) return Promise.resolve();
  return new Promise((resolve) => connection.onClose(() => resolve()));
}
