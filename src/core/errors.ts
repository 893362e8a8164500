import { RemoteCommandResult } from './command-result.js';
import type { CommandResult, StreamedOutput } from './command-result.js';
import type { FanOutResult } from './fan-out-result.js';

/**
 * Every stable error code, once: the error classes below carry them, and telemetry's
 * `error.type` records the same values. Nothing else spells a code out.
 */
export const ERROR_CODES = {
  invalidArgument: 'ERR_SSHPOOL_INVALID_ARGUMENT',
  connect: 'ERR_SSHPOOL_CONNECT',
  auth: 'ERR_SSHPOOL_AUTH',
  hostKey: 'ERR_SSHPOOL_HOST_KEY',
  connectTimeout: 'ERR_SSHPOOL_CONNECT_TIMEOUT',
  jumpHost: 'ERR_SSHPOOL_JUMP_HOST',
  acquireTimeout: 'ERR_SSHPOOL_ACQUIRE_TIMEOUT',
  poolClosed: 'ERR_SSHPOOL_POOL_CLOSED',
  channelRefused: 'ERR_SSHPOOL_CHANNEL_REFUSED',
  commandFailed: 'ERR_SSHPOOL_COMMAND_FAILED',
  commandTimeout: 'ERR_SSHPOOL_COMMAND_TIMEOUT',
  aborted: 'ERR_SSHPOOL_ABORTED',
  connectionLost: 'ERR_SSHPOOL_CONNECTION_LOST',
  outputLimit: 'ERR_SSHPOOL_OUTPUT_LIMIT',
  hostDown: 'ERR_SSHPOOL_HOST_DOWN',
  noHostAvailable: 'ERR_SSHPOOL_NO_HOST_AVAILABLE',
  fanOut: 'ERR_SSHPOOL_FAN_OUT',
  sshConfig: 'ERR_SSHPOOL_SSH_CONFIG',
  privateKey: 'ERR_SSHPOOL_PRIVATE_KEY',
  tunnelRefused: 'ERR_SSHPOOL_TUNNEL_REFUSED',
  // File transfers (SFTP)
  transfer: 'ERR_SSHPOOL_TRANSFER',
  remoteNotFound: 'ERR_SSHPOOL_REMOTE_NOT_FOUND',
  permissionDenied: 'ERR_SSHPOOL_PERMISSION_DENIED',
  sftpUnavailable: 'ERR_SSHPOOL_SFTP_UNAVAILABLE',
  localNotFound: 'ERR_SSHPOOL_LOCAL_NOT_FOUND',
  writeFailed: 'ERR_SSHPOOL_WRITE_FAILED',
  verifyMismatch: 'ERR_SSHPOOL_VERIFY_MISMATCH',
  transferTimeout: 'ERR_SSHPOOL_TRANSFER_TIMEOUT',
  sudoPassword: 'ERR_SSHPOOL_SUDO_PASSWORD',
  sudoNotAllowed: 'ERR_SSHPOOL_SUDO_NOT_ALLOWED',
  sudoNotInstalled: 'ERR_SSHPOOL_SUDO_NOT_INSTALLED',
  promptUnanswered: 'ERR_SSHPOOL_PROMPT_UNANSWERED',
} as const;

/** One of the stable codes. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/**
 * Base class of every error sshpool throws. `code` is stable across releases and is what
 * programs should branch on; messages may be reworded.
 */
export abstract class SSHPoolError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option, target or interpolated value was rejected before anything was sent. */
export class InvalidArgumentError extends SSHPoolError {
  readonly code = ERROR_CODES.invalidArgument;
}

/** Details shared by every error about one remote endpoint. Never holds a credential. */
export interface EndpointInfo {
  /** `username@host:port` (with `#N` when one endpoint is reached with several credentials). */
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
}

/** Opening a connection failed: TCP refused or reset, DNS failure, handshake failure. */
export class ConnectError extends SSHPoolError {
  readonly code: string = ERROR_CODES.connect;
  readonly host: string;
  readonly port: number;
  readonly poolName: string;
  /**
   * Whether trying again may help (refused, reset, timed out). Authentication and host-key
   * failures are permanent: retrying them only locks accounts and hides attacks.
   */
  readonly transient: boolean;

