import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { PoolConfig } from '../config/types.js';
import type { CloseReason } from '../ssh/connection.js';
import type { ConnectionCounts, ConnectionEventDetails } from '../pool/types.js';

/** Options of a pool instance: defaults for every pool key plus instance-wide settings. */
export interface SSHConnectionPoolOptions extends PoolConfig {
  /** Connections across all pool keys of this instance; 0 = unlimited. @default 0 */
  maxTotalConnections?: number;
  /**
   * Bytes of output (stdout and stderr) that the running commands of this instance may hold
   * together, all pool keys included; 0 = unlimited. Past it, commands are paused (the server
   * waits, through the SSH window) until others finish; when every command holding output is
   * paused, the one holding the most ends with `OutputLimitError`. Memory then stays under this
   * plus one 4 MiB receive window per running command. A result, once returned, is no longer
   * counted. @default 536870912 (512 MiB)
   */
  maxOutputMemory?: number;
  /** Tracer provider to use instead of the globally registered one. */
  tracerProvider?: TracerProvider;
  /** Meter provider to use instead of the globally registered one. */
  meterProvider?: MeterProvider;
  /**
   * This pool instance's name in telemetry (`ssh.pool.instance` on every span and metric
   * point), so that pools of one process holding the same pool key stay apart: 1 to 64
   * printable characters. @default 'global' for getInstance(), else `pool-<n>` (1, 2, … in
   * creation order)
   */
  instanceName?: string;
  /**
   * OpenSSH client config for this pool's targets (and their jump hosts) that do not set
   * `configFile` themselves: a path, which must exist, or `false` to read none. `$`'s global
   * pool takes it from `$.configFile`.
   * @default '~/.ssh/config' (when it exists)
   */
  configFile?: string | false;
}

/** `getStats()`: a snapshot computed from live state when called. */
export interface PoolStats extends ConnectionCounts {
  /** Per pool name (`username@host:port`, with `#N` for further credentials). */
  readonly hosts: Readonly<Record<string, ConnectionCounts>>;
}

/** `getMetrics()`: totals since the pool instance was created. */
export interface PoolMetrics {
  readonly connectionsCreated: number;
  /** Acquires served by a connection that was already open. */
  readonly connectionsReused: number;
  readonly connectionsFailed: number;
  /** Mean ms to open a connection (TCP + handshake + auth), over successful opens. */
  readonly averageConnectionTime: number;
  /** Mean ms a connection sat idle before its next use or its close. */
  readonly averageIdleTime: number;
  /** reused / (created + reused); 0 before the first acquire. */
  readonly poolEfficiency: number;
}

/** Event names and listener arguments. The first argument is always the host name. */
export interface PoolEvents {
  'connection:created': [host: string, durationMs: number, details: ConnectionEventDetails];
  'connection:reused': [host: string, details: ConnectionEventDetails];
  'connection:failed': [host: string, error: Error, details: ConnectionEventDetails];
  'connection:idle': [host: string, idleTimeMs: number, details: ConnectionEventDetails];
  'connection:closed': [host: string, reason: CloseReason, details: ConnectionEventDetails];
  'connection:error': [host: string, error: Error, details: ConnectionEventDetails];
  'connection:healthy': [host: string, details: ConnectionEventDetails];
  'connection:unhealthy': [host: string, error: Error, details: ConnectionEventDetails];
  'connection:reconnecting': [host: string, attempt: number, details: ConnectionEventDetails];
  'connection:reconnected': [host: string, details: ConnectionEventDetails];
  'pool:full': [host: string, details: ConnectionEventDetails];
}

export type PoolEventName = keyof PoolEvents;
export type PoolEventListener<E extends PoolEventName> = (...args: PoolEvents[E]) => void;

/** Options of `closeAll()`. */
export interface CloseAllOptions {
  /**
   * ms that accepted commands and leases get to finish. After it, running commands are
   * stopped (their remote process groups killed; they reject with `AbortedError`), waiting
   * ones reject with `PoolClosedError`, and every connection is closed. 0 stops at once.
   * @default 10000
   */
  timeout?: number;
}

/** Options of `getConnection`. */
export interface GetConnectionOptions {
  /** Higher goes first among waiters; equal priorities are served in arrival order. @default 0 */
  priority?: number;
  /** Give up waiting when this fires. */
  signal?: AbortSignal;
}
