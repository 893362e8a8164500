import { performance } from 'node:perf_hooks';
import { finished } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { MAX_TIMER_MS } from '../core/clock.js';
import { checkCommandText } from './command-limits.js';
import { RemoteCommandResult } from '../core/command-result.js';
import { AcquireCancelled, errorForOutcome } from './error-mapping.js';
import { CommandFailedError, InvalidArgumentError } from '../core/errors.js';
import type { CommandError } from '../core/errors.js';
import { describe, isPlainObject } from '../core/validation.js';
import { emptyOutcome } from './channel-contract.js';
import { promiseOf } from '../core/promise-of.js';
import type { CancelReason, ChannelOutcome, ChannelSpec, StdinSource } from './channel-contract.js';
import { OutputStream } from './output-stream.js';
import { outputLines } from './output-lines.js';
import { checkWellFormed, quote } from './shell-quote.js';
import type { BuiltCommand } from './shell-quote.js';
import type { CommandResult } from '../core/command-result.js';
import { Secret } from '../core/secret.js';
import { sudoScript } from './sudo-script.js';
import type { SudoRequest } from './sudo-script.js';
import type { ChannelInteraction, PtyOptions, ResponseRule } from './interaction.js';

/**
 * Default cap on each of stdout and stderr: 16 MiB. Output is buffered in memory, per stream
 * and per running command, so the worst case of a pool is about
 * `2 × maxBuffer × maxConnections × maxChannelsPerConnection` (16 MiB: 3.2 GB at 10 × 10;
 * the former 128 MiB: 25.6 GB). Commands that really print more raise it with `.maxBuffer()`.
 */
export const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024;

/** Largest `maxBuffer()`: 2 GiB, far beyond what a string can hold (about 512 MiB) anyway. */
export const MAX_MAX_BUFFER = 2 ** 31;

/** What a command asks of whoever runs it. */
export interface CommandRequest extends ChannelSpec {
  readonly priority: number;
  readonly built: BuiltCommand;
}

/** How a command's channel ended, and where it ran when the runner chose among several hosts. */
export interface RunOutcome extends ChannelOutcome {
  /** The host that ran the command (a host group's choice); the executor's host when absent. */
  readonly host?: string;
}

/**
 * Runs a channel for a command; rejects for failures that leave no result (connect, acquire).
 * `cancel` is absent for a command nobody can cancel (no timeout, no abort signal).
 */
export type CommandRunner = (request: CommandRequest, cancel: AbortSignal | undefined) => Promise<RunOutcome>;

/** What `.sudo()` takes. */
export interface SudoOptions {
  /** Run as this user instead of root. @default 'root' */
  user?: string;
  /**
   * The login user's sudo password: sent only when sudo asks for it, never shown anywhere.
   * Without one (here or as the target's `sudoPassword`) sudo runs with `-n` and fails at once
   * if it needs one.
   * @default the target's sudoPassword
   */
  password?: string;
}

/** What `.pty()` takes. */
export interface PtyRequest {
  /** @default 80 */
  cols?: number;
  /** @default 24 */
  rows?: number;
  /** @default 'xterm-256color' */
  term?: string;
}

/** One `.respond()` rule. */
export interface RespondRule {
  /** Output to wait for: a RegExp, or a string matched literally. */
  match: RegExp | string;
  /** Written to the command's stdin once per match (add `\n` where a line is expected). */
  answer: string;
}

/** What a target lends its commands. */
export interface CommandDefaults {
  readonly sudoPassword?: Secret | undefined;
}

