import { internalsOf } from './client/pool-internals.js';
import { isRemoteCommandResult } from './core/command-result.js';
import { commandLog, getGlobalConfigFile, setGlobalConfigFile, SSHConnectionPool } from './client/connection-pool.js';
import { InvalidArgumentError } from './core/errors.js';
import { buildCommand, raw } from './command/shell-quote.js';
import type { RawShellText } from './command/shell-quote.js';
import { SSHCommand } from './command/ssh-command.js';
import type { CommandRunner } from './command/ssh-command.js';
import { endpointLabel, normalizeTarget } from './config/ssh-target.js';
import type { NormalizedTarget } from './config/ssh-target.js';
import type { FileTransfers } from './client/file-transfers.js';
import type { SSHTarget } from './client/connection-pool.js';
import type { HostGroupEvents, HostGroupMemberStatus, HostGroupStrategy, SSHHostGroupTarget } from './groups/types.js';
import { FanOutCommand } from './groups/fan-out.js';
import { GroupCommand } from './groups/group-command.js';
import { normalizeGroupTarget } from './groups/group-options.js';
import { HostGroup } from './groups/host-group.js';
import { LocalTunnel } from './client/local-tunnel.js';
import type { CarryTunnel } from './client/local-tunnel.js';
import { RemoteTunnel } from './client/remote-tunnel.js';
import { normalizeForwardOptions, normalizeForwardRemoteOptions, normalizeSocksOptions } from './client/tunnel-options.js';
import type { ForwardOptions, ForwardRemoteOptions, SocksOptions, SSHTunnel } from './client/tunnel-types.js';
import { fanOutUpload } from './groups/fan-out-upload.js';
import type { FanOutResult } from './core/fan-out-result.js';
import type { DownloadTarget, ReadFileOptions, TransferOptions, TransferResult, UploadSource, WriteFileOptions } from './client/transfer-options.js';

/**
 * File transfers over the SFTP channel of a pooled connection (one per connection, opened when
 * first needed, counted as a session slot): they wait for a slot as commands do and fail with
 * typed `TransferError`s.
 */
export interface FileOperations {
  /** Copies a local file (a path, a Buffer or a Readable), or a directory with `recursive`, to `remotePath`. Atomic by default. */
  upload(source: UploadSource, remotePath: string, options?: TransferOptions): Promise<TransferResult>;
  /** Copies a remote file, or a directory with `recursive`, to a local path or a Writable (which is ended). */
  download(remotePath: string, target: DownloadTarget, options?: TransferOptions): Promise<TransferResult>;
  /** A remote file's contents: a Buffer, or a string in `encoding`. */
  readFile(remotePath: string, encoding?: undefined, options?: ReadFileOptions): Promise<Buffer>;
  readFile(remotePath: string, encoding: BufferEncoding, options?: ReadFileOptions): Promise<string>;
  /** Writes `data` to a remote file, atomically by default. */
  writeFile(remotePath: string, data: string | Uint8Array, options?: WriteFileOptions): Promise<TransferResult>;
}

/** A tagged template bound to one target: `` ssh`ls -la ${dir}` ``. */
export interface SSHExecutor extends FileOperations {
  (strings: TemplateStringsArray, ...values: unknown[]): SSHCommand;
  /** The target's host, for logs. */
  readonly host: string;
  /**
   * Local forwarding (`ssh -L`): listens on `listen` (127.0.0.1, a free port by default) and
   * carries each accepted connection to `to` as one `direct-tcpip` channel (`direct-streamlocal`
   * for `{ path }`) on the least-loaded pooled connection of this target. Resolves once it listens.
   */
  forward(options: ForwardOptions): Promise<SSHTunnel>;
  /** A local SOCKS5 proxy (`ssh -D`; CONNECT, no authentication) whose connections leave through this target. */
  socks(options?: SocksOptions): Promise<SSHTunnel>;
  /**
   * Remote forwarding (`ssh -R`): the server listens on `listen` (its 127.0.0.1, a port it picks,
   * by default) and each connection it accepts comes here to `to`. Requested again on a new
   * connection after the one holding it dies. Resolves once the server listens.
   */
  forwardRemote(options: ForwardRemoteOptions): Promise<SSHTunnel>;
}

/**
 * A tagged template bound to a group of hosts: `` group`uptime` `` runs on one host picked by
 * the group's strategy, `` group.all`uptime` `` on every host.
 */
/** `group.all`: the same command, or the same upload, on every host of a group. */
export interface HostGroupFanOut {
  /** The same command on every host, `concurrency` at a time; see `FanOutCommand`. */
  (strings: TemplateStringsArray, ...values: unknown[]): FanOutCommand;
  /**
   * The same local file or directory (a path, or a Buffer) to `remotePath` on every host,
   * `concurrency` hosts at a time. Resolves with one settled result per host in the group's
   * order when all succeeded, else rejects with `FanOutError` holding every host's outcome.
   */
  upload(source: string | Buffer, remotePath: string, options?: TransferOptions): Promise<Array<FanOutResult<TransferResult>>>;
}

