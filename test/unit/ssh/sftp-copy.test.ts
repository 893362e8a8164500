// The pipelined SFTP write: requests in flight stay within `concurrency`, every byte lands at
// its offset, a failed write or an abort stops the copy only once nothing is in flight. The
// pipelined read: what it handed on is not kept.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BufferRecycler } from '../../../src/core/buffer-recycler.js';
import { readPipelined, writePipelined } from '../../../src/ssh/sftp-copy.js';
import type { SftpSession } from '../../../src/ssh/sftp-session.js';

/** An SFTP session whose writes the test answers, in any order. */
function fakeSession(maxWriteLength = 4) {
  const pending: Array<{ at: number; data: Buffer; settle: (error?: Error) => void }> = [];
  const written = new Map<number, string>();
  let peak = 0;
  const session = {
    maxWriteLength,
    write(_handle: Buffer, data: Buffer, at: number): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ at, data: Buffer.from(data), settle: (error) => (error ? reject(error) : (written.set(at, data.toString()), resolve())) });
        peak = Math.max(peak, pending.length);
      });
    },
  } as unknown as SftpSession;
  return {
    session,
    pending,
    written,
    get peak() {
      return peak;
    },
    /** Answers the oldest (or newest) pending write. */
    answer(which: 'oldest' | 'newest' = 'oldest', error?: Error): boolean {
      const request = which === 'oldest' ? pending.shift() : pending.pop();
      request?.settle(error);
      return request !== undefined;
    },
  };
}

async function* chunks(...texts: string[]): AsyncGenerator<Buffer> {
  for (const text of texts) yield Buffer.from(text);
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function answerAll(fake: ReturnType<typeof fakeSession>, copy: Promise<unknown>, order: 'oldest' | 'newest'): Promise<void> {
  let done = false;
  void copy.finally(() => (done = true)).catch(() => {});
  while (!done) {
    await tick();
    fake.answer(order);
  }
}

describe('writePipelined', () => {
  it('keeps at most `concurrency` writes in flight and writes every piece at its offset, answered in any order', async () => {
    const fake = fakeSession(4);
    const acknowledged: number[] = [];
    const copy = writePipelined(fake.session, Buffer.alloc(0), chunks('abcdefgh', 'ijklmnopqr', 'st'), {
      concurrency: 3,
      signal: new AbortController().signal,
      onBytes: (bytes) => acknowledged.push(bytes),
    });
    await answerAll(fake, copy, 'newest');
    await expect(copy).resolves.toBe(20);
    expect(fake.peak).toBeLessThanOrEqual(3);
    const text = [...fake.written.entries()].sort(([a], [b]) => a - b).map(([, piece]) => piece).join('');
    expect(text).toBe('abcdefghijklmnopqrst');
    expect(acknowledged.reduce((sum, bytes) => sum + bytes, 0)).toBe(20);
  });

  it('a failed write rejects with its error once the other writes in flight have settled', async () => {
    const fake = fakeSession(2);
    const copy = writePipelined(fake.session, Buffer.alloc(0), chunks('aabbccddeeff'), { concurrency: 3, signal: new AbortController().signal, onBytes: () => {} });
    await tick();
    expect(fake.pending).toHaveLength(3);
    fake.answer('oldest', new Error('disk full'));
    let settled = false;
    void copy.then(() => (settled = true), () => (settled = true));
    await tick();
    expect(settled).toBe(false);
    while (fake.answer('oldest')) await tick();
    await expect(copy).rejects.toThrow('disk full');
    expect(fake.pending).toHaveLength(0);
  });

  it('an abort rejects with its reason and issues nothing more', async () => {
    const fake = fakeSession(2);
    const controller = new AbortController();
    const copy = writePipelined(fake.session, Buffer.alloc(0), chunks('aabbccddeeff'), { concurrency: 2, signal: controller.signal, onBytes: () => {} });
    const outcome = copy.catch((error: unknown) => error);
    await tick();
    expect(fake.pending).toHaveLength(2);
    const reason = new Error('stopped');
    controller.abort(reason);
    await tick();
    expect(fake.pending).toHaveLength(2);
    while (fake.answer('oldest')) await tick();
    expect(await outcome).toBe(reason);
    expect(fake.written.size).toBe(2);
  });
});

// A real collection, without needing node --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('readPipelined', () => {
  it('regression: a download no longer keeps every chunk it handed on until it ends', async () => {
    // Each answer used to be raced against one abort promise that lives as long as the copy;
    // the reaction left on it kept the answer reachable, so a 512 MiB download held 558 MiB.
    const chunkBytes = 64 * 1024;
    const size = 64 * chunkBytes;
    const handed: Array<WeakRef<Buffer>> = [];
    let collectedBeforeEnd = 0;
    const session = {
      maxReadLength: chunkBytes,
      // The end of the file answers with no bytes, as SFTP's EOF status does.
      read: (_handle: Buffer, length: number, at: number) => new Promise<Buffer>((resolve) => setImmediate(() => resolve(Buffer.alloc(at < size ? length : 0)))),
    } as unknown as SftpSession;
    const bytes = await readPipelined(session, Buffer.alloc(0), size, (chunk) => {
      handed.push(new WeakRef(chunk));
      if (handed.length === 48) {
        gc();
        collectedBeforeEnd = handed.slice(0, 32).filter((ref) => ref.deref() === undefined).length;
      }
    }, { concurrency: 4, signal: new AbortController().signal, onBytes: () => {} });
    expect(bytes).toBe(size);
    // The first 32 chunks were handed on long before; none of them may still be reachable.
    expect(collectedBeforeEnd).toBe(32);
  });

  it('reads into the buffers it is given, and a sink that gives them back gets the same ones again', async () => {
    const recycler = new BufferRecycler(8);
    const into: ArrayBufferLike[] = [];
    const session = {
      maxReadLength: 8,
      read: (_handle: Buffer, length: number, at: number, buffer?: Buffer) => {
        into.push(buffer!.buffer);
        return Promise.resolve(buffer!.subarray(0, at < 32 ? length : 0).fill(at));
      },
    } as unknown as SftpSession;
    const seen: number[] = [];
    const bytes = await readPipelined(session, Buffer.alloc(0), 32, (chunk) => {
      seen.push(chunk[0]!);
      recycler.give(chunk);
    }, { concurrency: 1, signal: new AbortController().signal, onBytes: () => {} }, recycler);
    expect(bytes).toBe(32);
    expect(seen).toEqual([0, 8, 16, 24]);
    expect(new Set(into).size).toBe(1);
  });

  it('an abort while an answer is awaited rejects with the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stopped');
    // The server answers nothing until the channel is ended, which fails what is in flight.
    const session = {
      maxReadLength: 4,
      read: () => new Promise<Buffer>((_, reject) => controller.signal.addEventListener('abort', () => setImmediate(() => reject(new Error('channel ended'))))),
    } as unknown as SftpSession;
    const copy = readPipelined(session, Buffer.alloc(0), 16, () => {}, { concurrency: 2, signal: controller.signal, onBytes: () => {} });
    await tick();
    controller.abort(reason);
    await expect(Promise.race([copy, new Promise((resolve) => setTimeout(() => resolve('hung'), 2_000))])).rejects.toBe(reason);
  });
});
