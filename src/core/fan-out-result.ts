import type { CommandResult } from './command-result.js';

/** One host's outcome in a fan-out, shaped like `Promise.allSettled`'s entries: a command's result, or a transfer's (`group.all.upload`). */
export type FanOutResult<T = CommandResult> =
  | { readonly host: string; readonly status: 'fulfilled'; readonly value: T }
  | { readonly host: string; readonly status: 'rejected'; readonly reason: Error };
