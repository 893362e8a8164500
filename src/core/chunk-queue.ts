/**
 * Buffers waiting their turn, in order, with their byte count. Taken from the front by index,
 * not `shift()`: shift() copies a large array on every call, and a queue of many small chunks
 * (a paused reader's hold of small packets, small writes behind a spent window) took seconds to
 * empty that way, in one synchronous run. Taken entries are dropped once they are half of it,
 * so every operation is O(1) amortized.
 */
export class ChunkQueue {
  readonly #chunks: Array<Buffer | undefined> = [];
  #head = 0;
  #bytes = 0;

  get bytes(): number {
    return this.#bytes;
  }

  get isEmpty(): boolean {
    return this.#head === this.#chunks.length;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /** The first chunk. The queue must not be empty. */
  peek(): Buffer {
    return this.#chunks[this.#head]!;
  }

  /** Takes the first chunk whole. The queue must not be empty. */
  shift(): Buffer {
    const chunk = this.peek();
    this.consume(chunk.length);
    return chunk;
  }

  /** Takes the first `size` bytes of the first chunk: all of it, or its start. */
  consume(size: number): void {
    const chunk = this.peek();
    this.#bytes -= size;
    if (size < chunk.length) {
      this.#chunks[this.#head] = chunk.subarray(size);
      return;
    }
    this.#chunks[this.#head++] = undefined;
    if (this.#head * 2 >= this.#chunks.length) {
      this.#chunks.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
