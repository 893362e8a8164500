import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { SSHConnectionPool } from './connection-pool.js';
import type { ResolvedPoolConfig } from './pool-config.js';

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
  /**
   * Name to look the key up under instead of `host` / `[host]:port`, as OpenSSH's
   * `HostKeyAlias`: for hosts reached by changing names or through tunnels.
   * @default undefined (the host name and port)
   */
  alias?: string;
  /**
   * Further known-hosts files to read, never written (OpenSSH's second and later
   * `UserKnownHostsFile` entries and `GlobalKnownHostsFile`).
   * @default []
   */
  extraKnownHostsFiles?: readonly string[];
}

/**
 * Where and as whom to run commands. Fields left out are taken from the OpenSSH client config
 * (`configFile`) the way `ssh` takes them; fields given win over the config.
 */
export interface SSHTarget {
  /** Host name, address, or a `Host` alias of the OpenSSH client config. */
  host: string;
  /** @default the config's `Port`, else 22 */
  port?: number;
  /** @default the config's `User`, else the local user name (as ssh) */
  username?: string;
  /**
   * Private key text: OpenSSH, PEM (PKCS#1 RSA, SEC1 EC, DSA) or PuTTY PPK v2 (RSA). Replaces
   * the config's `IdentityFile`s.
   * @default the config's `IdentityFile`s; with no credential given at all, ~/.ssh/id_rsa, id_ecdsa, id_ed25519, id_dsa (those that exist)
   */
  privateKey?: string | Buffer;
  /** Passphrase of an encrypted `privateKey`, or of the config's encrypted `IdentityFile`s. */
  passphrase?: string;
  /** Tried after every key, as ssh does. */
  password?: string;
  /**
   * ssh-agent to take keys from: a socket path, `true` for `$SSH_AUTH_SOCK`, `false` for none.
   * Its keys are offered in the agent's order, after the identity keys the agent also holds.
   * @default the config's `IdentityAgent`; with no credential given at all, `$SSH_AUTH_SOCK` (as ssh)
   */
  agent?: string | boolean;
  /**
   * Forward the agent to the server (`ssh -A`), so that commands there can use your keys.
   * Risk: while the connection is open (pooled connections stay open), anyone who is root on
   * that server, or who can act as your user there, can ask your agent to sign and log in
   * wherever your keys are accepted. Only for servers you trust as much as your own machine.
   * The config's `ForwardAgent` is not honoured for that reason (a warning says so).
   * @default false
   */
  forwardAgent?: boolean;
  /**
   * OpenSSH client config used to resolve `host`: a path, or `false` to read none.
   * @default '~/.ssh/config' (when it exists)
   */
  configFile?: string | false;
  /**
   * Jump hosts (`ssh -J`), first hop first: host names / aliases (`[user@]host[:port]`) or
   * target objects. `false`: connect directly whatever the config's `ProxyJump` says. Each hop
   * is a pool key of the same pool, its connections shared by every target behind it (README
   * "Jump hosts").
   * @default the config's `ProxyJump`, else none
   */
  jump?: string | SSHJumpHost | ReadonlyArray<string | SSHJumpHost> | false;
  /** @default 'strict', or what the config's StrictHostKeyChecking, UserKnownHostsFile, GlobalKnownHostsFile and HostKeyAlias say */
  hostKey?: HostKeyPolicy | HostKeyVerification;
  /** Settings for this target's pool; wins over `configureHost` rules and pool defaults. */
  poolConfig?: PoolConfig;
  /** The pool to use. @default SSHConnectionPool.getInstance() */
  pool?: SSHConnectionPool;
}

/** A jump host: where and as whom, without pool settings (the route belongs to the target). */
export type SSHJumpHost = Omit<SSHTarget, 'jump' | 'pool' | 'poolConfig'>;

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
   * Which health probes get an `ssh.health_check` span (each is a trace of its own): `all`;
   * `failures`, only probes that found a connection unhealthy; or `none`. The
   * `ssh.client.health_check.duration` metric counts every probe either way.
   * @default 'all'
   */
  healthCheckSpans?: 'all' | 'failures' | 'none';
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
   * On a jump host's pool key, each tunnel to a target behind it holds one of these slots for
   * the life of the target's connection (set it with `configureHost()`).
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
  /** @default { acquireSpans: 'all', healthCheckSpans: 'all', captureCommand: false } */
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

// ---- host groups ----

