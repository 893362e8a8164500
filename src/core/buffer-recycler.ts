/**
 * Buffers of one size, handed out again once their holder gives them back. A download reads
 * every answer into a fresh 64 KiB buffer otherwise; each lives outside V8's heap, and at
 * LAN speeds those allocations set off a major collection every few MiB. Only buffers this
 * recycler handed out are taken back, and at most `maxFree` wait, so an idle one holds little.
 * Invariant: a buffer is in the free list only after its holder gave it back, and the holder
 * never touches it again.
 */
export class BufferRecycler {
  readonly #size: number;
  readonly #maxFree: number;
  readonly #free: Buffer[] = [];
  readonly #handedOut = new WeakSet<ArrayBufferLike>();

  constructor(size: number, maxFree = 32) {
    this.#size = size;
    this.#maxFree = maxFree;
  }

  /** `length` bytes: a given-back buffer when one waits, else a new one (not from Node's shared pool). */
  take(length: number): Buffer {
    if (length > this.#size) return Buffer.allocUnsafe(length);
    let buffer = this.#free.pop();
    if (!buffer) {
      buffer = Buffer.allocUnsafeSlow(this.#size);
      this.#handedOut.add(buffer.buffer);
    }
    return length === this.#size ? buffer : buffer.subarray(0, length);
  }

  /** Takes back a buffer `take` handed out, or a view of one; anything else is left alone. */
  give(chunk: Buffer): void {
    if (!this.#handedOut.has(chunk.buffer) || this.#free.length >= this.#maxFree) return;
    this.#free.push(Buffer.from(chunk.buffer, 0, this.#size));
  }
}