/** Where printing goes when verbose; swappable for tests. */
export interface CommandLog {
  verbose: boolean;
  write(stream: 'stdout' | 'stderr', text: string): void;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ignore = (): void => {};

/** What `.stdin()` takes. */
export type StdinInput = string | Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array | string>;

/** The cause an `AbortedError` carries when the command stopped because its output stream was given up. */
export class OutputAbandoned extends Error {
  override readonly name = 'OutputAbandoned';
  constructor(stream: 'stdout' | 'stderr') {
    super(`its ${stream} stream was destroyed (or its iteration stopped) before the output ended`);
  }
}

/**
 * A remote command. Nothing is sent until it is awaited (or `.then` is called); modifiers
 * configure it before that and throw afterwards, because they could no longer take effect.
 */
export class SSHCommand implements PromiseLike<CommandResult>, AsyncIterable<string> {
  readonly #built: BuiltCommand;
  readonly #host: string;
  readonly #run: CommandRunner;
  readonly #log: CommandLog;
  #promise: Promise<CommandResult> | undefined;
  #nothrow = false;
  #quiet = false;
  #timeoutMs: number | undefined;
  #signal: AbortSignal | undefined;
  /** Made by the first `env()`: most commands have none. */
  #env: Record<string, string> | undefined;
  #cwd: string | undefined;
  #stdin: string | Buffer | StdinSource | undefined;
  #maxBuffer = DEFAULT_MAX_BUFFER;
  #priority = 0;
  #stdoutStream: OutputStream | undefined;
  #stderrStream: OutputStream | undefined;
  /** Settle when each `pipe()` destination has received the output (never reject). */
  readonly #piped: Promise<void>[] = [];
  /** Stops the running command (set while it runs, when it can be stopped). */
  #giveUp: ((reason: CancelReason) => void) | undefined;
  /** Why the command was given up from here (an abandoned stream), for its error's cause. */
  #abandoned: OutputAbandoned | undefined;
  #sudo: SudoRequest | undefined;
  #pty: PtyOptions | undefined;
  #respond: ResponseRule[] | undefined;
  readonly #defaults: CommandDefaults;

  constructor(built: BuiltCommand, host: string, run: CommandRunner, log: CommandLog, defaults: CommandDefaults = {}) {
    this.#built = built;
    this.#host = host;
    this.#run = run;
    this.#log = log;
    this.#defaults = defaults;
  }

  /** The command text with every interpolated value masked as `?`. */
  get template(): string {
    return this.#built.template;
  }

  /** Resolve with the result instead of rejecting when the command does not succeed. */
  nothrow(): this {
    this.#assertNotStarted('nothrow');
    this.#nothrow = true;
    return this;
  }

  /** Do not print this command's output even when `$.verbose` is on. */
  quiet(): this {
    this.#assertNotStarted('quiet');
    this.#quiet = true;
    return this;
  }

  /** End the command (and only its channel) after `ms` milliseconds, waiting for a slot included. */
  timeout(ms: number): this {
    this.#assertNotStarted('timeout');
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > MAX_TIMER_MS) {
      throw new InvalidArgumentError(`timeout(ms) takes an integer from 1 to ${MAX_TIMER_MS}, got ${describe(ms)}`);
    }
    this.#timeoutMs = ms;
    return this;
  }

  /** End the command (and only its channel) when `signal` aborts. */
  signal(signal: AbortSignal): this {
    this.#assertNotStarted('signal');
    if (!(signal instanceof AbortSignal)) throw new InvalidArgumentError(`signal() takes an AbortSignal, got ${describe(signal)}`);
    this.#signal = signal;
    return this;
  }

  /** Export these variables to the command (sent as shell assignments: servers ignore SSH env requests by default). */
  env(variables: Record<string, string | number>): this {
    this.#assertNotStarted('env');
    if (!isPlainObject(variables)) throw new InvalidArgumentError(`env() takes an object, got ${describe(variables)}`);
    for (const [name, value] of Object.entries(variables)) {
      if (!ENV_NAME.test(name)) {
        // The name is not echoed: a secret passed as a key by mistake must not reach a log.
        throw new InvalidArgumentError(`env(): a variable name (${describe(name)}) is not valid: names must match [A-Za-z_][A-Za-z0-9_]*`);
      }
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new InvalidArgumentError(`env(): the value of ${name} must be a string or number, got ${describe(value)}`);
      }
      (this.#env ??= {})[name] = String(value);
    }
    return this;
  }