  constructor(message: string, endpoint: EndpointInfo, transient: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.host = endpoint.host;
    this.port = endpoint.port;
    this.poolName = endpoint.poolName;
    this.transient = transient;
  }
}

/** The server rejected every offered credential. Never retried. */
export class AuthenticationError extends ConnectError {
  override readonly code = ERROR_CODES.auth;

  constructor(message: string, endpoint: EndpointInfo, options?: { cause?: unknown }) {
    super(message, endpoint, false, options);
  }
}

/** Why a host key was not accepted. */
export type HostKeyRejection = 'unknown' | 'mismatch' | 'revoked' | 'not-pinned';

/** The server's host key did not pass the configured verification policy. Never retried. */
export class HostKeyError extends ConnectError {
  override readonly code = ERROR_CODES.hostKey;
  /** `SHA256:<base64>` of the key the server presented, as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
  readonly keyType: string;
  readonly reason: HostKeyRejection;

  constructor(
    message: string,
    endpoint: EndpointInfo,
    details: { fingerprint: string; keyType: string; reason: HostKeyRejection },
  ) {
    super(message, endpoint, false);
    this.fingerprint = details.fingerprint;
    this.keyType = details.keyType;
    this.reason = details.reason;
  }
}

/** TCP connect, handshake and authentication together took longer than `connectionTimeout`. */
export class ConnectTimeoutError extends ConnectError {
  override readonly code = ERROR_CODES.connectTimeout;
  readonly timeoutMs: number;

