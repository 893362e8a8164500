// What a command asks of its channel beyond running: a terminal, sudo, answers to prompts.
import type { Secret } from '../core/secret.js';
import type { SudoHandshakeSpec } from './sudo-script.js';

/** A pseudo-terminal for the command (`.pty()`). */
export interface PtyOptions {
  /** @default 80 */
  readonly cols: number;
  /** @default 24 */
  readonly rows: number;
  /** The `TERM` the server sets. @default 'xterm-256color' */
  readonly term: string;
}

/** One `.respond()` rule: when output matches `match`, `answer` is written to stdin once. */
export interface ResponseRule {
  readonly match: RegExp | string;
  readonly answer: string | Secret;
}

export interface ChannelInteraction {
  readonly pty?: PtyOptions | undefined;
  readonly sudo?: SudoHandshakeSpec | undefined;
  readonly respond?: readonly ResponseRule[] | undefined;
}

/** How sudo refused to run a command, as the channel saw it. */
export type SudoVerdict = 'wrong-password' | 'password-required' | 'not-allowed' | 'not-installed';