  /** Run in this directory; a missing directory fails the command instead of running it in `$HOME`. */
  cwd(directory: string): this {
    this.#assertNotStarted('cwd');
    if (typeof directory !== 'string' || directory === '') {
      throw new InvalidArgumentError(`cwd() takes a non-empty path, got ${describe(directory)}`);
    }
    this.#cwd = directory;
    return this;
  }

  /**
   * Feed this to the command's standard input, then close it. A `Readable` or any async
   * iterable of bytes or strings is read only as fast as the channel takes it (so a slow
   * command slows the reading); if it fails, the command is stopped with `AbortedError`.
   */
  stdin(data: StdinInput): this {
    this.#assertNotStarted('stdin');
    if (typeof data === 'string') {
      checkWellFormed(data, 'the text given to stdin()');
      this.#stdin = data;
    } else if (Buffer.isBuffer(data)) this.#stdin = data;
    else if (data instanceof Uint8Array) this.#stdin = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    else if (isAsyncIterable(data)) this.#stdin = data;
    else throw new InvalidArgumentError(`stdin() takes a string, bytes, a Readable or an async iterable, got ${describe(data)}`);
    return this;
  }

  /**
   * Standard output as a Node `Readable` of bytes. Reading it starts the command (as `await`
   * does). A stream taken is not kept in the result (`result.streamed.stdout`), `maxBuffer`
   * does not apply to it, and it must be read: while it is full the server's writer waits.
   * Destroying it before it ends stops the command (`AbortedError` on `await`).
   */
  get stdout(): Readable {
    this.#stdoutStream ??= this.#newStream('stdout');
    return this.#stdoutStream;
  }

  /** Standard error as a Node `Readable`, as `stdout`. */
  get stderr(): Readable {
    this.#stderrStream ??= this.#newStream('stderr');
    return this.#stderrStream;
  }