export interface HostGroupExecutor {
  (strings: TemplateStringsArray, ...values: unknown[]): GroupCommand;
  /** The same command (or upload) on every host, `concurrency` at a time; see `FanOutCommand`. */
  readonly all: HostGroupFanOut;
  /** The group's name (members joined by ',' unless `name` was given), for logs. */
  readonly host: string;
  readonly name: string;
  readonly strategy: HostGroupStrategy;
  /** Members as `host:port`, in the group's order. */
  readonly hosts: readonly string[];
  /** Every member with its live state (up, down, probing) and pool name. */
  members(): HostGroupMemberStatus[];
  /** `host:down` / `host:up` as the circuit breakers mark members. A throwing listener is reported as a warning. */
  on<E extends keyof HostGroupEvents>(event: E, listener: (...args: HostGroupEvents[E]) => void): HostGroupExecutor;
  off<E extends keyof HostGroupEvents>(event: E, listener: (...args: HostGroupEvents[E]) => void): HostGroupExecutor;
}

export interface Shell {
  /** Binds commands to a group of hosts (`hosts: [...]`); see `SSHHostGroupTarget`. */
  ssh(group: SSHHostGroupTarget): HostGroupExecutor;
  // Listed last so that `ReturnType<typeof $.ssh>` stays the single-host executor.
  /**
   * Binds commands to a target: an object, or a host name / `~/.ssh/config` alias with an
   * optional user (`'deploy@web-1'`). Validates and resolves the target now, connects on the
   * first awaited command.
   */
  ssh(target: SSHTarget | string): SSHExecutor;
  /** Text inserted into a command without quoting. Only for trusted text. */
  raw(text: string): RawShellText;
  /** Print each command and its output (commands can opt out with `.quiet()`). @default false */
  verbose: boolean;
  /**
   * The global pool's `configFile`: the OpenSSH client config for targets that name neither a
   * `pool` nor a `configFile`, from the next `$.ssh()` on. A path, which must exist, or `false`
   * to read none; `undefined` restores the default.
   * @default undefined ('~/.ssh/config' when it exists)
   */
  configFile: string | false | undefined;
}

function ssh(group: SSHHostGroupTarget): HostGroupExecutor;
function ssh(target: SSHTarget | string): SSHExecutor;
function ssh(target: SSHTarget | SSHHostGroupTarget | string): SSHExecutor | HostGroupExecutor {
  if (typeof target === 'object' && target !== null && 'hosts' in target) return hostGroup(target);
  return singleHost(target as SSHTarget | string);
}

function assertTemplate(strings: TemplateStringsArray, example: string): void {
  if (!Array.isArray(strings) || !('raw' in strings)) {
    throw new InvalidArgumentError(`an SSH executor is a tagged template: ${example}`);
  }
}

function explicitPoolOf(target: SSHTarget | SSHHostGroupTarget | string): SSHConnectionPool | undefined {
  const explicitPool = typeof target === 'string' ? undefined : target.pool;
  if (explicitPool !== undefined && !(explicitPool instanceof SSHConnectionPool)) {
    throw new InvalidArgumentError('target.pool must be an SSHConnectionPool');
  }
  return explicitPool;
}

/** The `configFile` a target on `pool` (undefined: the global one) falls back to. */
function poolConfigFile(pool: SSHConnectionPool | undefined): string | false | undefined {
  return pool ? pool.configFile : getGlobalConfigFile();
}

function hostGroup(target: SSHHostGroupTarget): HostGroupExecutor {
  const explicitPool = explicitPoolOf(target);
  const spec = normalizeGroupTarget(target, poolConfigFile(explicitPool));
  const group = new HostGroup(spec, explicitPool);
  // Members differ only in host and port: the group's sudoPassword is every member's.
  const defaults = { sudoPassword: spec.members[0]!.normalized.sudoPassword };
  for (const member of spec.members) {
    if ((member.normalized.poolConfig?.warmUpConnections ?? 0) > 0) internalsOf(group.pool).prepare(member.normalized);
  }
  const executor = (strings: TemplateStringsArray, ...values: unknown[]): GroupCommand => {
    assertTemplate(strings, 'group`command ${value}`');
    return new GroupCommand(
      buildCommand(strings, values, isRemoteCommandResult),
      spec.name,
      (request, cancel, retryable) => group.run(request, cancel, retryable ?? spec.retryable),
      commandLog,
      defaults,
    );
  };
  const all = (strings: TemplateStringsArray, ...values: unknown[]): FanOutCommand => {
    assertTemplate(strings, 'group.all`command ${value}`');
    const built = buildCommand(strings, values, isRemoteCommandResult);
    return new FanOutCommand(group, built, (run) => new SSHCommand(built, spec.name, run, commandLog, defaults));
  };
  Object.defineProperty(all, 'upload', {
    value: async (source: string | Buffer, remotePath: string, options?: TransferOptions) => fanOutUpload(group, source, remotePath, options),
    enumerable: true,
  });
  const api = executor as HostGroupExecutor;
  // `name` of a function is read-only to assignment: every property is defined instead.
  const constant = (value: unknown): PropertyDescriptor => ({ value, enumerable: true });
  Object.defineProperties(executor, {
    all: constant(all),
    host: constant(spec.name),
    name: constant(spec.name),
    strategy: constant(spec.strategy),
    hosts: constant(Object.freeze(spec.members.map((member) => member.label))),
    members: constant(() => group.members()),
    on: constant(<E extends keyof HostGroupEvents>(event: E, listener: (...args: HostGroupEvents[E]) => void) => {
      group.events.on(event, listener);
      return api;
    }),
    off: constant(<E extends keyof HostGroupEvents>(event: E, listener: (...args: HostGroupEvents[E]) => void) => {
      group.events.off(event, listener);
      return api;
    }),
  });
  return api;
}

