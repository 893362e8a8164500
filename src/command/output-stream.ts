import { Readable } from 'node:stream';
import type { OutputSink } from './channel-contract.js';

/** What an output stream asks of the command it belongs to. */
export interface OutputStreamOwner {
  /** Reading starts the command, as awaiting it does (called on the first read only). */
  start(): void;
  /** The consumer gave up before the output ended: the command must stop. */
  abandon(): void;
}

/**
 * One output stream of a command (`cmd.stdout`, `cmd.stderr`) as a Node `Readable` of bytes,
 * fed by the channel as output arrives. When its buffer is full the channel stops reading (and
 * so the server's writer waits) until the consumer asks for more.
 */
export class OutputStream extends Readable implements OutputSink {
  readonly #owner: OutputStreamOwner;
  #resume: (() => void) | undefined;
  #started = false;
  /** True once the end (or an error) was given: a later destroy is the stream's own cleanup. */
  #over = false;

  constructor(owner: OutputStreamOwner) {
    super();
    this.#owner = owner;
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      this.#owner.start();
    }
    this.#resume?.();
  }

  /** A destroyed stream takes (and drops) what still arrives while its command is stopped. */
  write(chunk: Buffer): boolean {
    if (this.#over || this.destroyed) return true;
    return this.push(chunk);
  }

  onReady(resume: () => void): void {
    this.#resume = resume;
  }

  /**
   * The command is over. `error`: it ended early (a timeout, an abort, a lost connection), and
   * the stream fails with the command's own error where someone listens for it (`for await`,
   * `pipeline`, an `error` listener); otherwise it just ends, and `await cmd` tells the story,
   * so that an unheard error never crashes the process.
   */
  finish(error: Error | undefined): void {
    if (this.#over || this.destroyed) return;
    this.#over = true;
    if (error && this.listenerCount('error') > 0) this.destroy(error);
    else this.push(null);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#over) {
      this.#over = true;
      this.#owner.abandon();
    }
    callback(error);
  }
}
