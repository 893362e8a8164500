import { ERROR_CODES } from '../core/errors.js';
// Every telemetry name sshpool emits, in one place. Names are part of the public contract:
// dashboards and alert rules depend on them, so they change only with a major version.
import type { CloseReason } from '../ssh/connection.js';

export const INSTRUMENTATION_SCOPE = 'sshpool';
export const INSTRUMENTATION_VERSION = '0.1.0';

export const SPAN_EXEC = 'ssh.exec';
export const SPAN_ACQUIRE = 'ssh.pool.acquire';
export const SPAN_CONNECT = 'ssh.connect';
export const SPAN_HEALTH_CHECK = 'ssh.health_check';
export const SPAN_RECONNECT = 'ssh.reconnect';
/** One tunnelled TCP connection (`forward`, `forwardRemote`, `socks`), from its channel's open to its close. */
export const SPAN_TUNNEL = 'ssh.tunnel';

export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_NETWORK_PEER_ADDRESS = 'network.peer.address';
export const ATTR_NETWORK_PEER_PORT = 'network.peer.port';
/** On `ssh.connect`: the authentication method that logged in (publickey, password, keyboard-interactive). */
export const ATTR_SSH_AUTH_METHOD = 'ssh.auth.method';
/** `tcp`: SSH runs over TCP, directly or through a jump host's forwarded channel. */
export const ATTR_NETWORK_TRANSPORT = 'network.transport';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_PROCESS_EXIT_CODE = 'process.exit.code';
/** On `ssh.exec`, only when true: the command ran under sudo (never as whom, never with what). */
export const ATTR_EXEC_SUDO = 'ssh.exec.sudo';
/** On `ssh.exec`, only when true: the command had a pseudo-terminal. */
export const ATTR_EXEC_PTY = 'ssh.exec.pty';
export const ATTR_POOL_NAME = 'ssh.pool.name';
/**
 * The pool instance (`SSHConnectionPool`) that reported: `global` for `getInstance()`, else the
 * `instanceName` option or `pool-<n>` in creation order. On every span and metric point, so that
 * two pools of one process holding the same pool key never overwrite each other's gauges.
 */
export const ATTR_POOL_INSTANCE = 'ssh.pool.instance';
/** What a link points at: `connection` (the `ssh.connect` that opened the connection used) or `attempt` (a connect attempt waited on). */
export const ATTR_LINK_KIND = 'ssh.link.kind';
export const LINK_KIND_CONNECTION = 'connection';
export const LINK_KIND_ATTEMPT = 'attempt';
export const ATTR_ACQUIRE_OUTCOME = 'ssh.pool.acquire.outcome';
/** Seconds the acquire waited for a slot. */
export const ATTR_ACQUIRE_WAIT = 'ssh.pool.acquire.wait_time';
export const ATTR_COMMAND_TEMPLATE = 'ssh.command.template';
export const ATTR_COMMAND_TEXT = 'ssh.command.text';
export const ATTR_CONNECTION_STATE = 'ssh.connection.state';
export const ATTR_CLOSE_REASON = 'ssh.connection.close_reason';
export const ATTR_CONNECTION_ID = 'ssh.connection.id';
export const ATTR_HEALTH_CHECK_OUTCOME = 'ssh.health_check.outcome';
export const ATTR_RECONNECT_ATTEMPT = 'ssh.reconnect.attempt';
export const ATTR_RECONNECT_OUTCOME = 'ssh.reconnect.outcome';
/** On `ssh.connect` of a target behind jump hosts: `user@bastion:22 -> user@target:22`. */
export const ATTR_ROUTE = 'ssh.route';

