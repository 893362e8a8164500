import { MAX_TIMER_MS } from '../core/clock.js';
import { InvalidArgumentError, PoolClosedError } from '../core/errors.js';
import { describe } from '../core/validation.js';
import { ConnectionBudget } from '../pool/connection-budget.js';
import { compileHostPattern } from '../config/host-pattern.js';
import { context as otelContext } from '@opentelemetry/api';
import { AcquireCancelled } from '../command/error-mapping.js';
import { HostPool } from '../pool/host-pool.js';
import { resolvePoolConfig, validatePoolConfig } from '../config/pool-config.js';
import { checkConfigFile, pickPoolConfig, validatePoolOptions } from './pool-options.js';
import { ignoredPoolConfigFields } from './ignored-pool-config.js';
import type { ResolvedPoolConfig } from '../config/pool-config.js';
import { PoolMetricsRecorder } from './pool-metrics-recorder.js';
import { registerPoolInternals } from './pool-internals.js';
import { publicEventsObserver } from './public-events.js';
import { jumpDialer } from '../pool/jump-dialer.js';
import { SSHConnection } from '../ssh/ssh2-connection.js';
import type { ConnectionSettings } from '../ssh/ssh2-connection.js';
import type { ConnectAttemptHooks } from '../ssh/connection.js';
import { prepareHostKeyVerification } from '../ssh/host-keys/host-key-verifier.js';
import type { Duplex } from 'node:stream';
import { DEFAULT_MAX_OUTPUT_MEMORY, OutputBudget } from '../ssh/output-budget.js';
import type { CommandLog } from '../command/ssh-command.js';
import { SSHLease } from './ssh-lease.js';
import { FileTransfers } from './file-transfers.js';
import { normalizeTarget, previousHop, routeText } from '../config/ssh-target.js';
import type { NormalizedTarget } from '../config/ssh-target.js';
import { PoolTelemetry } from '../telemetry/pool-telemetry.js';
import { CONNECT_ERROR_TYPES, JUMP_HOST_ERROR_TYPE } from '../telemetry/constants.js';
import { telemetryObserver } from '../telemetry/telemetry-observer.js';
import { traceCommand } from '../telemetry/trace-command.js';
import { TypedEventEmitter } from '../core/typed-event-emitter.js';
import type { CloseAllOptions, GetConnectionOptions, PoolEventListener, PoolEventName, PoolEvents, PoolMetrics, PoolStats, SSHConnectionPoolOptions } from './types.js';
import type { SSHTargetOptions } from '../config/types.js';
import type { PoolConfig } from '../config/types.js';
import type { ConnectionCounts } from '../pool/types.js';

/** `ssh.pool.instance` of the global pool (`SSHConnectionPool.getInstance()`). */
const GLOBAL_INSTANCE_NAME = 'global';

/** The connect error types of a pool key behind jump hosts: one list for all of them. */
const ROUTED_CONNECT_ERROR_TYPES: readonly string[] = Object.freeze([...CONNECT_ERROR_TYPES, JUMP_HOST_ERROR_TYPE]);

interface HostRule {
  readonly matches: (host: string) => boolean;
  readonly config: PoolConfig;
}

/**
 * Where and as whom to run commands, and on which pool. Fields left out are taken from the
 * OpenSSH client config (`configFile`) the way `ssh` takes them; fields given win over the config.
 */
export interface SSHTarget extends SSHTargetOptions {
  /** The pool to use. @default SSHConnectionPool.getInstance() */
  pool?: SSHConnectionPool;
}

/** How long `closeAll()` lets accepted work finish before stopping it. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** Printing settings shared by the commands of the executor (`$.verbose`). */
export const commandLog: CommandLog = {
  verbose: false,
  write(stream, text) {
    (stream === 'stdout' ? process.stdout : process.stderr).write(text);
  },
};

// `$.configFile`: the global pool's configFile, whichever instance is the global one (a new
// one after closeAll()). Kept here, not in the instance, so that setting it creates no pool.
let globalConfigFile: string | false | undefined;

/** `$.configFile`. */
export function getGlobalConfigFile(): string | false | undefined {
  return globalConfigFile;
}

/** `$.configFile = value`: checked now; targets resolved before keep their resolution. */
export function setGlobalConfigFile(value: string | false | undefined): void {
  if (value !== undefined) checkConfigFile(value, '$.configFile');
  globalConfigFile = value;
}

/**
 * A registry of host pools, one per pool key (`username@host:port` + credential), with
 * instance-wide defaults, per-host rules, events, live stats and cumulative metrics.
 */
export class SSHConnectionPool {
  static #global: SSHConnectionPool | undefined;
  /** Pools created without an `instanceName`, for their default `pool-<n>`. */
  static #unnamed = 0;