  /**
   * Streams stdout into `destination` and returns the command, so that
   * `await ssh\`make\`.pipe(process.stdout)` resolves with the result. The destination is
   * ended with the output, except `process.stdout` and `process.stderr`. A destination that
   * fails stops the command.
   */
  pipe(destination: Writable): this {
    if (!isWritable(destination)) throw new InvalidArgumentError(`pipe() takes a Writable stream, got ${describe(destination)}`);
    const source = this.stdout;
    const end = destination !== process.stdout && destination !== process.stderr;
    source.pipe(destination, { end });
    this.#piped.push(new Promise<void>((resolve) => {
      // The command resolves once the destination has everything: finished (or failed), or for
      // a destination left open, once the output has been handed to it.
      finished(destination, (error) => {
        if (error) source.destroy();
        resolve();
      });
      // 'close' comes after the end or a destroy; a destination that is not ended, or not
      // given the end (the output stopped early), has nothing more to wait for.
      source.once('close', () => {
        if (!end || !source.readableEnded) resolve();
      });
    }));
    return this;
  }

  /**
   * The lines of stdout as they arrive, without their ending (`\n` or `\r\n`), decoded as UTF-8.
   * After the last line the iteration throws the command's error if it did not succeed (unless
   * `nothrow()`); stopping it early (`break`) stops the command.
   */
  lines(): AsyncIterableIterator<string> {
    return this.#lines();
  }

  /** `for await (const line of cmd)`: the same as `cmd.lines()`. */
  [Symbol.asyncIterator](): AsyncIterator<string> {
    return this.lines();
  }

  /** Bytes kept per stream (stdout, stderr) before the command is ended with `OutputLimitError`. @default 16777216 (16 MiB) */
  maxBuffer(bytes: number): this {
    this.#assertNotStarted('maxBuffer');
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1 || bytes > MAX_MAX_BUFFER) {
      throw new InvalidArgumentError(`maxBuffer(bytes) takes an integer from 1 to ${MAX_MAX_BUFFER}, got ${describe(bytes)}`);
    }
    this.#maxBuffer = bytes;
    return this;
  }

  /**
   * Run as root (or `user`) through sudo. With a password (here or the target's
   * `sudoPassword`) sudo reads it from stdin when it prompts, before the command's own
   * `.stdin()`; without, `sudo -n`, which fails at once when a password is needed. Refusals
   * reject with `SudoPasswordError`, `SudoNotAllowedError` or `SudoNotInstalledError`.
   */
  sudo(options: SudoOptions = {}): this {
    this.#assertNotStarted('sudo');
    if (!isPlainObject(options)) throw new InvalidArgumentError(`sudo() takes an object ({ user?, password? }), got ${describe(options)}`);
    for (const key of Object.keys(options)) {
      if (key !== 'user' && key !== 'password') throw new InvalidArgumentError(`sudo(): ${key} is not a known option (known: user, password)`);
    }
    const { user, password } = options;
    if (user !== undefined && (typeof user !== 'string' || !/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$|^#\d+$/.test(user))) {
      throw new InvalidArgumentError(`sudo(): user must be a user name or #uid, got ${describe(user)}`);
    }
    // The value is never described: it is a secret.
    if (password !== undefined && (typeof password !== 'string' || password === '' || /[\r\n\0]/.test(password))) {
      throw new InvalidArgumentError('sudo(): password must be a non-empty string without line breaks or NUL (the value is not shown)');
    }
    const secret = password === undefined ? this.#defaults.sudoPassword : new Secret(password);
    this.#sudo = { user, password: secret };
    return this;
  }

  /**
   * Give the command a pseudo-terminal, as `ssh -t` does. Its stdout and stderr then arrive
   * merged in `stdout`, lines end in `\r\n`, and input is echoed by the terminal.
   */
  pty(options: PtyRequest = {}): this {
    this.#assertNotStarted('pty');
    if (!isPlainObject(options)) throw new InvalidArgumentError(`pty() takes an object ({ cols?, rows?, term? }), got ${describe(options)}`);
    const size = (name: 'cols' | 'rows', fallback: number): number => {
      const value = options[name] ?? fallback;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 10_000) {
        throw new InvalidArgumentError(`pty(): ${name} must be an integer from 1 to 10000, got ${describe(value)}`);
      }
      return value;
    };
    const term = options.term ?? 'xterm-256color';
    if (typeof term !== 'string' || !/^[A-Za-z0-9._+-]{1,64}$/.test(term)) {
      throw new InvalidArgumentError(`pty(): term must be a terminal type such as 'xterm-256color', got ${describe(term)}`);
    }
    this.#pty = { cols: size('cols', 80), rows: size('rows', 24), term };
    return this;
  }

  /**
   * Answer prompts: output (stdout and stderr) is watched as it arrives, and when a rule's
   * `match` is found its `answer` is written to stdin, once per match. stdin then stays open
   * for answers. A prompt no rule answers runs into `.timeout()`: `PromptUnansweredError`
   * quotes the last output line.
   */
  respond(rules: RespondRule[]): this {
    this.#assertNotStarted('respond');
    if (!Array.isArray(rules) || rules.length === 0) throw new InvalidArgumentError(`respond() takes a non-empty array of { match, answer }, got ${describe(rules)}`);
    const checked = rules.map((rule, index): ResponseRule => {
      if (!isPlainObject(rule)) throw new InvalidArgumentError(`respond(): rule ${index} must be { match, answer }, got ${describe(rule)}`);
      const { match, answer } = rule;
      if (!(match instanceof RegExp) && (typeof match !== 'string' || match === '')) {
        throw new InvalidArgumentError(`respond(): rule ${index}'s match must be a RegExp or a non-empty string, got ${describe(match)}`);
      }
      // The answer may be a secret: not described.
      if (typeof answer !== 'string') throw new InvalidArgumentError(`respond(): rule ${index}'s answer must be a string (the value is not shown)`);
      return { match, answer: new Secret(answer) };
    });
    this.#respond = [...(this.#respond ?? []), ...checked];
    return this;
  }

  /** Position among commands waiting for a slot: higher goes first. @default 0 */
  priority(priority: number): this {
    this.#assertNotStarted('priority');
    if (typeof priority !== 'number' || !Number.isFinite(priority)) {
      throw new InvalidArgumentError(`priority() takes a finite number, got ${describe(priority)}`);
    }
    this.#priority = priority;
    return this;
  }

  then<R1 = CommandResult, R2 = never>(
    onFulfilled?: ((value: CommandResult) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#start().then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<CommandResult | R> {
    return this.#start().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<CommandResult> {
    return this.#start().finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return 'SSHCommand';
  }

  /** For subclasses' modifiers: throws once the command has started. */
  protected assertNotStarted(method: string): void {
    this.#assertNotStarted(method);
  }

  #assertNotStarted(method: string): void {
    if (this.#promise) throw new InvalidArgumentError(`${method}() cannot change a command that has already started`);
  }

  #start(): Promise<CommandResult> {
    this.#promise ??= this.#execute();
    return this.#promise;
  }

  #newStream(name: 'stdout' | 'stderr'): OutputStream {
    if (this.#promise) throw new InvalidArgumentError(`${name} can be streamed only before the command starts`);
    return new OutputStream({
      // A microtask later, so that both streams can be taken in one expression, e.g.
      // Promise.all([read(cmd.stdout), read(cmd.stderr)]). Whoever only reads a stream may
      // never await the command: its failure is theirs to see through the stream or a later
      // await, never an unhandled rejection.
      start: () => queueMicrotask(() => void this.#start().catch(ignore)),
      abandon: () => {
        this.#abandoned ??= new OutputAbandoned(name);
        this.#giveUp?.('aborted');
      },
    });
  }

  async *#lines(): AsyncGenerator<string, void, undefined> {
    yield* outputLines(this.stdout);
    await this;
  }

  /**
   * Ends the command's streams with its outcome: a clean end when its output ended (whatever its
   * exit status: that is `await`'s to report), its error when it ended early.
   */
  #endStreams(error: unknown): void {
    const early = error !== undefined && !(error instanceof CommandFailedError) ? asError(error) : undefined;
    this.#stdoutStream?.finish(early);
    this.#stderrStream?.finish(early);
  }

  /** Shell lines that set up the environment and directory before the user's command. */
  #scriptText(): string {
    if (this.#env === undefined && this.#cwd === undefined) return this.#built.text;
    const prelude: string[] = [];
    for (const [name, value] of Object.entries(this.#env ?? {})) prelude.push(`export ${name}=${quote(value)}`);
    if (this.#cwd !== undefined) prelude.push(`cd -- ${quote(this.#cwd)} || exit 1`);
    return prelude.length === 0 ? this.#built.text : `${prelude.join('\n')}\n${this.#built.text}`;
  }

  /** Written with continuations rather than as an async function (see `promiseOf`). */
  #execute(): Promise<CommandResult> {
    return promiseOf(() => this.#send());
  }

  /** What the channel must do besides running the script; undefined for a plain command. */
  #interaction(sudo: ChannelInteraction['sudo']): ChannelInteraction | undefined {
    if (!sudo && !this.#pty && !this.#respond) return undefined;
    return { sudo, pty: this.#pty, respond: this.#respond };
  }

  #send(): Promise<CommandResult> {
    const plain = this.#scriptText();
    const wrapped = this.#sudo ? sudoScript(plain, this.#sudo) : undefined;
    const script = wrapped?.script ?? plain;
    // Before anything is sent: OpenSSH answers some bad exec requests by dropping the connection.
    checkCommandText(script);
    const startedAt = performance.now();
    const streamed = this.#stdoutStream !== undefined || this.#stderrStream !== undefined;
    // A streamed command can be stopped by its consumer, and one fed from a stream by that
    // stream failing, so both are cancellable too: their kill needs the process-group report
    // (without it, a stdin stream failing on its first chunk left `cat; exec sleep` running).
    const cancellable = this.#timeoutMs !== undefined || this.#signal !== undefined || streamed || isAsyncIterable(this.#stdin);
    // Most commands have neither a timeout nor a signal: they get no controller, and nothing to stop watching.
    const cancel = cancellable ? new AbortController() : undefined;
    const stopWatching = cancel ? this.#watchCancel(cancel) : undefined;

    const verbose = this.#log.verbose && !this.#quiet;
    if (verbose) this.#log.write('stderr', `$ ${this.#built.text}\n`);

    // A runner's synchronous throw is handled below like its rejection: an AcquireCancelled
    // still becomes a result.
    const running = promiseOf(() =>
      this.#run(
        {
          command: script,
          stdin: this.#stdin,
          maxBuffer: this.#maxBuffer,
          stdoutSink: this.#stdoutStream,
          stderrSink: this.#stderrStream,
          cancellable,
          interaction: this.#interaction(wrapped?.handshake),
          priority: this.#priority,
          built: this.#built,
        },
        cancel?.signal,
      ),
    );
    const settled = running
      .then(
        (outcome) => {
          stopWatching?.();
          return this.#resultOf(outcome, startedAt, verbose);
        },
        (error: unknown) => {
          stopWatching?.();
          if (!(error instanceof AcquireCancelled)) throw error;
          // Given up while still waiting for a slot: nothing ran remotely.
          return this.#resultOf(emptyOutcome(error.reason), startedAt, verbose);
        },
      );
    // Without streams there are no pipes either (a pipe takes stdout): the result as it is.
    if (!streamed) return settled;
    return settled
      .then(
        (result) => {
          this.#endStreams(undefined);
          return this.#piped.length === 0 ? result : Promise.all(this.#piped).then(() => result);
        },
        (error: unknown) => {
          this.#endStreams(error);
          if (this.#piped.length === 0) throw error;
          return Promise.all(this.#piped).then(() => {
            throw error;
          });
        },
      );
  }

  /**
   * Aborts `cancel` at the timeout, at the caller's signal, or when given up from here (an
   * abandoned stream); returns what stops watching once the command is over.
   */
  #watchCancel(cancel: AbortController): () => void {
    const giveUp = (reason: CancelReason): void => {
      if (!cancel.signal.aborted) cancel.abort(reason);
    };
    const timer = this.#timeoutMs === undefined ? undefined : setTimeout(() => giveUp('timeout'), this.#timeoutMs);
    timer?.unref();
    const onAbort = (): void => giveUp('aborted');
    if (this.#signal?.aborted || this.#abandoned) giveUp('aborted');
    else this.#signal?.addEventListener('abort', onAbort, { once: true });
    this.#giveUp = giveUp;
    return () => {
      clearTimeout(timer);
      this.#giveUp = undefined;
      this.#signal?.removeEventListener('abort', onAbort);
    };
  }

  /** The command's result, or its typed error unless `nothrow()`. */
  #resultOf(outcome: RunOutcome, startedAt: number, verbose: boolean): CommandResult {
    const result = new RemoteCommandResult({
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      ok: outcome.ending === 'closed' && outcome.exitCode === 0,
      durationMs: performance.now() - startedAt,
      host: outcome.host ?? this.#host,
      command: this.#built.text,
      template: this.#built.template,
      streamed: { stdout: this.#stdoutStream !== undefined, stderr: this.#stderrStream !== undefined },
    });
    if (verbose) {
      if (result.stdout) this.#log.write('stdout', result.stdout);
      if (result.stderr) this.#log.write('stderr', result.stderr);
    }
    if (result.ok) return result;
    const error = this.#errorFor(outcome, result);
    if (this.#nothrow) return result;
    throw error;
  }

  #errorFor(outcome: ChannelOutcome, result: CommandResult): CommandError {
    return errorForOutcome(outcome.ending, result, {
      what: `Command \`${this.#built.template}\` on ${result.host}`,
      timeoutMs: this.#timeoutMs,
      maxBuffer: this.#maxBuffer,
      abortReason: this.#abandoned ?? this.#signal?.reason,
      maxOutputMemory: outcome.outputBudgetBytes,
      stdinError: outcome.stdinError,
    }, outcome);
  }
}

function isAsyncIterable(value: unknown): value is StdinSource {
  return typeof value === 'object' && value !== null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

function isWritable(value: unknown): value is Writable {
  return typeof value === 'object' && value !== null && typeof (value as { write?: unknown }).write === 'function' && typeof (value as { on?: unknown }).on === 'function';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
