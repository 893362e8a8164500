import {
  AbortedError,
  CommandFailedError,
  CommandTimeoutError,
  ConnectionLostError,
  OutputLimitError,
  ERROR_CODES,
  PoolClosedError,
} from '../core/errors.js';
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
  'connection-lost': {
    code: ERROR_CODES.connectionLost,
    error: (result, c) => new ConnectionLostError(`${c.what} lost its connection before finishing`, result),
  },
};

const COMMAND_FAILED = ERROR_CODES.commandFailed;

/** The stable error code a command outcome maps to, or undefined for success. */
export function errorCodeForOutcome(outcome: Pick<ChannelOutcome, 'ending' | 'exitCode'>): string | undefined {
  if (outcome.ending === 'closed') return outcome.exitCode === 0 ? undefined : COMMAND_FAILED;
  return ENDINGS[outcome.ending].code;
}

/** The error a caller receives for a command that did not succeed. */
export function errorForOutcome(ending: ChannelEnding, result: CommandResult, context: CommandErrorContext): CommandError {
  if (ending !== 'closed') return ENDINGS[ending].error(result, context);
  const ended = result.exitCode !== null
    ? `exited with code ${result.exitCode}`
    : result.signal !== null
      ? `was killed by ${result.signal}`
      : 'ended without reporting an exit status';
  const stderr = result.stderr.trim();
  const tail = stderr ? `: ${stderr.length > 300 ? `…${stderr.slice(-300)}` : stderr}` : '';
  return new CommandFailedError(`${context.what} ${ended}${tail}`, result);
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