// Made when used, outside `singleHost`: an executor (one per host in a fleet) keeps no closure
// for them. The pool is looked up per call, as for commands: the global one may have been
// replaced after closeAll().
function carrier(explicitPool: SSHConnectionPool | undefined, normalized: NormalizedTarget): CarryTunnel {
  return (socket, destination, kind, hooks) =>
    internalsOf(explicitPool ?? SSHConnectionPool.getInstance()).tunnel(normalized, socket, destination, kind, hooks);
}

function filesOf(explicitPool: SSHConnectionPool | undefined, normalized: NormalizedTarget): FileTransfers {
  return internalsOf(explicitPool ?? SSHConnectionPool.getInstance()).files(normalized);
}

function singleHost(target: SSHTarget | string): SSHExecutor {
  const explicitPool = explicitPoolOf(target);
  const normalized = normalizeTarget(target, { configFile: poolConfigFile(explicitPool) });
  // A target that asks for warm connections gets them now, not at its first command.
  if ((normalized.poolConfig?.warmUpConnections ?? 0) > 0) internalsOf(explicitPool ?? SSHConnectionPool.getInstance()).prepare(normalized);
  // The global pool is looked up per command, so a target made before closeAll() keeps working after.
  const run: CommandRunner = (request, cancel) =>
    internalsOf(explicitPool ?? SSHConnectionPool.getInstance()).execute(normalized, request, cancel);
  const label = endpointLabel(normalized.host, normalized.port);
  const executor = (strings: TemplateStringsArray, ...values: unknown[]): SSHCommand => {
    assertTemplate(strings, 'ssh`command ${value}`');
    return new SSHCommand(buildCommand(strings, values, isRemoteCommandResult), label, run, commandLog, { sudoPassword: normalized.sudoPassword });
  };
  const forward = async (options: ForwardOptions): Promise<SSHTunnel> => {
    const { listen, to } = normalizeForwardOptions(options);
    return LocalTunnel.listen(listen, carrier(explicitPool, normalized), { kind: 'local', to });
  };
  const socks = async (options?: SocksOptions): Promise<SSHTunnel> =>
    LocalTunnel.listen(normalizeSocksOptions(options).listen, carrier(explicitPool, normalized), { kind: 'socks' });
  const forwardRemote = async (options: ForwardRemoteOptions): Promise<SSHTunnel> => {
    const { listen, to } = normalizeForwardRemoteOptions(options);
    return RemoteTunnel.start(listen, to, (spec) => internalsOf(explicitPool ?? SSHConnectionPool.getInstance()).forwardRemote(normalized, spec));
  };
  const operations: FileOperations = {
    upload: async (source, remotePath, options) => filesOf(explicitPool, normalized).upload(source, remotePath, options),
    download: async (remotePath, target, options) => filesOf(explicitPool, normalized).download(remotePath, target, options),
    readFile: (async (remotePath: string, encoding?: BufferEncoding, options?: ReadFileOptions) => filesOf(explicitPool, normalized).readFile(remotePath, encoding, options)) as FileOperations['readFile'],
    writeFile: async (remotePath, data, options) => filesOf(explicitPool, normalized).writeFile(remotePath, data, options),
  };
  for (const [name, value] of Object.entries(operations)) Object.defineProperty(executor, name, { value, enumerable: true });
  Object.defineProperties(executor, {
    host: { value: normalized.host, enumerable: true },
    forwardRemote: { value: forwardRemote, enumerable: true },
    forward: { value: forward, enumerable: true },
    socks: { value: socks, enumerable: true },
  });
  return executor as SSHExecutor;
}

export const $: Shell = {
  ssh,
  raw,
  get verbose(): boolean {
    return commandLog.verbose;
  },
  set verbose(value: boolean) {
    commandLog.verbose = Boolean(value);
  },
  get configFile(): string | false | undefined {
    return getGlobalConfigFile();
  },
  set configFile(value: string | false | undefined) {
    setGlobalConfigFile(value);
  },
};
