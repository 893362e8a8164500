// BufferRecycler: a download's read buffers handed out again once given back, never one a
// holder still has, and never a buffer it did not hand out.
import { describe, expect, it } from 'vitest';
import { BufferRecycler } from '../../../src/core/buffer-recycler.js';

describe('buffer recycler', () => {
  it('hands a given-back buffer out again, whole or as the length asked for', () => {
    const buffers = new BufferRecycler(1024);
    const first = buffers.take(1024);
    buffers.give(first.subarray(0, 10));
    const again = buffers.take(100);
    expect(again.buffer).toBe(first.buffer);
    expect(again.length).toBe(100);
  });

  it('never hands out a buffer that was not given back', () => {
    const buffers = new BufferRecycler(1024);
    const held = buffers.take(1024);
    expect(buffers.take(1024).buffer).not.toBe(held.buffer);
  });

  it('takes back only buffers it handed out, and keeps at most maxFree', () => {
    const buffers = new BufferRecycler(1024, 1);
    const foreign = Buffer.allocUnsafeSlow(1024);
    buffers.give(foreign);
    expect(buffers.take(1024).buffer).not.toBe(foreign.buffer);
    const [a, b] = [buffers.take(1024), buffers.take(1024)];
    buffers.give(a);
    buffers.give(b);
    expect(buffers.take(1024).buffer).toBe(a.buffer);
    expect(buffers.take(1024).buffer).not.toBe(b.buffer);
  });

  it('allocates apart what is larger than its size', () => {
    const buffers = new BufferRecycler(1024);
    const large = buffers.take(4096);
    expect(large.length).toBe(4096);
    buffers.give(large);
    expect(buffers.take(1024).buffer).not.toBe(large.buffer);
  });
});
