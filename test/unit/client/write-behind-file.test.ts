// WriteBehindFile: a download's local file, written behind it. Chunks reach the file in order,
// those that queue behind a write go out in one writev, the writer waits only past the limit,
// short writes are completed, and a write error reaches the next write and the final flush.
import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { WRITE_BEHIND_BYTES, WriteBehindFile } from '../../../src/client/write-behind-file.js';
import { deferred } from '../../support/pool-parts.js';
import type { Deferred } from '../../support/pool-parts.js';

interface Pending {
  readonly all: Buffer;
  readonly answer: Deferred<{ bytesWritten: number }>;
  settled: boolean;
}

/** A FileHandle whose writev calls are answered by the test (or at once with `auto`). */
class FakeFile {
  readonly calls: Buffer[][] = [];
  readonly #pending: Pending[] = [];
  written = Buffer.alloc(0);
  closed = false;
  /** Answers every call at once with all its bytes, or with at most `limit` of them. */
  auto: { limit?: number } | undefined;

  writev(buffers: Buffer[]): Promise<{ bytesWritten: number }> {
    this.calls.push([...buffers]);
    const pending: Pending = { all: Buffer.concat(buffers), answer: deferred<{ bytesWritten: number }>(), settled: false };
    this.#pending.push(pending);
    if (this.auto) this.#take(pending, Math.min(pending.all.length, this.auto.limit ?? pending.all.length));
    return pending.answer.promise;
  }

  /** Completes the oldest unanswered call, taking `bytes` of it (all by default). */
  answer(bytes?: number): void {
    const pending = this.#oldest();
    this.#take(pending, bytes ?? pending.all.length);
  }

  fail(error: Error): void {
    const pending = this.#oldest();
    pending.settled = true;
    pending.answer.reject(error);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  #oldest(): Pending {
    return this.#pending.find((candidate) => !candidate.settled)!;
  }

  #take(pending: Pending, bytes: number): void {
    this.written = Buffer.concat([this.written, pending.all.subarray(0, bytes)]);
    pending.settled = true;
    pending.answer.resolve({ bytesWritten: bytes });
  }
}

function setup() {
  const fake = new FakeFile();
  const file = new WriteBehindFile(fake as unknown as FileHandle);
  return { fake, file };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a file written behind a download', () => {
  it('takes chunks without waiting for the disk, and sends those queued behind a write in one writev, in order', async () => {
    const { fake, file } = setup();
    await file.write(Buffer.from('a'));
    await file.write(Buffer.from('b'));
    await file.write(Buffer.from('c'));
    expect(fake.calls.map((call) => call.map(String))).toEqual([['a']]);
    fake.answer();
    await tick();
    expect(fake.calls.map((call) => call.map(String))).toEqual([['a'], ['b', 'c']]);
    fake.answer();
    await file.flushed();
    expect(fake.written.toString()).toBe('abc');
  });

  it('makes the writer wait once more than WRITE_BEHIND_BYTES are unwritten, and only then', async () => {
    const { fake, file } = setup();
    const chunk = Buffer.alloc(WRITE_BEHIND_BYTES / 4);
    for (let i = 0; i < 4; i++) await file.write(chunk);
    let waited = true;
    const fifth = file.write(chunk).then(() => (waited = false));
    await tick();
    expect(waited).toBe(true);
    fake.auto = {};
    fake.answer();
    await fifth;
    await file.flushed();
    expect(fake.written.length).toBe(5 * chunk.length);
  });

  it('completes a short writev with the bytes it did not take', async () => {
    const { fake, file } = setup();
    fake.auto = { limit: 3 };
    await file.write(Buffer.from('hello'));
    await file.write(Buffer.from(' world'));
    await file.flushed();
    expect(fake.written.toString()).toBe('hello world');
  });

  it('fails the next write and the flush with the error of a write that failed, and writes nothing more', async () => {
    const { fake, file } = setup();
    await file.write(Buffer.from('a'));
    await file.write(Buffer.from('b'));
    const full = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    fake.fail(full);
    await tick();
    await expect(file.write(Buffer.from('c'))).rejects.toBe(full);
    await expect(file.flushed()).rejects.toBe(full);
    expect(fake.calls).toHaveLength(1);
  });

  it('a writev that takes nothing is a failure, not a loop', async () => {
    const { fake, file } = setup();
    fake.auto = { limit: 0 };
    await file.write(Buffer.from('a'));
    await expect(file.flushed()).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('gives each chunk back only once its write is over (written whole, even after a short writev, or failed)', async () => {
    const fake = new FakeFile();
    const done: string[] = [];
    const file = new WriteBehindFile(fake as unknown as FileHandle, (chunk) => done.push(String(chunk)));
    await file.write(Buffer.from('ab'));
    await file.write(Buffer.from('cd'));
    await tick();
    expect(done).toEqual([]);
    fake.answer(1);
    await tick();
    expect(done).toEqual([]);
    fake.answer();
    await tick();
    expect(done).toEqual(['ab']);
    fake.fail(new Error('EIO'));
    await file.flushed().catch(() => {});
    expect(done).toEqual(['ab', 'cd']);
  });

  it('close() drops what is queued, lets the write in flight end, and closes the file', async () => {
    const { fake, file } = setup();
    await file.write(Buffer.from('a'));
    await file.write(Buffer.from('b'));
    const closing = file.close();
    fake.answer();
    await closing;
    expect(fake.closed).toBe(true);
    expect(fake.written.toString()).toBe('a');
  });
});