/**
 * How a host group picks the host for each command:
 * - `round-robin`: each host in turn;
 * - `least-used`: the host with the fewest commands running or waiting on it, from the pool's
 *   live state (other users of the same pool count too); ties go round-robin;
 * - `failover`: the first host that is up, in list order (primary first).
 */
export type HostGroupStrategy = 'round-robin' | 'least-used' | 'failover';

/** One member of a host group given as an object. */
export interface HostGroupMember {
  host: string;
  /** @default the group's `port`, else 22 */
  port?: number;
}

/**
 * The circuit breaker of each group member. A member whose connections keep failing is marked
 * down: no command is sent to it until a probe (one connection opened in the background)
 * succeeds. Probes start after `cooldown` ms and back off, doubling up to `maxCooldown`.
 */
export interface CircuitBreakerConfig {
  /**
   * Failed connection opens in a row that mark a host down. Each one already includes the
   * pool's own `maxRetries` attempts, so 1 is not as hasty as it looks.
   * @default 1
   */
  failureThreshold?: number;
  /** ms a host stays down before the first probe. @default 5000 */
  cooldown?: number;
  /** Upper bound of the delay between failed probes, in ms. @default 60000 */
  maxCooldown?: number;
}

/**
 * `$.ssh({ hosts, ... })`: a group of hosts sharing user, credential and settings. Every
 * field of `SSHTarget` but `host` applies to each member.
 */
export interface SSHHostGroupTarget extends Omit<SSHTarget, 'host' | 'port'> {
  /** Members, as host names or `{ host, port }`. At least one; no duplicates. */
  hosts: ReadonlyArray<string | HostGroupMember>;
  /** Port of members given without one. @default 22 */
  port?: number;
  /** @default 'round-robin' */
  strategy?: HostGroupStrategy;
  /** Circuit breaker settings, or `false` to never mark a host down. @default { failureThreshold: 1, cooldown: 5000, maxCooldown: 60000 } */
  circuitBreaker?: CircuitBreakerConfig | false;
  /**
   * Re-run a command on another host when its connection was lost while it ran, for every
   * command of the group (a command's own `.retryable()` wins). Only for commands that are
   * safe to run twice. Commands that never started (their connection could not be opened)
   * always move on to the next host, whatever this says.
   * @default false
   */
  retryable?: boolean;
  /** Hosts a fan-out (`group.all`) runs on at once; `.concurrency(n)` overrides it. @default 10 */
  concurrency?: number;
  /** Name in telemetry (`ssh.group.name`) and errors. @default the members joined by ',' */
  name?: string;
}

/** A group member's state: `probing` is a down host whose probe is running. */
export type HostState = 'up' | 'down' | 'probing';

/** One member as `group.members()` reports it. */
export interface HostGroupMemberStatus {
  /** `host:port` */
  readonly host: string;
  /** The pool name its commands run under (`username@host:port`, `#N` for further credentials). */
  readonly poolName: string;
  readonly state: HostState;
  /** Epoch ms of the next probe while down. */
  readonly retryAt: number | undefined;
  /** The failure that marked it down, while it is down. */
  readonly lastError: Error | undefined;
  /** Its settings, as `pool.resolveConfig()` gives them: group `poolConfig` > `configureHost` rule > defaults. */
  readonly config: ResolvedPoolConfig;
}

/** Extra details of host group events. Never holds a credential. */
export interface HostGroupEventDetails {
  readonly group: string;
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
}

/** Event names and listener arguments of a host group. The first argument is `host:port`. */
export interface HostGroupEvents {
  /** The circuit breaker marked the host down; `error` is the failure that did it. */
  'host:down': [host: string, error: Error, details: HostGroupEventDetails];
  /** A probe (or a command) reached the host again. */
  'host:up': [host: string, details: HostGroupEventDetails];
}

/** One host's outcome in a fan-out, shaped like `Promise.allSettled`'s entries. */
export type FanOutResult =
  | { readonly host: string; readonly status: 'fulfilled'; readonly value: CommandResult }
  | { readonly host: string; readonly status: 'rejected'; readonly reason: Error };

/** Progress of a fan-out, reported as each host finishes. */
export interface FanOutProgress {
  /** The host that just finished. */
  readonly result: FanOutResult;
  /** Its position in the group's host order. */
  readonly index: number;
  /** Hosts finished so far, this one included. */
  readonly done: number;
  readonly total: number;
}
