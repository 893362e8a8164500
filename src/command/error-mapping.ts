import {
  AbortedError,
  CommandFailedError,
  CommandTimeoutError,
  ConnectionLostError,
  OutputLimitError,
  ERROR_CODES,
  PoolClosedError,
  PromptUnansweredError,
  SudoNotAllowedError,
  SudoNotInstalledError,
  SudoPasswordError,
} from '../core/errors.js';
import type { SudoVerdict } from './interaction.js';
import type { CommandError } from '../core/errors.js';
import type { CancelReason, ChannelEnding, ChannelOutcome } from './channel-contract.js';
import type { CommandResult } from '../core/command-result.js';

/** Rejection of an acquire whose caller gave up (timeout, abort or shutdown) while it waited. */
export class AcquireCancelled extends Error {
  override readonly name = 'AcquireCancelled';
  constructor(readonly reason: CancelReason) {
    super(`acquire cancelled: ${reason}`);
  }
}

/** What a command needs to word its error. */
export interface CommandErrorContext {
  /** `Command \`<template>\` on <host>` */
  readonly what: string;
  readonly timeoutMs: number | undefined;
  readonly maxBuffer: number;
  readonly abortReason: unknown;
  /** The pool's `maxOutputMemory`, for a command ended because the pool's output budget ran out. */
  readonly maxOutputMemory?: number | undefined;
  /** What the stdin stream threw, for a command ended because of it. */
  readonly stdinError?: unknown;
}

interface EndingRule {
  /** Stable `error.type` for telemetry; equals the `code` of the error the caller gets. */
  readonly code: string;
  readonly error: (result: CommandResult, context: CommandErrorContext) => CommandError;
}

/**
 * The one table from how a command ended to what the caller receives and what telemetry
 * records, so the two always agree.
 */
const ENDINGS: Record<Exclude<ChannelEnding, 'closed'>, EndingRule> = {
  timeout: {
    code: ERROR_CODES.commandTimeout,
    error: (result, c) => new CommandTimeoutError(`${c.what} timed out after ${c.timeoutMs} ms`, result, c.timeoutMs ?? 0),
  },
  aborted: {
    code: ERROR_CODES.aborted,
    error: (result, c) => new AbortedError(`${c.what} was aborted`, result, { cause: c.abortReason }),
  },
  shutdown: {
    code: ERROR_CODES.aborted,
    error: (result, c) => new AbortedError(`${c.what} was stopped: the pool closed and its drain timeout passed`, result, {
      cause: new PoolClosedError('closeAll() drain timeout'),
    }),
  },
  'output-limit': {
    code: ERROR_CODES.outputLimit,
    error: (result, c) => new OutputLimitError(`${c.what} wrote more than ${c.maxBuffer} bytes to one stream`, result, c.maxBuffer),
  },
  'output-budget': {
    code: ERROR_CODES.outputLimit,
    error: (result, c) => new OutputLimitError(
      `${c.what} was ended: the pool's running commands held more than maxOutputMemory (${c.maxOutputMemory ?? 'its'} bytes) of output, ` +
        'every one of them was waiting for memory, and this one held the most',
      result,
      c.maxOutputMemory ?? 0,
    ),
  },
  'stdin-failed': {
    code: ERROR_CODES.aborted,
    error: (result, c) => new AbortedError(`${c.what} was stopped: the stream given to stdin() failed`, result, { cause: c.stdinError }),
  },
  'connection-lost': {
    code: ERROR_CODES.connectionLost,
    error: (result, c) => new ConnectionLostError(`${c.what} lost its connection before finishing`, result),
  },
};

const COMMAND_FAILED = ERROR_CODES.commandFailed;

/** sudo's refusals: what the caller gets, with the code telemetry records. */
const SUDO_REFUSALS: Record<SudoVerdict, EndingRule> = {
  'wrong-password': {
    code: ERROR_CODES.sudoPassword,
    error: (result, c) => new SudoPasswordError(`${c.what} did not run: sudo did not accept the password`, result, 'wrong'),
  },
  'password-required': {
    code: ERROR_CODES.sudoPassword,
    error: (result, c) => new SudoPasswordError(
      `${c.what} did not run: sudo needs a password for this user (give it with .sudo({ password }) or the target's sudoPassword)`,
      result,
      'required',
    ),
  },
  'not-allowed': {
    code: ERROR_CODES.sudoNotAllowed,
    error: (result, c) => {
      const tail = stderrTail(result.stderr);
      return new SudoNotAllowedError(`${c.what} did not run: sudo refused it${tail ? `: ${tail}` : ''}`, result);
    },
  },
  'not-installed': {
    code: ERROR_CODES.sudoNotInstalled,
    error: (result, c) => new SudoNotInstalledError(`${c.what} did not run: the server has no sudo command on the login's PATH`, result),
  },
};

