import { isRemoteCommandResult } from './command-result.js';
import { commandLog, SSHConnectionPool } from './connection-pool.js';
import { InvalidArgumentError } from './errors.js';
import { buildCommand, raw } from './shell-quote.js';
import type { RawShellText } from './shell-quote.js';
import { SSHCommand } from './ssh-command.js';
import type { CommandRunner } from './ssh-command.js';
import { normalizeTarget } from './ssh-target.js';
import type { SSHTarget } from './types.js';

/** A tagged template bound to one target: `` ssh`ls -la ${dir}` ``. */
export interface SSHExecutor {
  (strings: TemplateStringsArray, ...values: unknown[]): SSHCommand;
  /** The target's host, for logs. */
  readonly host: string;
}

export interface Shell {
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
}

function ssh(target: SSHTarget | string): SSHExecutor {
  const normalized = normalizeTarget(target);
  const explicitPool = typeof target === 'string' ? undefined : target.pool;
  if (explicitPool !== undefined && !(explicitPool instanceof SSHConnectionPool)) {
    throw new InvalidArgumentError('target.pool must be an SSHConnectionPool');
  }
  // A target that asks for warm connections gets them now, not at its first command.
  if ((normalized.poolConfig?.warmUpConnections ?? 0) > 0) (explicitPool ?? SSHConnectionPool.getInstance()).prepare(normalized);
  // The global pool is looked up per command, so a target made before closeAll() keeps working after.
  const run: CommandRunner = (request, cancel) =>
    (explicitPool ?? SSHConnectionPool.getInstance()).execute(normalized, request, cancel);
  const executor = (strings: TemplateStringsArray, ...values: unknown[]): SSHCommand => {
    if (!Array.isArray(strings) || !('raw' in strings)) {
      throw new InvalidArgumentError('an SSH executor is a tagged template: ssh`command ${value}`');
    }
    return new SSHCommand(buildCommand(strings, values, isRemoteCommandResult), normalized.host, run, commandLog);
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
};
