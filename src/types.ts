import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { SSHConnectionPool } from './connection-pool.js';

/** How the server's host key is checked. */
export type HostKeyPolicy = 'strict' | 'accept-new' | 'off';

/** Host-key verification settings. The same policy applies to every reconnect. */
export interface HostKeyVerification {
  /**
   * `strict`: the key must already be in the known-hosts file (or the pinned list).
   * `accept-new`: an unknown host is trusted and recorded; a changed key is still rejected.
   * `off`: no check at all (test rigs only).
   * @default 'strict'
   */
  policy?: HostKeyPolicy;
  /**
   * known_hosts file to read (and, with `accept-new`, append to).
   * @default '~/.ssh/known_hosts'
   */
  knownHostsFile?: string;
  /**
   * Pinned fingerprints (`SHA256:<base64>` as `ssh-keygen -lf` prints them). When given, the
   * server's key must match one of them and the known-hosts file is not consulted.
   */
  fingerprints?: readonly string[];
}

/** Where and as whom to run commands. */
export interface SSHTarget {
  host: string;
  /** @default 22 */
  port?: number;
  username: string;
  /** OpenSSH or PEM private key text. */
  privateKey?: string | Buffer;
  /** Passphrase of an encrypted `privateKey`. */
  passphrase?: string;
  password?: string;
  /** ssh-agent socket path; `true` means `$SSH_AUTH_SOCK`. */
  agent?: string | true;
  /** @default 'strict' */
  hostKey?: HostKeyPolicy | HostKeyVerification;
  /** Settings for this target's pool; wins over `configureHost` rules and pool defaults. */
  poolConfig?: PoolConfig;
  /** The pool to use. @default SSHConnectionPool.getInstance() */
  pool?: SSHConnectionPool;
}

/** Periodic probe of idle connections. */
export interface HealthCheckConfig {
  /** @default false */
  enabled?: boolean;
  /** ms between probes of each idle connection. @default 30000 */
  interval?: number;
  /** ms a probe may take before the connection is declared unhealthy. @default 5000 */
  timeout?: number;
  /** Command the probe runs; exit status 0 means healthy. @default 'true' */
  command?: string;
}

/** Background re-establishment of a pool's warm minimum after an unexpected drop. */
export interface ReconnectConfig {
  /** @default true */
  enabled?: boolean;
  /** Attempts per drop before giving up until the next demand. @default 5 */
  maxRetries?: number;
  /** ms before the first attempt. @default 200 */
  initialDelay?: number;
  /** Upper bound of the delay between attempts, in ms. @default 10000 */
  maxDelay?: number;
  /** How the delay grows between attempts. @default 'exponential' */
  backoff?: 'exponential' | 'linear' | 'fixed';
  /** Randomise each delay by up to ±20% so that many pools do not retry in lockstep. @default true */
  jitter?: boolean;
}

/** What the pool records in spans. */
export interface TelemetryConfig {
  /**
   * Which acquires get an `ssh.pool.acquire` span: `all`; `non-reused`, only those that
   * opened a connection, timed out or failed (the ones worth looking at); or `none`. Metrics
   * count every acquire either way.
   * @default 'all'
   */
  acquireSpans?: 'all' | 'non-reused' | 'none';
  /**
   * Record the full command text (`ssh.command.text`). Off by default because interpolated
   * values often carry secrets; the template with values masked is always recorded.
   * @default false
   */
  captureCommand?: boolean;
}

