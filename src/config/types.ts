import type { BackoffCurve } from '../core/backoff.js';
import type { HostKeyPolicy, HostKeyVerification } from '../ssh/host-keys/host-key-policy.js';
import type { KeyboardInteractiveHandler } from '../ssh/auth/auth-methods.js';

/**
 * Where and as whom to run commands (`SSHTarget` without the pool instance to run them on). Fields left out are taken from the OpenSSH client config
 * (`configFile`) the way `ssh` takes them; fields given win over the config.
 */
export interface SSHTargetOptions {
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
  /** Tried after every key, as ssh does; also answers a keyboard-interactive login's lone password prompt. */
  password?: string;
  /**
   * The password sudo asks for when a command uses `.sudo()` without its own. Sent only when
   * sudo prompts; never shown anywhere. Not part of the login: connections are shared as before.
   */
  sudoPassword?: string;
  /**
   * Answers keyboard-interactive logins beyond a lone password prompt (which `password`
   * answers): one-time codes, second factors, several rounds. Gets each round's prompts,
   * returns one answer per prompt (or a promise of them); called for every connection opened,
   * reconnects included. Waiting for it counts against `connectionTimeout`. Answers are sent
   * to the server only. Targets with different handlers never share a connection.
   */
  onKeyboardInteractive?: KeyboardInteractiveHandler;
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
}

/** A jump host: where and as whom, without pool settings (the route belongs to the target). */
export type SSHJumpHost = Omit<SSHTargetOptions, 'jump' | 'poolConfig'>;

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
  backoff?: BackoffCurve;
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
  /**
   * Where `ssh.connect` spans go. `root` (default): each connect attempt is a trace of its own,
   * linked from every command and acquire that waited on it or ran on its connection; a
   * connection outlives the command that caused it and serves many others, so no one command
   * owns it. `child`: an attempt made for a waiting command is a child of that command's
   * `ssh.pool.acquire` parent (its `ssh.exec`), so a slow command's trace holds its connect
   * and phases in one tree; the links stay. The trade-off: every later command on that
   * connection links into the first command's trace, a trace sampler's decision for the
   * command also decides its connect's, and warm-up and reconnect attempts (no command) stay
   * roots.
   * @default 'root'
   */
  connectSpans?: 'root' | 'child';
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
  /**
   * ms for TCP connect + handshake + authentication. An open waiting for its pool key's first
   * login to be answered (a cold burst) does not count that wait. @default 10000
   */
  connectionTimeout?: number;
  /** ms a command may wait for a channel slot before `AcquireTimeoutError`. @default 30000 */
  acquireTimeout?: number;
  /** Further attempts to open a connection for a waiting command, transient errors only. @default 2 */
  maxRetries?: number;
  /**
   * Connections of one pool key being opened at once, at most: OpenSSH's default
   * `MaxStartups` (10), which resets handshakes beyond it. A server that drops handshakes (a
   * lower `MaxStartups`) halves the number for that pool key; completed handshakes raise it
   * again by one at a time, up to this.
   * @default 10
   */
  maxConcurrentConnects?: number;
  /**
   * Keep one spare session channel open on each connection, so that a command on a warm
   * connection sends only `exec`: one round trip instead of two. Spares count against the
   * channel limit learned from the server's `MaxSessions`, are replaced when the server closes
   * them, and never keep the process alive. `false`: every command opens its own channel.
   * @default true
   */
  spareChannels?: boolean;
  /** @default { enabled: false, interval: 30000, timeout: 5000, command: 'true' } */
  healthCheck?: HealthCheckConfig;
  /** @default { enabled: true, maxRetries: 5, initialDelay: 200, maxDelay: 10000, backoff: 'exponential', jitter: true } */
  reconnect?: ReconnectConfig;
  /** @default { acquireSpans: 'all', healthCheckSpans: 'all', captureCommand: false, connectSpans: 'root' } */
  telemetry?: TelemetryConfig;
}