  constructor(message: string, endpoint: EndpointInfo, timeoutMs: number, options?: { cause?: unknown }) {
    super(message, endpoint, true, options);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A target behind jump hosts could not be reached because of a hop: the jump host's own
 * connection failed (its `ConnectError` is the `cause`), or it would not open a `direct-tcpip`
 * channel to the next host. `poolName`/`host`/`port` are the target's; `jumpHost` names the hop.
 * Transient exactly when the hop's failure is.
 */
export class JumpHostError extends ConnectError {
  override readonly code = ERROR_CODES.jumpHost;
  /** Pool name of the hop that failed (`username@host:port`). */
  readonly jumpHost: string;

  constructor(message: string, endpoint: EndpointInfo, jumpHost: string, transient: boolean, options?: { cause?: unknown }) {
    super(message, endpoint, transient, options);
    this.jumpHost = jumpHost;
  }
}

/**
 * No channel slot became free within `acquireTimeout`. `cause` is the last error met while
 * opening a connection for this pool, when there was one: "timed out" alone rarely explains.
 */
export class AcquireTimeoutError extends SSHPoolError {
  readonly code = ERROR_CODES.acquireTimeout;
  readonly poolName: string;
  readonly timeoutMs: number;

  constructor(message: string, poolName: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(message, options);
    this.poolName = poolName;
    this.timeoutMs = timeoutMs;
  }
}

/** The pool was closed (`closeAll()`) before the command could start. */
export class PoolClosedError extends SSHPoolError {
  readonly code = ERROR_CODES.poolClosed;
}

/** The server kept refusing to open a session channel, on every connection tried. */
export class ChannelRefusedError extends SSHPoolError {
  readonly code = ERROR_CODES.channelRefused;
  readonly poolName: string;

  constructor(message: string, poolName: string, options?: { cause?: unknown }) {
    super(message, options);
    this.poolName = poolName;
  }
}

/**
 * The server would not open a tunnel's channel to its destination: its policy forbids it
 * (`prohibited`: OpenSSH's `AllowTcpForwarding`, `PermitOpen`, `AllowStreamLocalForwarding`),
 * nothing answered at the destination as the server sees it (`connect-failed`), or another
 * reason the server gave (`other`). The tunnelled connection is closed; the tunnel goes on.
 */
export class TunnelRefusedError extends SSHPoolError {
  readonly code = ERROR_CODES.tunnelRefused;
  readonly poolName: string;
  /** `host:port` or the socket path the tunnel was asked to reach. */
  readonly destination: string;
  readonly reason: 'prohibited' | 'connect-failed' | 'other';

  constructor(message: string, poolName: string, destination: string, reason: TunnelRefusedError['reason'], options?: { cause?: unknown }) {
    super(message, options);
    this.poolName = poolName;
    this.destination = destination;
    this.reason = reason;
  }
}

/** Characters of each output stream that `JSON.stringify(error)` keeps: the last ones. */
export const ERROR_JSON_OUTPUT_CHARS = 1024;

/** The short form of a command's result in `JSON.stringify(error)`: output cut to its end. */
export interface CommandResultSummary extends Pick<CommandResult, 'exitCode' | 'signal' | 'ok' | 'durationMs' | 'host' | 'template'> {
  /** The last `ERROR_JSON_OUTPUT_CHARS` characters of stdout, after a `…` when cut. */
  readonly stdout: string;
  readonly stderr: string;
  /** The whole output's size in bytes. */
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
}

/** What `JSON.stringify` writes for a `CommandError`: small enough for one log line. */
export interface CommandErrorJSON {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly result: CommandResultSummary;
  /** The subclass's own fields (`timeoutMs`, `limitBytes`). */
  readonly [field: string]: unknown;
}

function endOf(text: string): string {
  if (text.length <= ERROR_JSON_OUTPUT_CHARS) return text;
  const cut = text.slice(-ERROR_JSON_OUTPUT_CHARS);
  return `…${/^[\udc00-\udfff]/.test(cut) ? cut.slice(1) : cut}`;
}

/**
 * Base of the errors that describe how a started command ended. Carries the result.
 * The message names the command by its masked template; the result shows only that template
 * to `util.inspect`, `console.error` and `JSON.stringify`, so logging an error never logs an
 * interpolated secret. The full text stays reachable as `error.result.command`.
 * `JSON.stringify(error)` is a short form for logs (`toJSON`: at most the last 1,024
 * characters of each stream); the whole output is `error.result` (up to `maxBuffer` per stream).
 */
export abstract class CommandError extends SSHPoolError {
  readonly result: CommandResult;

  /** `result` may be a plain object; one without `streamed` streamed nothing. */
  constructor(message: string, result: CommandResult | (Omit<CommandResult, 'streamed'> & { readonly streamed?: StreamedOutput }), options?: { cause?: unknown }) {
    super(message, options);
    // A result built elsewhere (a plain object) gets the same redacting representation.
    this.result = result instanceof RemoteCommandResult ? result : new RemoteCommandResult(result);
  }

  /** A short form for logs: name, code, message, the subclass's fields, and the result with its output cut to the last 1,024 characters of each stream. */
  toJSON(): CommandErrorJSON {
    const { result, ...fields } = this as unknown as Record<string, unknown> & { result: CommandResult };
    return {
      ...fields,
      name: this.name,
      code: this.code,
      message: this.message,
      result: {
        exitCode: result.exitCode,
        signal: result.signal,
        ok: result.ok,
        durationMs: result.durationMs,
        host: result.host,
        template: result.template,
        stdout: endOf(result.stdout),
        stderr: endOf(result.stderr),
        stdoutBytes: result.stdoutBuffer.length,
        stderrBytes: result.stderrBuffer.length,
      },
    };
  }

  get exitCode(): number | null {
    return this.result.exitCode;
  }
  get stdout(): string {
    return this.result.stdout;
  }
  get stderr(): string {
    return this.result.stderr;
  }
}

/** The remote command exited with a non-zero status, was killed by a signal, or reported neither. */
export class CommandFailedError extends CommandError {
  readonly code = ERROR_CODES.commandFailed;
}

/** Why sudo would not run a command: the password it was given was wrong, or it needed one and got none. */
export type SudoPasswordProblem = 'wrong' | 'required';

/**
 * sudo refused the password (`wrong`: it asked again), or wanted one and none was given
 * (`required`: `sudo -n` stopped at once). The command did not run. Never holds the password.
 */
export class SudoPasswordError extends CommandError {
  readonly code = ERROR_CODES.sudoPassword;
  readonly reason: SudoPasswordProblem;

  constructor(message: string, result: CommandResult, reason: SudoPasswordProblem) {
    super(message, result);
    this.reason = reason;
  }
}

/** sudo authenticated the user but its policy does not let them run the command (not in sudoers). */
export class SudoNotAllowedError extends CommandError {
  readonly code = ERROR_CODES.sudoNotAllowed;
}

/** The server has no `sudo` command on the login's PATH. */
export class SudoNotInstalledError extends CommandError {
  readonly code = ERROR_CODES.sudoNotInstalled;
}

/** The command ran longer than its `.timeout(ms)`; its channel was closed, others went on. */
export class CommandTimeoutError extends CommandError {
  readonly code = ERROR_CODES.commandTimeout;
  readonly timeoutMs: number;

  constructor(message: string, result: CommandResult, timeoutMs: number) {
    super(message, result);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A command with `.respond()` rules ran into its timeout while its output ended in a line that
 * no rule answered: most likely a prompt waiting for input. `lastLine` is that line.
 */
export class PromptUnansweredError extends CommandError {
  readonly code = ERROR_CODES.promptUnanswered;
  readonly timeoutMs: number;
  readonly lastLine: string;

  constructor(message: string, result: CommandResult, timeoutMs: number, lastLine: string) {
    super(message, result);
    this.timeoutMs = timeoutMs;
    this.lastLine = lastLine;
  }
}

/** The command's AbortSignal fired; its channel (or its place in the queue) was given up. */
export class AbortedError extends CommandError {
  readonly code = ERROR_CODES.aborted;
}

/** The connection carrying the command died before the command finished. */
export class ConnectionLostError extends CommandError {
  readonly code = ERROR_CODES.connectionLost;
}

/** The command wrote more than `maxBuffer` bytes to stdout or stderr; its channel was closed. */
export class OutputLimitError extends CommandError {
  readonly code = ERROR_CODES.outputLimit;
  readonly limitBytes: number;

  constructor(message: string, result: CommandResult, limitBytes: number) {
    super(message, result);
    this.limitBytes = limitBytes;
  }
}

/** Why one host of a group did not run a command. */
export interface HostFailure {
  /** The member as the group lists it: `host:port`. */
  readonly host: string;
  /** The member's pool name (`username@host:port`, `#N` for further credentials). */
  readonly poolName: string;
  readonly error: Error;
}

function listFailures(failures: readonly HostFailure[]): string {
  return failures.map(({ host, error }) => `${host}: ${error.message}`).join('; ');
}

/**
 * A host group skipped this host: its circuit breaker marked it down after connection
 * failures, and its cool-down has not ended. `cause` is the failure that marked it down.
 */
export class HostDownError extends SSHPoolError {
  readonly code = ERROR_CODES.hostDown;
  readonly host: string;
  /** Epoch ms at which the host is probed again. */
  readonly retryAt: number;

  constructor(message: string, host: string, retryAt: number, options?: { cause?: unknown }) {
    super(message, options);
    this.host = host;
    this.retryAt = retryAt;
  }
}

/**
 * No host of a group could take a command: each was down, could not start it (connection
 * failed, no slot), or, for a retryable command, lost it. `failures` lists every host of the
 * group with its cause, in the order the group tried them.
 */
export class NoHostAvailableError extends SSHPoolError {
  readonly code = ERROR_CODES.noHostAvailable;
  readonly failures: readonly HostFailure[];

  constructor(what: string, failures: readonly HostFailure[]) {
    super(`No host could run ${what}: ${listFailures(failures)}`, { cause: failures.at(-1)?.error });
    this.failures = failures;
  }
}

/**
 * A fan-out (`group.all`) in which some hosts failed. The successes are not lost: `results`
 * holds one settled outcome per host, in the group's host order; `failures` the failed ones.
 */
export class FanOutError<T = CommandResult> extends SSHPoolError {
  readonly code = ERROR_CODES.fanOut;
  readonly results: readonly FanOutResult<T>[];
  readonly failures: readonly HostFailure[];

  constructor(what: string, results: readonly FanOutResult<T>[], failures: readonly HostFailure[]) {
    super(`${what} failed on ${failures.length} of ${results.length} hosts: ${listFailures(failures)}`);
    this.results = results;
    this.failures = failures;
  }
}

/**
 * An OpenSSH client config file (`~/.ssh/config` or `configFile`) could not be used for a
 * target: unreadable, malformed, or asking for something sshpool does not do (`ProxyCommand`,
 * `Match exec`). Carries where; never a value that might be secret.
 */
export class SSHConfigError extends SSHPoolError {
  readonly code = ERROR_CODES.sshConfig;
  /** The config file at fault. */
  readonly file: string;
  /** 1-based line in `file`, when one line is at fault. */
  readonly line: number | undefined;

  constructor(message: string, file: string, line?: number, options?: { cause?: unknown }) {
    super(line === undefined ? `${file}: ${message}` : `${file} line ${line}: ${message}`, options);
    this.file = file;
    this.line = line;
  }
}

/** Why a private key could not be used. */
export type PrivateKeyProblem = 'passphrase-required' | 'wrong-passphrase' | 'unsupported-format' | 'unreadable' | 'unprotected';

/**
 * A private key (`privateKey`, or an `IdentityFile` of the config) cannot be used: it is
 * encrypted and no passphrase was given, the passphrase is wrong, its format is not one ssh2
 * reads, the file cannot be read, or (`unprotected`) its group or others may read it, which
 * ssh refuses too. Raised before anything is sent; never retried.
 */
export class PrivateKeyError extends SSHPoolError {
  readonly code = ERROR_CODES.privateKey;
  readonly reason: PrivateKeyProblem;
  /** `target.privateKey`, or the path of the key file. */
  readonly source: string;

  constructor(message: string, source: string, reason: PrivateKeyProblem, options?: { cause?: unknown }) {
    super(message, options);
    this.source = source;
    this.reason = reason;
  }
}

/** Which file operation a `TransferError` comes from. */
export type TransferOperation = 'upload' | 'download' | 'read' | 'write';

/**
 * A file transfer (`upload`, `download`, `readFile`, `writeFile`) failed. Subclasses carry a
 * stable `code` for what users branch on; this class itself is any other SFTP failure (the
 * server's status message is in `message`). `path` is the file the failure is about, remote or
 * local as the subclass says; with `atomic` (the default for writes) no partial file is left at
 * the target name.
 */
export class TransferError extends SSHPoolError {
  readonly code: string = ERROR_CODES.transfer;
  readonly operation: TransferOperation;
  /** The pool name of the host (`username@host:port`). */
  readonly poolName: string;
  readonly path: string;

  constructor(message: string, details: { operation: TransferOperation; poolName: string; path: string }, options?: { cause?: unknown }) {
    super(message, options);
    this.operation = details.operation;
    this.poolName = details.poolName;
    this.path = details.path;
  }
}

/** The remote file or directory does not exist (SFTP `NO_SUCH_FILE`). */
export class RemoteFileNotFoundError extends TransferError {
  override readonly code = ERROR_CODES.remoteNotFound;
}

/** The server refused the remote path to this login (SFTP `PERMISSION_DENIED`). */
export class PermissionDeniedError extends TransferError {
  override readonly code = ERROR_CODES.permissionDenied;
}

/** The server runs no SFTP subsystem: its sshd_config has no `Subsystem sftp` line. */
export class SftpUnavailableError extends TransferError {
  override readonly code = ERROR_CODES.sftpUnavailable;
}

/** The local file or directory to upload does not exist. `path` is the local path. */
export class LocalFileNotFoundError extends TransferError {
  override readonly code = ERROR_CODES.localNotFound;
}

/** Writing failed: the remote disk is full, a quota was reached, or the local destination could not be written. */
export class WriteFailedError extends TransferError {
  override readonly code = ERROR_CODES.writeFailed;
}

/** `verify: 'sha256'`: the remote file's `sha256sum` differs from the bytes sent or received. */
export class VerificationError extends TransferError {
  override readonly code = ERROR_CODES.verifyMismatch;
  readonly expected: string;
  readonly actual: string;

  constructor(message: string, details: { operation: TransferOperation; poolName: string; path: string; expected: string; actual: string }) {
    super(message, details);
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** The transfer's `signal` fired (or the pool closed): it stopped, its SFTP handles closed. */
export class TransferAbortedError extends TransferError {
  override readonly code = ERROR_CODES.aborted;
}

/** The transfer ran longer than its `timeout`: it stopped, its SFTP handles closed. */
export class TransferTimeoutError extends TransferError {
  override readonly code = ERROR_CODES.transferTimeout;
  readonly timeoutMs: number;

  constructor(message: string, details: { operation: TransferOperation; poolName: string; path: string; timeoutMs: number }) {
    super(message, details);
    this.timeoutMs = details.timeoutMs;
  }
}

/** The connection (or its SFTP channel) died during the transfer. */
export class TransferConnectionLostError extends TransferError {
  override readonly code = ERROR_CODES.connectionLost;
}
