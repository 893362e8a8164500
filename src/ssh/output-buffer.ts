/** The parts of a resizable ArrayBuffer (ES2024) used here; the project's lib is ES2023. */
interface ResizableArrayBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}

const ResizableArrayBufferConstructor = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

/**
 * Below this, output is kept as the chunks that arrived and joined once: most commands write a
 * few bytes, and reserving a resizable store for each costs more than it saves.
 */
const SMALL_OUTPUT_BYTES = 256 * 1024;

/**
 * The bytes of one output stream, up to a limit. Small output is kept as its chunks (copied,
 * so the SSH layer's packet buffers are not retained). Past `SMALL_OUTPUT_BYTES` it moves into
 * a single resizable ArrayBuffer whose address space is reserved up to the limit and whose
 * memory is committed only as bytes arrive; the finished output is a view of that store. So a
 * large output costs about its size, not a list of chunks plus a concatenated copy plus a
 * decoded string (3x and more).
 */
export class OutputBuffer {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #store: ResizableArrayBuffer | undefined;
  #length = 0;

  /** @param limit bytes kept at most; `append` refuses what would go past it. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#length;
  }

  /** Keeps a copy of `chunk`. False, storing nothing, past the limit. */
  append(chunk: Uint8Array): boolean {
    const needed = this.#length + chunk.length;
    if (needed > this.#limit) return false;
    if (!this.#store && needed <= SMALL_OUTPUT_BYTES) {
      this.#chunks.push(Buffer.from(chunk));
      this.#length = needed;
      return true;
    }
    if (!this.#store) {
      this.#store = new ResizableArrayBufferConstructor(0, { maxByteLength: this.#limit });
      this.#grow(Math.max(needed, SMALL_OUTPUT_BYTES * 2));
      let offset = 0;
      for (const piece of this.#chunks) {
        new Uint8Array(this.#store, offset, piece.length).set(piece);
        offset += piece.length;
      }
      this.#chunks = [];
    } else if (needed > this.#store.byteLength) {
      this.#grow(Math.max(needed, this.#store.byteLength * 2));
    }
    new Uint8Array(this.#store, this.#length, chunk.length).set(chunk);
    this.#length = needed;
    return true;
  }

  /** The bytes received so far: a view of the store, or the small chunks joined once. */
  bytes(): Buffer {
    if (this.#store) return Buffer.from(this.#store, 0, this.#length);
    if (this.#chunks.length === 1) return this.#chunks[0]!;
    return Buffer.concat(this.#chunks, this.#length);
  }

  #grow(byteLength: number): void {
    this.#store!.resize(Math.min(this.#limit, byteLength));
  }
}
