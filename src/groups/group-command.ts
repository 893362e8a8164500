import { InvalidArgumentError } from '../core/errors.js';
import type { BuiltCommand } from '../command/shell-quote.js';
import { SSHCommand } from '../command/ssh-command.js';
import type { CommandDefaults, CommandLog, CommandRequest, RunOutcome } from '../command/ssh-command.js';
import { describe } from '../core/validation.js';

/** Runs a group command; `retryable` is the command's own choice, undefined for the group's default. */
export type GroupCommandRunner = (request: CommandRequest, cancel: AbortSignal | undefined, retryable: boolean | undefined) => Promise<RunOutcome>;

/**
 * A command of a host group: an `SSHCommand` (same modifiers, result and errors; `result.host`
 * is the member that ran it) that may also be marked retryable.
 */
export class GroupCommand extends SSHCommand {
  readonly #choice: { retryable: boolean | undefined };

  constructor(built: BuiltCommand, groupName: string, run: GroupCommandRunner, log: CommandLog, defaults: CommandDefaults = {}) {
    // The runner is called only once the command starts, after every modifier has run.
    const choice: { retryable: boolean | undefined } = { retryable: undefined };
    super(built, groupName, (request, cancel) => run(request, cancel, choice.retryable), log, defaults);
    this.#choice = choice;
  }

  /**
   * Whether this command may run again on another host when its connection is lost while it
   * runs (the host died mid-command: it may or may not have had an effect). Mark only commands
   * that are safe to run twice. A command that never started (its connection could not be
   * opened) always moves on to the next host, retryable or not.
   * @default the group's `retryable` option (false unless set)
   */
  retryable(retryable = true): this {
    this.assertNotStarted('retryable');
    if (typeof retryable !== 'boolean') throw new InvalidArgumentError(`retryable() takes a boolean, got ${describe(retryable)}`);
    this.#choice.retryable = retryable;
    return this;
  }
}