// Span events: timings inside a span, each with its own timestamp.
/** On `ssh.exec`: the server opened the command's channel; `ssh.channel.open_time` says how long that took (s). */
export const EVENT_CHANNEL_OPENED = 'ssh.channel.opened';
export const ATTR_CHANNEL_OPEN_TIME = 'ssh.channel.open_time';
/** On `ssh.exec`: true when the command ran on a spare session opened ahead of it (only `exec` was sent). */
export const ATTR_CHANNEL_PREPARED = 'ssh.channel.prepared';
/**
 * On `ssh.connect`: the phases of opening a connection, each marking the end of a protocol step,
 * in protocol order (src/ssh/connect-phases.ts): the time up to `host_key_verified` is the key
 * exchange up to the server's reply, not the host-key check, which is a lookup.
 */
export const EVENT_CONNECT_PHASES = {
  'tcp-connected': 'ssh.connect.tcp_connected',
  'host-key-verified': 'ssh.connect.host_key_verified',
  'key-exchanged': 'ssh.connect.key_exchanged',
  'login-turn': 'ssh.connect.login_turn',
  authenticated: 'ssh.connect.authenticated',
} as const;

export const METRIC_CONNECTION_COUNT = 'ssh.client.connection.count';
export const METRIC_CONNECTION_MAX = 'ssh.client.connection.max';
export const METRIC_PENDING_REQUESTS = 'ssh.client.connection.pending_requests';
export const METRIC_CREATE_TIME = 'ssh.client.connection.create_time';
export const METRIC_WAIT_TIME = 'ssh.client.connection.wait_time';
export const METRIC_USE_TIME = 'ssh.client.connection.use_time';
export const METRIC_ACQUIRES = 'ssh.client.connection.acquires';
export const METRIC_TIMEOUTS = 'ssh.client.connection.timeouts';
export const METRIC_CLOSED = 'ssh.client.connection.closed';
export const METRIC_CHANNEL_COUNT = 'ssh.client.channel.count';
export const METRIC_CHANNEL_REFUSALS = 'ssh.client.channel.refusals';
export const METRIC_HEALTH_CHECK_DURATION = 'ssh.client.health_check.duration';
export const METRIC_RECONNECT_ATTEMPTS = 'ssh.client.reconnect.attempts';
export const METRIC_COMMAND_DURATION = 'ssh.client.command.duration';
/** Channel capacity of a pool key: the channels its connections could carry at once. */
export const METRIC_CHANNEL_MAX = 'ssh.client.channel.max';

// ---- tunnels ----
/** Tunnelled connections open now, by `ssh.tunnel.kind`. */
export const METRIC_TUNNEL_CONNECTIONS = 'ssh.client.tunnel.connections';
/** `local` (`forward`) / `remote` (`forwardRemote`) / `socks`. */
export const ATTR_TUNNEL_KIND = 'ssh.tunnel.kind';
export const TUNNEL_KINDS = ['local', 'remote', 'socks'] as const;
/** On `ssh.tunnel`: where the server was asked to connect (`host:port` or a socket path). */
export const ATTR_TUNNEL_DESTINATION = 'ssh.tunnel.destination';
/** On `ssh.tunnel`: bytes from the server to the local side, and from the local side to the server. */
export const ATTR_TUNNEL_RECEIVED_BYTES = 'ssh.tunnel.received_bytes';
export const ATTR_TUNNEL_TRANSMITTED_BYTES = 'ssh.tunnel.transmitted_bytes';

/** Spare session channels held open for the next command (`poolConfig.spareChannels`). */
export const METRIC_CHANNEL_SPARE = 'ssh.client.channel.spare';
/** 1 while a pool key's reconnect has used up its attempts and waits for new demand, else 0. */
export const METRIC_RECONNECT_GIVEN_UP = 'ssh.client.reconnect.given_up';

// ---- added with streams: bytes carried by channels ----

