/** One line of one host's output in a streamed fan-out. */
export interface FanOutLine {
  /** The host that wrote it, as `host:port` (the same label as its result's). */
  readonly host: string;
  readonly stream: 'stdout' | 'stderr';
  /** The line, without its ending (`\n` or `\r\n`). */
  readonly line: string;
}

/** Lines waiting for the consumer, at most, before the hosts' readers wait (and so their servers). */
export const FAN_OUT_LINE_BUFFER = 1024;

/**
 * The lines of every host of a fan-out, merged whole as they arrive, for one consumer. A host's
 * reader waits while the buffer is full, so a slow consumer slows the hosts (through their SSH
 * windows) instead of growing memory. Stopping the consumer early closes it: readers then stop,
 * which stops their commands.
 */
export class FanOutLines implements AsyncIterable<FanOutLine> {
  readonly #buffered: FanOutLine[] = [];
  /** Readers waiting for room. */
  readonly #writers: Array<() => void> = [];
  #reader: (() => void) | undefined;
  #ended = false;
  #closed = false;

  /** True once the consumer stopped early: nothing more is wanted. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a line; resolves when there is room again, false once the consumer has gone. */
  async push(line: FanOutLine): Promise<boolean> {
    if (this.#closed) return false;
    this.#buffered.push(line);
    this.#wakeReader();
    while (this.#buffered.length > FAN_OUT_LINE_BUFFER && !this.#closed) {
      await new Promise<void>((resolve) => this.#writers.push(resolve));
    }
    return !this.#closed;
  }

  /** Every host is done: the iteration ends once the buffer is empty. */
  end(): void {
    this.#ended = true;
    this.#wakeReader();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FanOutLine, void, undefined> {
    try {
      for (;;) {
        const line = this.#buffered.shift();
        if (line) {
          if (this.#buffered.length <= FAN_OUT_LINE_BUFFER) this.#wakeWriters();
          yield line;
        } else if (this.#ended) {
          return;
        } else {
          await new Promise<void>((resolve) => (this.#reader = resolve));
        }
      }
    } finally {
      if (!this.#ended || this.#buffered.length > 0) this.#closed = true;
      this.#buffered.length = 0;
      this.#wakeWriters();
    }
  }

  #wakeReader(): void {
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.();
  }

  #wakeWriters(): void {
    for (const wake of this.#writers.splice(0)) wake();
  }
}
