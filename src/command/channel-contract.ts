// What a command asks of the channel that runs it, and what it gets back. The transport below
// (ssh/) implements it; the command layer never sees a connection.
import type { ChannelInteraction, SudoVerdict } from './interaction.js';

/** How a channel's life ended, as far as the command is concerned. */
export type ChannelEnding =
  | 'closed'
  | 'timeout'
  | 'aborted'
  | 'shutdown'
  | 'output-limit'
  | 'output-budget'
  | 'connection-lost'
  | 'stdin-failed';

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
  /** With ending `stdin-failed`: what the stdin stream threw. */
  readonly stdinError?: unknown;
  /** Channel data bytes received (stdout and stderr) and sent (stdin); absent when nothing ran. */
  readonly bytesReceived?: number;
  readonly bytesSent?: number;
  /** Set when the command ran under sudo and sudo refused to run it. */
  readonly sudo?: SudoVerdict;
  /** With `.respond()` rules: the last non-empty output line, for a prompt nobody answered. */
  readonly lastLine?: string;
}

/**
 * Where one output stream goes when the caller consumes it as it arrives instead of keeping it
 * in the result. The channel stops reading (and so stops topping up the SSH window, which
 * makes the remote writer wait) while `write` returns false, until the sink calls the resume
 * function it was given.
 */
export interface OutputSink {
  /** Takes one chunk; false: the consumer is full. */
  write(chunk: Buffer): boolean;
  /** Gives the sink the channel's resume, called once the consumer wants more. */
  onReady(resume: () => void): void;
}

/** Standard input a command reads as a stream: read only as fast as the channel takes it. */
export type StdinSource = AsyncIterable<Uint8Array | string>;

/** One command to run on one channel. */
export interface ChannelSpec {
  readonly command: string;
  readonly stdin: string | Buffer | StdinSource | undefined;
  /** Bytes allowed per stream kept in the result before the channel is closed. */
  readonly maxBuffer: number;
  /** Streams consumed as they arrive: not kept in the outcome, and `maxBuffer` does not apply. */
  readonly stdoutSink?: OutputSink | undefined;
  readonly stderrSink?: OutputSink | undefined;
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

/**
 * Whether running the command again elsewhere would look to its caller like running it once:
 * nothing of it is streamed out (a consumer may already hold part of the first run's output) and
 * its stdin is not a stream (read once, it cannot be read again).
 */
export function replayable(spec: ChannelSpec): boolean {
  const { stdin } = spec;
  return !spec.stdoutSink && !spec.stderrSink && (stdin === undefined || typeof stdin === 'string' || Buffer.isBuffer(stdin));
}

/** The outcome of a command that produced no output: given up before it ran, or its connection lost. */
export function emptyOutcome(ending: ChannelEnding): ChannelOutcome {
  const empty = Buffer.alloc(0);
  return { stdout: empty, stderr: empty, exitCode: null, signal: null, ending };
}

/** A lost connection's outcome, shared: it carries nothing a caller could change. */
export const CONNECTION_LOST: ChannelOutcome = Object.freeze(emptyOutcome('connection-lost'));