/** Channel data bytes, by `network.io.direction` and `ssh.channel.type` (unit `By`). */
export const METRIC_CHANNEL_IO = 'ssh.client.channel.io';
/** `receive` (from the server: stdout, stderr, tunnelled data) or `transmit` (to it), as in the semantic conventions. */
export const ATTR_NETWORK_IO_DIRECTION = 'network.io.direction';
/** `session` / `sftp` / `direct-tcpip` / `forwarded-tcpip` (and `direct-streamlocal@openssh.com`, `forwarded-streamlocal@openssh.com` for UNIX sockets). */
export const ATTR_CHANNEL_TYPE = 'ssh.channel.type';
export const IO_DIRECTIONS = ['receive', 'transmit'] as const;
export type NetworkIoDirection = (typeof IO_DIRECTIONS)[number];
export const CHANNEL_TYPE_SESSION = 'session';
/** On `ssh.exec`: channel data bytes the command received (stdout and stderr) and sent (stdin). */
export const ATTR_CHANNEL_BYTES_RECEIVED = 'ssh.channel.bytes_received';
export const ATTR_CHANNEL_BYTES_SENT = 'ssh.channel.bytes_sent';

export type AcquireSpanOutcome = 'reused' | 'created' | 'timeout' | 'error';

/**
 * Histogram bucket bounds in seconds, given as instrument advice (an SDK View can replace them).
 * SSH work spans a loopback exec (~5 ms) to a slow command or a connect against a struggling
 * server (minutes). From 0.5 s to 5 s, where acquire timeouts, connects and the SLO's 1 s bound
 * live, neighbouring bounds are at most 25 % apart, so a quantile read with histogram_quantile()
 * lands within 20 % of the truth for workloads of about 1 s and 3 s (test/unit/telemetry/histogram-buckets.test.ts);
 * 1 s stays a bound, as the latency SLO needs.
 */
export const DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, 7.5, 10, 20, 30, 60, 120, 300,
];

// ---- fixed label values: every series with one of these exists, at zero, from the moment a
// pool key is created (PoolTelemetry.registerPool), so rate() and increase() see its first event.

/** `ssh.pool.acquire.outcome` values. */
export const ACQUIRE_OUTCOMES = ['reused', 'created', 'timeout', 'error'] as const satisfies readonly AcquireSpanOutcome[];
/** `ssh.connection.close_reason` values (the `CloseReason` of the public types). */
export const CLOSE_REASONS = ['idle', 'expired', 'unhealthy', 'remote', 'error', 'shutdown'] as const satisfies readonly CloseReason[];
/** `ssh.reconnect.outcome` values. */
export const RECONNECT_OUTCOMES = ['success', 'failure'] as const;
/** `ssh.health_check.outcome` values. */
export const HEALTH_CHECK_OUTCOMES = ['healthy', 'unhealthy'] as const;
/**
 * `error.type` values a failed connect records on `ssh.client.connection.create_time`: the
 * stable `code`s of ConnectError and its subclasses.
 */
export const CONNECT_ERROR_TYPES = [
  ERROR_CODES.connect,
  ERROR_CODES.auth,
  ERROR_CODES.hostKey,
  ERROR_CODES.connectTimeout,
] as const;
/** `error.type` of a connect that failed at a jump host (JumpHostError), for pool keys behind one. */
export const JUMP_HOST_ERROR_TYPE = ERROR_CODES.jumpHost;

/**
 * `error.type` values a failed command records on `ssh.client.command.duration`, besides the
 * connect error types of its pool key: the codes of the errors a command can end with
 * (src/command/error-mapping.ts).
 */
export const COMMAND_ERROR_TYPES = [
  ERROR_CODES.acquireTimeout,
  ERROR_CODES.poolClosed,
  ERROR_CODES.channelRefused,
  ERROR_CODES.commandFailed,
  ERROR_CODES.commandTimeout,
  ERROR_CODES.aborted,
  ERROR_CODES.connectionLost,
  ERROR_CODES.outputLimit,
  ERROR_CODES.sudoPassword,
  ERROR_CODES.sudoNotAllowed,
  ERROR_CODES.sudoNotInstalled,
  ERROR_CODES.promptUnanswered,
] as const;