/** A timed-out command with `.respond()` rules whose output ended in a line nobody answered. */
function unansweredPrompt(outcome: Pick<ChannelOutcome, 'ending' | 'lastLine'>): boolean {
  return outcome.ending === 'timeout' && outcome.lastLine !== undefined && outcome.lastLine !== '';
}

/** The stable error code a command outcome maps to, or undefined for success. */
export function errorCodeForOutcome(outcome: Pick<ChannelOutcome, 'ending' | 'exitCode' | 'sudo' | 'lastLine'>): string | undefined {
  if (outcome.sudo) return SUDO_REFUSALS[outcome.sudo].code;
  if (unansweredPrompt(outcome)) return ERROR_CODES.promptUnanswered;
  if (outcome.ending === 'closed') return outcome.exitCode === 0 ? undefined : COMMAND_FAILED;
  return ENDINGS[outcome.ending].code;
}

/** The error a caller receives for a command that did not succeed. */
export function errorForOutcome(
  ending: ChannelEnding,
  result: CommandResult,
  context: CommandErrorContext,
  details: Pick<ChannelOutcome, 'sudo' | 'lastLine'> = {},
): CommandError {
  if (details.sudo) return SUDO_REFUSALS[details.sudo].error(result, context);
  if (unansweredPrompt({ ending, lastLine: details.lastLine })) {
    const line = stderrTail(details.lastLine!);
    return new PromptUnansweredError(
      `${context.what} timed out after ${context.timeoutMs} ms waiting at a prompt no .respond() rule answered: ${line}`,
      result,
      context.timeoutMs ?? 0,
      line,
    );
  }
  if (ending !== 'closed') return ENDINGS[ending].error(result, context);
  const ended = result.exitCode !== null
    ? `exited with code ${result.exitCode}`
    : result.signal !== null
      ? `was killed by ${result.signal}`
      : 'ended without reporting an exit status';
  const tail = stderrTail(result.stderr);
  return new CommandFailedError(`${context.what} ${ended}${tail ? `: ${tail}` : ''}`, result);
}

/** Characters of a failed command's stderr that its error message ends with, at most. */
export const STDERR_TAIL_CHARS = 300;

// Terminal escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL or ESC \`, and two-character
// escapes) go whole; then every run of control characters (C0 with newlines and tabs, DEL, C1,
// the Unicode line and paragraph separators, bidirectional overrides and isolates) becomes one
// space, so a message is one line that cannot repaint a terminal or forge a log line.
const ESCAPE_SEQUENCE = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_])/g;
const CONTROL_RUN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g;

/**
 * The end of a failed command's stderr as its error message shows it: escape sequences
 * removed, runs of control characters turned into one space, trimmed, and only the last
 * `STDERR_TAIL_CHARS` characters (after a `…`). Whatever the command or the remote shell wrote
 * there can appear, interpolated values and `.cwd()` paths that a shell echoes back included.
 */
export function stderrTail(stderr: string): string {
  if (stderr === '') return '';
  // Only the end is shown: sanitising 16 MiB to keep 300 characters would waste the time.
  const end = stderr.length > STDERR_TAIL_CHARS * 4 ? stderr.slice(-STDERR_TAIL_CHARS * 4) : stderr;
  const clean = end.replace(ESCAPE_SEQUENCE, '').replace(CONTROL_RUN, ' ').trim();
  if (clean.length <= STDERR_TAIL_CHARS && end === stderr) return clean;
  let cut = clean.slice(-STDERR_TAIL_CHARS);
  // Never start on the second half of a surrogate pair.
  if (/^[\udc00-\udfff]/.test(cut)) cut = cut.slice(1);
  return `…${cut.trimStart()}`;
}

/**
 * The `error.type` telemetry records for an error that ended an acquire or a command before
 * it ran: the stable code the caller's error carries (a cancelled wait becomes the command's
 * timeout or abort code).
 */
export function errorTypeOf(error: unknown): string {
  if (error instanceof AcquireCancelled) return error.reason === 'timeout' ? ENDINGS.timeout.code : ENDINGS.aborted.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : ((error as Error | null)?.name ?? 'Error');
}
