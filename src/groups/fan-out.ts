import { warnListenerThrew } from '../core/listener-warning.js';
import { FanOutError, InvalidArgumentError } from '../core/errors.js';
import type { BuiltCommand } from '../command/shell-quote.js';
import type { CommandRunner, PtyRequest, RespondRule, SSHCommand, SudoOptions } from '../command/ssh-command.js';
import { describe } from '../core/validation.js';
import type { FanOutResult } from '../core/fan-out-result.js';
import type { FanOutProgress } from './types.js';
import { outputLines } from '../command/output-lines.js';
import { FanOutLines } from './fan-out-lines.js';
import type { FanOutLine } from './fan-out-lines.js';
import { summarizeFanOut } from './fan-out-summary.js';
import type { FanOutSummary } from './fan-out-summary.js';
import type { Readable } from 'node:stream';
import type { HostGroup } from './host-group.js';

/** Makes the command that runs on one member, with `run` as its runner. */
export type MemberCommandFactory = (run: CommandRunner) => SSHCommand;

/** Progress of one started fan-out, shared by its promise and its iterators. */
interface FanOutRun {
  readonly results: FanOutResult[];
  /** Finished hosts in completion order. */
  readonly progress: FanOutProgress[];
  /** Iterators waiting for the next host to finish. */
  readonly wakers: Array<() => void>;
  readonly finished: Promise<FanOutResult[]>;
}

/**
 * The same command on every member of a group (`` group.all`uptime` ``), at most
 * `concurrency` hosts at a time. Lazy like a command: nothing runs until it is awaited or
 * iterated.
 *
 * - Awaiting it resolves with one settled result per host, in the group's host order, when
 *   every host succeeded; otherwise it rejects with `FanOutError`, whose `results` still hold
 *   every host's outcome (successes included) and `failures` each failed host with its cause.
 *   With `.nothrow()` it always resolves with the settled results.
 * - `for await (const { host, stream, line } of group.all`...`)` (or of `.lines()`) yields
 *   every host's output lines as they arrive, each whole and tagged with its host; the results
 *   then hold no output (`result.streamed`). Stopping early stops every host's command.
 * - `for await (const { result, index, done, total } of group.all`...`.progress())` yields
 *   hosts as they finish; `.onProgress(fn)` calls `fn` with the same values.
 * - `.summary()` resolves with how many hosts succeeded, failed or were unreachable, and which.
 *
 * Every host is asked, including one its circuit breaker marked down: a fan-out is about each
 * host's own answer. There is no failover: a host's command runs on that host only.
 * Command modifiers (`timeout`, `env`, `cwd`, ...) apply to each host's command.
 */
export class FanOutCommand implements PromiseLike<FanOutResult[]>, AsyncIterable<FanOutLine> {
  readonly #group: HostGroup;
  readonly #built: BuiltCommand;
  readonly #makeCommand: MemberCommandFactory;
  // Modifiers are applied to this never-run command at once, so bad arguments throw at the
  // call that gave them, then replayed on each host's command.
  readonly #validator: SSHCommand;
  readonly #modifiers: Array<(command: SSHCommand) => void> = [];
  readonly #listeners: Array<(progress: FanOutProgress) => void> = [];
  #concurrency: number;
  #nothrow = false;
  #run: FanOutRun | undefined;
  /** Set by `lines()`: every host's output goes here instead of into its result. */
  #lines: FanOutLines | undefined;

  constructor(group: HostGroup, built: BuiltCommand, makeCommand: MemberCommandFactory) {
    this.#group = group;
    this.#built = built;
    this.#makeCommand = makeCommand;
    this.#concurrency = group.spec.concurrency;
    this.#validator = makeCommand(() => Promise.reject(new Error('a fan-out validator never runs')));
  }

  /** The command text with every interpolated value masked as `?`. */
  get template(): string {
    return this.#built.template;
  }

