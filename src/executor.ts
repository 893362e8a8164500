import { internalsOf } from './client/pool-internals.js';
import { isRemoteCommandResult } from './core/command-result.js';
import { commandLog, getGlobalConfigFile, setGlobalConfigFile, SSHConnectionPool } from './client/connection-pool.js';
import { InvalidArgumentError } from './core/errors.js';
import { buildCommand, raw } from './command/shell-quote.js';
import type { RawShellText } from './command/shell-quote.js';
import { SSHCommand } from './command/ssh-command.js';
import type { CommandRunner } from './command/ssh-command.js';
import { endpointLabel, normalizeTarget } from './config/ssh-target.js';
import type { SSHTarget } from './client/connection-pool.js';
import type { HostGroupEvents, HostGroupMemberStatus, HostGroupStrategy, SSHHostGroupTarget } from './groups/types.js';
import { FanOutCommand } from './groups/fan-out.js';
import { GroupCommand } from './groups/group-command.js';
import { normalizeGroupTarget } from './groups/group-options.js';
import { HostGroup } from './groups/host-group.js';

/** A tagged template bound to one target: `` ssh`ls -la ${dir}` ``. */
export interface SSHExecutor {
  (strings: TemplateStringsArray, ...values: unknown[]): SSHCommand;
  /** The target's host, for logs. */
  readonly host: string;
}

/**
 * A tagged template bound to a group of hosts: `` group`uptime` `` runs on one host picked by
 * the group's strategy, `` group.all`uptime` `` on every host.
 */
export interface HostGroupExecutor {
  (strings: TemplateStringsArray, ...values: unknown[]): GroupCommand;
  /** The same command on every host, `concurrency` at a time; see `FanOutCommand`. */
  all(strings: TemplateStringsArray, ...values: unknown[]): FanOutCommand;
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
    );
  };
  const all = (strings: TemplateStringsArray, ...values: unknown[]): FanOutCommand => {
    assertTemplate(strings, 'group.all`command ${value}`');
    const built = buildCommand(strings, values, isRemoteCommandResult);
    return new FanOutCommand(group, built, (run) => new SSHCommand(built, spec.name, run, commandLog));
  };
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
  Object.defineProperty(executor, 'host', { value: normalized.host, enumerable: true });
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