// ---- host groups ----
/** One command of a host group, around the `ssh.exec` span of each host it was tried on. */
export const SPAN_GROUP_EXEC = 'ssh.group.exec';
/** One fan-out (`group.all`), around the `ssh.exec` span of every host. */
export const SPAN_GROUP_FAN_OUT = 'ssh.group.fan_out';
/** A group's circuit breaker marked a host down (own trace, linked from the command that did it). */
export const SPAN_HOST_DOWN = 'ssh.host.down';
/** A host came back up: its probe connected, or a command reached it. */
export const SPAN_HOST_UP = 'ssh.host.up';
/** Event on `ssh.group.exec`: one host could not take the command, the next one is tried. */
export const EVENT_GROUP_ATTEMPT_FAILED = 'ssh.group.attempt_failed';
export const ATTR_GROUP_NAME = 'ssh.group.name';
export const ATTR_GROUP_STRATEGY = 'ssh.group.strategy';
/** The member (`host:port`) that ran the command, or was tried. */
export const ATTR_GROUP_HOST = 'ssh.group.host';
/** Hosts tried for one command (1 when the first choice ran it). */
export const ATTR_GROUP_ATTEMPTS = 'ssh.group.attempts';
/** Which try of the command this `ssh.exec` is (1-based). */
export const ATTR_GROUP_ATTEMPT = 'ssh.group.attempt';
/** Hosts of a fan-out, and how many of them failed. */
export const ATTR_GROUP_HOST_COUNT = 'ssh.group.host_count';
export const ATTR_GROUP_FAILED_COUNT = 'ssh.group.failed_count';
/** `up` / `down`, on host state spans. */
export const ATTR_HOST_STATE = 'ssh.host.state';
/** 1 while a group member is up, 0 while it is down (probing included); per `ssh.pool.name` and `ssh.group.name`. */
export const METRIC_HOST_STATE = 'ssh.client.host.state';

// ---- file transfers (SFTP) ----
/** One transfer each (`ssh.upload()`, `download()`, `readFile()`, `writeFile()`), CLIENT, linked to the connection's `ssh.connect`. */
export const SPAN_SFTP = {
  upload: 'ssh.sftp.upload',
  download: 'ssh.sftp.download',
  read: 'ssh.sftp.read',
  write: 'ssh.sftp.write',
} as const;
/** Duration of a transfer, by `ssh.sftp.operation`, with `error.type` on failure. */
export const METRIC_TRANSFER_DURATION = 'ssh.client.transfer.duration';
/** `upload` / `download` / `read` / `write`. */
export const ATTR_SFTP_OPERATION = 'ssh.sftp.operation';
/** On `ssh.sftp.*` spans: the bytes moved, and the files. */
export const ATTR_SFTP_BYTES = 'ssh.sftp.bytes';
export const ATTR_SFTP_FILES = 'ssh.sftp.files';
/** `ssh.channel.type` of the SFTP channel. */
export const CHANNEL_TYPE_SFTP = 'sftp';
export const SFTP_OPERATIONS = ['upload', 'download', 'read', 'write'] as const;
export type SftpOperation = (typeof SFTP_OPERATIONS)[number];
/** `error.type` values a failed transfer records on `ssh.client.transfer.duration`, started at zero with each pool key. */
export const TRANSFER_ERROR_TYPES = [
  ERROR_CODES.transfer,
  ERROR_CODES.remoteNotFound,
  ERROR_CODES.permissionDenied,
  ERROR_CODES.sftpUnavailable,
  ERROR_CODES.localNotFound,
  ERROR_CODES.writeFailed,
  ERROR_CODES.verifyMismatch,
  ERROR_CODES.transferTimeout,
  ERROR_CODES.aborted,
  ERROR_CODES.connectionLost,
  ERROR_CODES.acquireTimeout,
] as const;