  /** Resolve with every host's settled result instead of rejecting when some failed. */
  nothrow(): this {
    this.#assertNotStarted('nothrow');
    this.#nothrow = true;
    return this;
  }

  /** Hosts running at once. @default the group's `concurrency` (10 unless set) */
  concurrency(limit: number): this {
    this.#assertNotStarted('concurrency');
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`concurrency(limit) takes a positive integer, got ${describe(limit)}`);
    }
    this.#concurrency = limit;
    return this;
  }

  /**
   * Every host's stdout and stderr lines as they arrive, `{ host, stream, line }`, each line
   * whole (lines of two hosts never mix); starts the fan-out. Awaiting the fan-out afterwards
   * still gives every host's settled result, in host order, without the streamed output.
   * Breaking out stops every host's command (they end with `AbortedError`).
   */
  lines(): AsyncIterable<FanOutLine> {
    this.#assertNotStarted('lines');
    const lines = new FanOutLines();
    this.#lines = lines;
    // Whoever reads only the lines may never await: host failures are in the results, and the
    // fan-out's own rejection must not go unhandled.
    void this.#settled().catch(() => {});
    return lines;
  }

  /** How the hosts fared: succeeded, failed (ran and did not succeed) and unreachable, with a printable `toString()`. Starts the fan-out. */
  summary(): Promise<FanOutSummary> {
    return this.#start().finished.then(summarizeFanOut);
  }

  /** Calls `listener` as each host finishes. A listener that throws is reported as a warning. */
  onProgress(listener: (progress: FanOutProgress) => void): this {
    this.#assertNotStarted('onProgress');
    if (typeof listener !== 'function') throw new InvalidArgumentError(`onProgress() takes a function, got ${describe(listener)}`);
    this.#listeners.push(listener);
    return this;
  }

  /** See `SSHCommand.quiet()`; applies to each host. */
  quiet(): this {
    return this.#modify('quiet', (command) => command.quiet());
  }
  /** See `SSHCommand.timeout()`; each host's command gets `ms`. */
  timeout(ms: number): this {
    return this.#modify('timeout', (command) => command.timeout(ms));
  }
  /** See `SSHCommand.signal()`: aborts every host's command, running or not yet started. */
  signal(signal: AbortSignal): this {
    return this.#modify('signal', (command) => command.signal(signal));
  }
  env(variables: Record<string, string | number>): this {
    return this.#modify('env', (command) => command.env(variables));
  }
  cwd(directory: string): this {
    return this.#modify('cwd', (command) => command.cwd(directory));
  }
  stdin(data: string | Buffer | Uint8Array): this {
    return this.#modify('stdin', (command) => command.stdin(data));
  }
  maxBuffer(bytes: number): this {
    return this.#modify('maxBuffer', (command) => command.maxBuffer(bytes));
  }
  priority(priority: number): this {
    return this.#modify('priority', (command) => command.priority(priority));
  }
  /** See `SSHCommand.sudo()`; each host's command runs under sudo (the group's `sudoPassword` unless given). */
  sudo(options?: SudoOptions): this {
    return this.#modify('sudo', (command) => command.sudo(options));
  }
  /** See `SSHCommand.pty()`; each host's command gets a terminal. */
  pty(options?: PtyRequest): this {
    return this.#modify('pty', (command) => command.pty(options));
  }
  /** See `SSHCommand.respond()`; each host's command answers the same prompts. */
  respond(rules: RespondRule[]): this {
    return this.#modify('respond', (command) => command.respond(rules));
  }

  then<R1 = FanOutResult[], R2 = never>(
    onFulfilled?: ((value: FanOutResult[]) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#settled().then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<FanOutResult[] | R> {
    return this.#settled().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<FanOutResult[]> {
    return this.#settled().finally(onFinally);
  }

  /** Every host's output lines as they arrive: `for await` over the fan-out is `lines()`. */
  [Symbol.asyncIterator](): AsyncIterator<FanOutLine> {
    return this.lines()[Symbol.asyncIterator]();
  }

  /**
   * Hosts in the order they finish, `{ result, index, done, total }`, with their output in
   * their results; starts the fan-out if nothing else has. Breaking out stops nothing: the
   * fan-out goes on, and awaiting it gives every host's result.
   */
  async *progress(): AsyncGenerator<FanOutProgress, void, undefined> {
    const run = this.#start();
    let seen = 0;
    while (seen < run.results.length) {
      if (seen < run.progress.length) {
        yield run.progress[seen++]!;
      } else {
        await new Promise<void>((resolve) => run.wakers.push(resolve));
      }
    }
  }

  get [Symbol.toStringTag](): string {
    return 'FanOutCommand';
  }

  #modify(method: string, apply: (command: SSHCommand) => void): this {
    this.#assertNotStarted(method);
    apply(this.#validator);
    this.#modifiers.push(apply);
    return this;
  }

  #assertNotStarted(method: string): void {
    if (this.#run) throw new InvalidArgumentError(`${method}() cannot change a fan-out that has already started`);
  }

  async #settled(): Promise<FanOutResult[]> {
    const results = await this.#start().finished;
    if (this.#nothrow) return results;
    const failures = results.flatMap((result, index) =>
      result.status === 'rejected' ? [{ host: result.host, poolName: this.#group.poolNameAt(index), error: result.reason }] : []);
    if (failures.length > 0) throw new FanOutError(`\`${this.#built.template}\` on ${this.#group.groupName}`, results, failures);
    return results;
  }

  #start(): FanOutRun {
    if (this.#run) return this.#run;
    const group = this.#group;
    const total = group.size;
    const { span, context } = group.startFanOut(this.#built.template);
    const results = new Array<FanOutResult>(total);
    const progress: FanOutProgress[] = [];
    const wakers: Array<() => void> = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const index = next++;
        const command = this.#makeCommand((request, cancel) => group.runOn(index, request, cancel, context));
        for (const apply of this.#modifiers) apply(command);
        const host = group.labelOf(index);
        const readers = this.#lines ? this.#readLines(command, host, this.#lines) : undefined;
        let result: FanOutResult;
        try {
          result = { host, status: 'fulfilled', value: await command };
        } catch (error) {
          result = { host, status: 'rejected', reason: error instanceof Error ? error : new Error(String(error)) };
        }
        // A host is finished once its last line is handed on.
        if (readers) await readers;
        results[index] = result;
        const step: FanOutProgress = { result, index, done: progress.length + 1, total };
        progress.push(step);
        for (const listener of this.#listeners) {
          try {
            listener(step);
          } catch (error) {
            warnListenerThrew('a fan-out progress listener', error);
          }
        }
        for (const wake of wakers.splice(0)) wake();
      }
    };
    const workers = Array.from({ length: Math.min(this.#concurrency, total) }, worker);
    const finished = Promise.all(workers).then(() => {
      this.#lines?.end();
      group.endFanOut(span, results.filter((result) => result.status === 'rejected').length);
      return results;
    });
    this.#run = { results, progress, wakers, finished };
    return this.#run;
  }

  /**
   * Hands one host's stdout and stderr lines to `lines` as they arrive. A consumer that has gone
   * stops the readers, which stops the command (a command not started yet never runs).
   */
  #readLines(command: SSHCommand, host: string, lines: FanOutLines): Promise<void> {
    const read = async (source: Readable, stream: 'stdout' | 'stderr'): Promise<void> => {
      if (lines.closed) {
        source.destroy();
        return;
      }
      try {
        for await (const line of outputLines(source)) {
          if (!(await lines.push({ host, stream, line }))) break;
        }
      } catch {
        // The command ended early: its result says how.
      }
    };
    return Promise.all([read(command.stdout, 'stdout'), read(command.stderr, 'stderr')]).then(() => undefined);
  }
}
