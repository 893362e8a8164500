/** The parts of a resizable ArrayBuffer (ES2024) used here; the project's lib is ES2023. */
interface ResizableArrayBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}

const ResizableArrayBufferConstructor = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

/** First size a stream's store grows to; it then doubles. */
const INITIAL_BYTES = 64 * 1024;

/**
 * The bytes of one output stream, up to a limit, held in a single resizable ArrayBuffer: its
 * address space is reserved up to the limit, and memory is committed only as bytes arrive.
 * The finished output is a view of that store, so a command's output costs about its size,
 * not a list of chunks plus a concatenated copy plus a decoded string (3x and more).
 */
export class OutputBuffer {
  readonly #limit: number;
  #store: ResizableArrayBuffer | undefined;
  #length = 0;

  /** @param limit bytes kept at most; `append` refuses what would go past it. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#length;
  }

  /** Copies `chunk` in (so the SSH layer's packet buffers are not retained). False, storing nothing, past the limit. */
  append(chunk: Uint8Array): boolean {
    const needed = this.#length + chunk.length;
    if (needed > this.#limit) return false;
    // Reserved lazily: most commands write little or nothing.
    this.#store ??= new ResizableArrayBufferConstructor(0, { maxByteLength: this.#limit });
    if (needed > this.#store.byteLength) {
      this.#store.resize(Math.min(this.#limit, Math.max(needed, this.#store.byteLength * 2, INITIAL_BYTES)));
    }
    new Uint8Array(this.#store, this.#length, chunk.length).set(chunk);
    this.#length = needed;
    return true;
  }

  /** The bytes received so far, as a view (no copy). */
  bytes(): Buffer {
    return this.#store ? Buffer.from(this.#store, 0, this.#length) : Buffer.alloc(0);
  }
}
