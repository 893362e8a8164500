import { inspect } from 'node:util';

/** The outcome of one command. */
export interface CommandResult {
  /** Standard output decoded as UTF-8 (invalid sequences become U+FFFD). */
  readonly stdout: string;
  readonly stderr: string;
  /** Standard output exactly as received (binary output). */
  readonly stdoutBuffer: Buffer;
  readonly stderrBuffer: Buffer;
  /** Exit status the server reported; null when it reported none (signal, lost connection, timeout). */
  readonly exitCode: number | null;
  /** Signal name the server reported (e.g. `TERM`, `KILL`), or null. */
  readonly signal: string | null;
  /** True only when the server reported exit status 0 and the channel closed normally. */
  readonly ok: boolean;
  readonly durationMs: number;
  readonly host: string;
  /**
   * The command text as run, with interpolated values quoted. Interpolated values are often
   * secrets: this accessor is the only way to the full text; inspection and JSON show `template`.
   */
  readonly command: string;
  /** The command text with every interpolated value, `$.raw()` included, masked as `?`. */
  readonly template: string;
  /**
   * Which output streams were consumed as they arrived (`cmd.stdout`, `cmd.pipe()`, `cmd.lines()`):
   * those are not kept here, so their `stdout`/`stderr` is empty.
   */
  readonly streamed: StreamedOutput;
}

export interface StreamedOutput {
  readonly stdout: boolean;
  readonly stderr: boolean;
}

const NOT_STREAMED: StreamedOutput = Object.freeze({ stdout: false, stderr: false });

/** What a result is made from: its fields, with output given as bytes (as received) or as text. */
export interface CommandResultFields extends Omit<CommandResult, 'stdout' | 'stderr' | 'stdoutBuffer' | 'stderrBuffer' | 'streamed'> {
  readonly stdout: Buffer | string;
  readonly stderr: Buffer | string;
  /** @default neither stream */
  readonly streamed?: StreamedOutput | undefined;
}

const toBytes = (output: Buffer | string): Buffer => (typeof output === 'string' ? Buffer.from(output, 'utf8') : output);

/**
 * The result object. A class so that interpolating a previous result can be told apart from
 * interpolating an arbitrary object (which is refused), and so that what it shows is chosen:
 * - the full command text (which holds interpolated values, often secrets) is reachable only
 *   through the `command` accessor; `util.inspect`, `console.log` and `JSON.stringify` show
 *   `template` instead;
 * - output is kept once, as received, and decoded to text on first read of `stdout`/`stderr`.
 */
export class RemoteCommandResult implements CommandResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly host: string;
  readonly template: string;
  readonly streamed: StreamedOutput;
  readonly #command: string;
  readonly #stdoutBytes: Buffer;
  readonly #stderrBytes: Buffer;
  #stdout: string | undefined;
  #stderr: string | undefined;

  constructor(fields: CommandResultFields) {
    this.exitCode = fields.exitCode;
    this.signal = fields.signal;
    this.ok = fields.ok;
    this.durationMs = fields.durationMs;
    this.host = fields.host;
    this.template = fields.template;
    this.streamed = fields.streamed?.stdout || fields.streamed?.stderr ? Object.freeze({ ...fields.streamed }) : NOT_STREAMED;
    this.#command = fields.command;
    this.#stdoutBytes = toBytes(fields.stdout);
    this.#stderrBytes = toBytes(fields.stderr);
    if (typeof fields.stdout === 'string') this.#stdout = fields.stdout;
    if (typeof fields.stderr === 'string') this.#stderr = fields.stderr;
  }

  /** Standard output decoded as UTF-8 (invalid sequences become U+FFFD; `stdoutBuffer` has the bytes). */
  get stdout(): string {
    this.#stdout ??= this.#stdoutBytes.toString('utf8');
    return this.#stdout;
  }

  get stderr(): string {
    this.#stderr ??= this.#stderrBytes.toString('utf8');
    return this.#stderr;
  }

  /** Standard output exactly as received, for binary output. */
  get stdoutBuffer(): Buffer {
    return this.#stdoutBytes;
  }

  get stderrBuffer(): Buffer {
    return this.#stderrBytes;
  }

  /** The full command text as run, interpolated values included. Never shown by inspection or JSON. */
  get command(): string {
    return this.#command;
  }

  /** The trimmed stdout, as when the result is interpolated into another command. */
  toString(): string {
    return this.stdout.trim();
  }

  /** What `JSON.stringify` writes: everything but the full command text and the raw bytes. */
  toJSON(): Omit<CommandResult, 'command' | 'stdoutBuffer' | 'stderrBuffer' | 'streamed'> & { streamed?: StreamedOutput } {
    const streamed = this.streamed.stdout || this.streamed.stderr ? { streamed: this.streamed } : {};
    return {
      stdout: this.stdout,
      stderr: this.stderr,
      exitCode: this.exitCode,
      signal: this.signal,
      ok: this.ok,
      durationMs: this.durationMs,
      host: this.host,
      template: this.template,
      ...streamed,
    };
  }

  [inspect.custom](depth: number, options: Parameters<typeof inspect>[1], inspectFn: typeof inspect = inspect): string {
    if (depth < 0) return '[RemoteCommandResult]';
    return `RemoteCommandResult ${inspectFn(this.toJSON(), { ...options, depth: options?.depth == null ? null : depth })}`;
  }
}

export function isRemoteCommandResult(value: unknown): value is RemoteCommandResult {
  return value instanceof RemoteCommandResult;
}
