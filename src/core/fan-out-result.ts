import type { CommandResult } from './command-result.js';

/** One host's outcome in a fan-out, shaped like `Promise.allSettled`'s entries. */
export type FanOutResult =
  | { readonly host: string; readonly status: 'fulfilled'; readonly value: CommandResult }
  | { readonly host: string; readonly status: 'rejected'; readonly reason: Error };
