// What a command asks of the channel that runs it, and what it gets back. The transport below
// (ssh/) implements it; the command layer never sees a connection.
import type { ChannelInteraction, SudoVerdict } from './interaction.js';

/** How a channel's life ended, as far as the command is concerned. */
export type ChannelEnding = 'closed' | 'timeout' | 'aborted' | 'shutdown' | 'output-limit' | 'output-budget' | 'connection-lost';

/** Why a command must stop early. Carried as the reason of its cancel signal. */
export type CancelReason = 'timeout' | 'aborted' | 'shutdown';

export interface ChannelOutcome {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly ending: ChannelEnding;
  /** With ending `output-budget`: the pool's `maxOutputMemory` that ran out. */
  readonly outputBudgetBytes?: number;
  /** Set when the command ran under sudo and sudo refused to run it. */
  readonly sudo?: SudoVerdict;
  /** With `.respond()` rules: the last non-empty output line, for a prompt nobody answered. */
  readonly lastLine?: string;
}

/** One command to run on one channel. */
export interface ChannelSpec {
  readonly command: string;
  readonly stdin: string | Buffer | undefined;
  /** Bytes allowed per stream before the channel is closed. */
  readonly maxBuffer: number;
  /**
   * Whether the caller may cancel it (a timeout or an abort signal): only then does the command
   * report its process group first, which costs the server a `printf` and the client one more
   * packet to decrypt. A command nobody can cancel is stopped only by its connection closing.
   * @default true
   */
  readonly cancellable?: boolean;
  /** A terminal, sudo, answers to prompts; none for a plain command. */
  readonly interaction?: ChannelInteraction | undefined;
}

/** The outcome of a command that produced no output: given up before it ran, or its connection lost. */
export function emptyOutcome(ending: ChannelEnding): ChannelOutcome {
  const empty = Buffer.alloc(0);
  return { stdout: empty, stderr: empty, exitCode: null, signal: null, ending };
}

/** A lost connection's outcome, shared: it carries nothing a caller could change. */
export const CONNECTION_LOST: ChannelOutcome = Object.freeze(emptyOutcome('connection-lost'));