/** Settings of one pool key (`username@host:port` + credential). Every field is optional. */
export interface PoolConfig {
  /** Connections per pool key. @default 10 */
  maxConnections?: number;
  /**
   * Concurrent commands multiplexed on one connection. OpenSSH allows `MaxSessions 10`, but
   * under fast churn refuses from about 6 on; a refused channel lowers that connection's limit.
   * @default 5
   */
  maxChannelsPerConnection?: number;
  /** Connections opened ahead of use and kept open. @default 0 */
  warmUpConnections?: number;
  /** ms before an idle connection is closed; 0 = never. @default 60000 */
  idleTimeout?: number;
  /** ms after which a connection is retired once its channels finish; 0 = never. @default 0 */
  maxLifetime?: number;
  /** ms between SSH keepalive probes; 0 disables them. @default 15000 */
  keepAliveInterval?: number;
  /** Unanswered keepalives before the peer is declared dead. @default 3 */
  keepAliveCountMax?: number;
  /** ms for TCP connect + handshake + authentication. @default 10000 */
  connectionTimeout?: number;
  /** ms a command may wait for a channel slot before `AcquireTimeoutError`. @default 30000 */
  acquireTimeout?: number;
  /** Further attempts to open a connection for a waiting command, transient errors only. @default 2 */
  maxRetries?: number;
  /**
   * Connections of one pool key being opened at once. Keeps a burst under OpenSSH's
   * `MaxStartups` (10 by default), which resets handshakes beyond it.
   * @default 4
   */
  maxConcurrentConnects?: number;
  /** @default { enabled: false, interval: 30000, timeout: 5000, command: 'true' } */
  healthCheck?: HealthCheckConfig;
  /** @default { enabled: true, maxRetries: 5, initialDelay: 200, maxDelay: 10000, backoff: 'exponential', jitter: true } */
  reconnect?: ReconnectConfig;
  /** @default { acquireSpans: 'all', captureCommand: false } */
  telemetry?: TelemetryConfig;
}

/** Options of a pool instance: defaults for every pool key plus instance-wide settings. */
export interface SSHConnectionPoolOptions extends PoolConfig {
  /** Connections across all pool keys of this instance; 0 = unlimited. @default 0 */
  maxTotalConnections?: number;
  /** Tracer provider to use instead of the globally registered one. */
  tracerProvider?: TracerProvider;
  /** Meter provider to use instead of the globally registered one. */
  meterProvider?: MeterProvider;
}

/** The outcome of one command. */
export interface CommandResult {
  /** Standard output decoded as UTF-8 (invalid sequences become U+FFFD). */
  readonly stdout: string;
  readonly stderr: string;
  /** Standard output exactly as received (binary output). */
  readonly stdoutBuffer: Buffer;
  readonly stderrBuffer: Buffer;
  /** Exit status the server reported; null when it reported none (signal, lost connection, timeout). */
  readonly exitCode: number | null;
  /** Signal name the server reported (e.g. `TERM`, `KILL`), or null. */
  readonly signal: string | null;
  /** True only when the server reported exit status 0 and the channel closed normally. */
  readonly ok: boolean;
  readonly durationMs: number;
  readonly host: string;
  /**
   * The command text as run, with interpolated values quoted. Interpolated values are often
   * secrets: this accessor is the only way to the full text; inspection and JSON show `template`.
   */
  readonly command: string;
  /** The command text with every interpolated value, `$.raw()` included, masked as `?`. */
  readonly template: string;
}

/** Live numbers of one pool key, or of a whole pool instance. */
export interface ConnectionCounts {
  /** Connections carrying at least one command or lease. */
  readonly activeConnections: number;
  /** Open connections carrying nothing. */
  readonly idleConnections: number;
  /** All open connections (active + idle). Connections still being opened are not counted. */
  readonly totalConnections: number;
  /** Commands and leases waiting for a channel slot. */
  readonly pendingRequests: number;
  /** Channels open or opening. */
  readonly openChannels: number;
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

/** Why a connection was closed. */
export type CloseReason = 'idle' | 'expired' | 'unhealthy' | 'remote' | 'error' | 'shutdown';

/** Extra details passed as the last argument of every event. Never holds a credential. */
export interface ConnectionEventDetails {
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** Identifier of the connection within its pool instance, when the event concerns one. */
  readonly connectionId?: number;
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

/** Options of `getConnection`. */
export interface GetConnectionOptions {
  /** Higher goes first among waiters; equal priorities are served in arrival order. @default 0 */
  priority?: number;
  /** Give up waiting when this fires. */
  signal?: AbortSignal;
}