  /** The pool `$.ssh()` uses when a target names none. */
  static getInstance(): SSHConnectionPool {
    SSHConnectionPool.#global ??= new SSHConnectionPool({ instanceName: GLOBAL_INSTANCE_NAME });
    return SSHConnectionPool.#global;
  }

  readonly #defaults: PoolConfig;
  readonly #options: SSHConnectionPoolOptions;
  readonly #hostPools = new Map<string, HostPool>();
  /** Jump hosts before each pool key behind any; a direct one (the usual case) has no entry. */
  readonly #depths = new Map<HostPool, number>();
  /**
   * Resolved settings by their content: pool keys with equal settings (every key of a fleet
   * configured alike) share one frozen object instead of a copy each.
   */
  readonly #resolvedConfigs = new Map<string, ResolvedPoolConfig>();
  readonly #namesInUse = new Map<string, number>();
  readonly #rules: HostRule[] = [];
  readonly #events = new TypedEventEmitter<PoolEvents>();
  readonly #metrics = new PoolMetricsRecorder();
  readonly #telemetry: PoolTelemetry;
  readonly #budget: ConnectionBudget;
  readonly #outputBudget: OutputBudget | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #configFile: string | false | undefined;
  readonly #configChecked = new WeakSet<NormalizedTarget>();
  readonly #configWarned = new WeakSet<HostPool>();

  constructor(options: SSHConnectionPoolOptions = {}) {
    validatePoolOptions(options);
    this.#options = { ...options, instanceName: options.instanceName ?? `pool-${++SSHConnectionPool.#unnamed}` };
    this.#configFile = options.configFile;
    this.#defaults = pickPoolConfig(options);
    resolvePoolConfig(this.#defaults);
    this.#telemetry = new PoolTelemetry({
      tracerProvider: options.tracerProvider,
      meterProvider: options.meterProvider,
      instance: this.#options.instanceName,
      observe: () => [...this.#hostPools.values()].map((hostPool) => ({
        name: hostPool.name,
        maxChannelsPerConnection: hostPool.config.maxChannelsPerConnection,
        ...hostPool.gauges(),
      })),
    });
    this.#budget = new ConnectionBudget(options.maxTotalConnections ?? 0);
    const maxOutputMemory = options.maxOutputMemory ?? DEFAULT_MAX_OUTPUT_MEMORY;
    this.#outputBudget = maxOutputMemory > 0 ? new OutputBudget(maxOutputMemory) : undefined;
    registerPoolInternals(this, {
      execute: (target, request, cancel) => {
        const hostPool = this.#hostPoolFor(target);
        return traceCommand(this.#telemetry, hostPool, request, (trace) => hostPool.execute(request, { priority: request.priority, cancel, trace }));
      },
      tunnel: async (target, socket, destination, kind, hooks) => this.#hostPoolFor(target).tunnels.carry(socket, destination, kind, hooks),
      forwardRemote: async (target, spec) => this.#hostPoolFor(target).tunnels.forwardRemote(spec),
      files: (target) => new FileTransfers(this.#hostPoolFor(target), this.#telemetry),
      prepare: (target) => {
        if (!this.#closed) this.#hostPoolFor(target);
      },
      poolNameOf: (target) => {
        const name = this.#hostPools.get(target.identity)?.name;
        return name === undefined ? { name: this.#nextNameFor(target), assigned: false } : { name, assigned: true };
      },
      tracerProvider: options.tracerProvider,
      meterProvider: options.meterProvider,
    });
  }

  /** Instance-wide options as given (with per-key defaults among them). */
  get options(): Readonly<SSHConnectionPoolOptions> {
    return this.#options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The OpenSSH client config for targets that name none; undefined: `~/.ssh/config` when it
   * exists. The global pool's is `$.configFile`.
   */
  get configFile(): string | false | undefined {
    return SSHConnectionPool.#global === this ? globalConfigFile : this.#configFile;
  }

  /** Resolves a target the way this pool does: with its `configFile` where the target names none. */
  #normalize(target: SSHTarget | string): NormalizedTarget {
    return normalizeTarget(target, { configFile: this.configFile });
  }

  /**
   * Settings for hosts matching `pattern` (RegExp, or glob on the host name). Resolution order:
   * the target's own `poolConfig`, then the most recently added matching rule, then defaults.
   * Applies to pool keys created afterwards.
   */
  configureHost(pattern: RegExp | string, config: PoolConfig): this {
    validatePoolConfig(config, 'configureHost() config');
    this.#rules.unshift({ matches: compileHostPattern(pattern), config: { ...config } });
    return this;
  }

  /**
   * The settings `target` runs with: its own `poolConfig`, else the most recently added
   * `configureHost` rule matching its host, else this pool's defaults. A pool key already in
   * use keeps the settings it was created with, and those are returned. A copy: changing it
   * changes nothing.
   */
  resolveConfig(target: SSHTarget): ResolvedPoolConfig {
    const normalized = this.#normalize(target);
    return structuredClone(this.#hostPools.get(normalized.identity)?.config ?? this.#configFor(normalized));
  }

  /** The pool name of `target` (`username@host:port`, `#N` for further credentials); undefined before its first use. */
  poolNameOf(target: SSHTarget): string | undefined {
    return this.#hostPools.get(this.#normalize(target).identity)?.name;
  }

  on<E extends PoolEventName>(event: E, listener: PoolEventListener<E>): this {
    this.#events.on(event, listener);
    return this;
  }
  once<E extends PoolEventName>(event: E, listener: PoolEventListener<E>): this {
    this.#events.once(event, listener);
    return this;
  }
  off<E extends PoolEventName>(event: E, listener: PoolEventListener<E>): this {
    this.#events.off(event, listener);
    return this;
  }

  /** Live counts, computed from the connections and queues as they are now. */
  getStats(): PoolStats {
    const hosts: Record<string, ConnectionCounts> = {};
    let activeConnections = 0;
    let idleConnections = 0;
    let pendingRequests = 0;
    let openChannels = 0;
    for (const hostPool of this.#hostPools.values()) {
      const counts = hostPool.stats();
      hosts[hostPool.name] = counts;
      activeConnections += counts.activeConnections;
      idleConnections += counts.idleConnections;
      pendingRequests += counts.pendingRequests;
      openChannels += counts.openChannels;
    }
    return {
      activeConnections,
      idleConnections,
      totalConnections: activeConnections + idleConnections,
      pendingRequests,
      openChannels,
      hosts,
    };
  }

  /** Totals since this instance was created. */
  getMetrics(): PoolMetrics {
    return this.#metrics.snapshot();
  }

  /**
   * Closes every connection that carries nothing right now. Targets behind jump hosts go
   * first: a jump host connection carrying only their tunnels is idle once they are closed.
   */
  async closeIdleConnections(): Promise<void> {
    const deepest = Math.max(0, ...this.#depths.values());
    for (let depth = deepest; depth >= 0; depth--) {
      const level = [...this.#hostPools.values()].filter((hostPool) => (this.#depths.get(hostPool) ?? 0) === depth);
      await Promise.all(level.map((hostPool) => hostPool.closeIdle()));
    }
  }

  /**
   * Stops taking commands (they reject with `PoolClosedError`), lets the commands and leases
   * already accepted finish for up to `options.timeout` ms, then stops what remains (running
   * commands end with `AbortedError`, their remote processes killed; queued ones reject with
   * `PoolClosedError`) and closes all connections. Idempotent: later calls return the first
   * call's promise.
   */
  closeAll(options: CloseAllOptions = {}): Promise<void> {
    const timeout = options.timeout ?? DEFAULT_CLOSE_TIMEOUT_MS;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0 || timeout > MAX_TIMER_MS) {
      return Promise.reject(new InvalidArgumentError(`closeAll() options.timeout must be an integer from 0 to ${MAX_TIMER_MS}, got ${describe(timeout)}`));
    }
    this.#closed = true;
    this.#closing ??= Promise.all([...this.#hostPools.values()].map((hostPool) => hostPool.close({ timeout }))).then(() => {
      this.#telemetry.shutdown();
      if (SSHConnectionPool.#global === this) SSHConnectionPool.#global = undefined;
    });
    return this.#closing;
  }

  /** Holds one channel slot on one connection until the lease is released. */
  async getConnection(target: SSHTarget, options: GetConnectionOptions = {}): Promise<SSHLease> {
    const normalized = this.#normalize(target);
    const hostPool = this.#hostPoolFor(normalized);
    const priority = options.priority ?? 0;
    if (typeof priority !== 'number' || !Number.isFinite(priority)) {
      throw new InvalidArgumentError('getConnection() options.priority must be a finite number');
    }
    const cancel = new AbortController();
    const onAbort = (): void => cancel.abort('aborted');
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const slot = await hostPool.acquire({ priority, cancel: cancel.signal, trace: otelContext.active() });
      return new SSHLease(hostPool, slot, commandLog, this.#telemetry, { sudoPassword: normalized.sudoPassword });
    } catch (error) {
      if (error instanceof AcquireCancelled) {
        throw options.signal?.reason instanceof Error ? options.signal.reason : new DOMException('getConnection() was aborted', 'AbortError');
      }
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Opens connections for `target` until `count` are open (capped at its `maxConnections`). */
  async warmUp(target: SSHTarget, count: number): Promise<void> {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      throw new InvalidArgumentError(`warmUp() count must be a non-negative integer, got ${String(count)}`);
    }
    await this.#hostPoolFor(this.#normalize(target)).warmUp(count);
  }

  #hostPoolFor(target: NormalizedTarget): HostPool {
    if (this.#closed) throw new PoolClosedError('The connection pool is closed');
    const existing = this.#hostPools.get(target.identity);
    if (existing) {
      this.#warnIfConfigIgnored(target, existing);
      return existing;
    }
    // The hop before a target behind jump hosts is an ordinary pool key (recursively, for a
    // chain): its connections are pooled, capped, reconnected and observed as any other.
    const hop = previousHop(target);
    const via = hop ? this.#hostPoolFor(hop) : undefined;
    const config = this.#configFor(target);
    const name = this.#nextNameFor(target);
    this.#namesInUse.set(target.endpoint, (this.#namesInUse.get(target.endpoint) ?? 0) + 1);
    const settings = {
      poolName: name,
      host: target.host,
      port: target.port,
      username: target.username,
      credentials: target.credentials,
      hostKey: target.hostKey,
      connectionTimeout: config.connectionTimeout,
      keepAliveInterval: config.keepAliveInterval,
      keepAliveCountMax: config.keepAliveCountMax,
      outputBudget: this.#outputBudget,
    };
    const hostPool = new HostPool({
      name,
      host: target.host,
      port: target.port,
      username: target.username,
      config,
      factory: via ? jumpDialer({ settings, via, open: openPrepared }) : (hooks) => openPrepared(settings, undefined, hooks),
      budget: this.#budget,
    });
    // Behind jump hosts a connect can also fail at a bastion: that series starts at zero too.
    this.#telemetry.registerPool(name, via ? ROUTED_CONNECT_ERROR_TYPES : CONNECT_ERROR_TYPES);
    hostPool.events.subscribe(this.#metrics.observe);
    hostPool.events.subscribe(telemetryObserver(this.#telemetry, hostPool.details, config, via ? routeText(target) : undefined));
    hostPool.events.subscribe(publicEventsObserver(this.#events, hostPool.details));
    hostPool.start();
    this.#hostPools.set(target.identity, hostPool);
    if (target.route.length > 0) this.#depths.set(hostPool, target.route.length);
    return hostPool;
  }

  /** `username@host:port` for the first credential of an endpoint, then `#2`, `#3`, ... */
  #nextNameFor(target: NormalizedTarget): string {
    const seen = (this.#namesInUse.get(target.endpoint) ?? 0) + 1;
    return seen === 1 ? target.endpoint : `${target.endpoint}#${seen}`;
  }

  /**
   * A pool key's settings are fixed by its first use: a later target for the same key whose
   * `poolConfig` asks for something else gets one process warning per key, naming the fields.
   * Each target object is compared once, so a hot executor costs a WeakSet lookup.
   */
  #warnIfConfigIgnored(target: NormalizedTarget, hostPool: HostPool): void {
    if (target.poolConfig === undefined || this.#configChecked.has(target)) return;
    this.#configChecked.add(target);
    if (this.#configWarned.has(hostPool)) return;
    const fields = ignoredPoolConfigFields(target.poolConfig, hostPool.config);
    if (fields.length === 0) return;
    this.#configWarned.add(hostPool);
    process.emitWarning(
      `sshpool: pool key ${hostPool.name} already runs with other settings, fixed by its first use; ` +
        `this target's poolConfig is ignored for ${fields.join(', ')}. Give every target of a key the same poolConfig, ` +
        'or set it once with configureHost() or the pool\'s options.',
      { code: 'SSHPOOL_POOL_CONFIG_IGNORED' },
    );
  }

  #configFor(target: NormalizedTarget): ResolvedPoolConfig {
    const rule = this.#rules.find((candidate) => candidate.matches(target.host));
    const resolved = resolvePoolConfig(this.#defaults, rule?.config, target.poolConfig);
    // Every field is a number, boolean or string, so equal JSON is equal settings.
    const key = JSON.stringify(resolved);
    const shared = this.#resolvedConfigs.get(key);
    if (shared) return shared;
    const frozen = deepFreeze(resolved);
    this.#resolvedConfigs.set(key, frozen);
    return frozen;
  }
}

/** Freezes a resolved config and its sections, so that sharing it between pool keys is safe. */
function deepFreeze(config: ResolvedPoolConfig): ResolvedPoolConfig {
  Object.freeze(config.healthCheck);
  Object.freeze(config.reconnect);
  Object.freeze(config.telemetry);
  return Object.freeze(config);
}

/**
 * Opens a connection once the host's known_hosts lookups are done: a large hashed file is
 * searched with the event loop running, and the handshake's own check then finds the answer.
 */
async function openPrepared(settings: ConnectionSettings, tunnel?: Duplex, hooks?: ConnectAttemptHooks): Promise<SSHConnection> {
  await prepareHostKeyVerification(settings.hostKey, settings.host, settings.port);
  return SSHConnection.open(settings, tunnel, hooks);
}
