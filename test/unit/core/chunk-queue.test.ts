// ChunkQueue: buffers in order with their byte count, taken whole or in part from the front.
import { describe, expect, it } from 'vitest';
import { ChunkQueue } from '../../../src/core/chunk-queue.js';

describe('ChunkQueue', () => {
  it('gives chunks back in the order they came and counts the bytes it holds', () => {
    const queue = new ChunkQueue();
    expect(queue.isEmpty).toBe(true);
    queue.push(Buffer.from('ab'));
    queue.push(Buffer.from('cde'));
    expect(queue.bytes).toBe(5);
    expect(queue.shift().toString()).toBe('ab');
    expect(queue.bytes).toBe(3);
    expect(queue.shift().toString()).toBe('cde');
    expect({ isEmpty: queue.isEmpty, bytes: queue.bytes }).toEqual({ isEmpty: true, bytes: 0 });
  });

  it('takes part of its first chunk and keeps the rest first', () => {
    const queue = new ChunkQueue();
    queue.push(Buffer.from('hello'));
    queue.push(Buffer.from('!'));
    queue.consume(2);
    expect({ head: queue.peek().toString(), bytes: queue.bytes }).toEqual({ head: 'llo', bytes: 4 });
    queue.consume(3);
    expect({ head: queue.peek().toString(), bytes: queue.bytes }).toEqual({ head: '!', bytes: 1 });
  });

  it('keeps the order through many pushes and takes interleaved (taken entries are dropped along the way)', () => {
    const queue = new ChunkQueue();
    const taken: number[] = [];
    let next = 0;
    for (let round = 0; round < 1_000; round++) {
      for (let i = 0; i < 3; i++) queue.push(Buffer.from([next++ % 256]));
      for (let i = 0; i < 2; i++) taken.push(queue.shift()[0]!);
    }
    while (!queue.isEmpty) taken.push(queue.shift()[0]!);
    expect(taken).toEqual(Array.from({ length: 3_000 }, (_, i) => i % 256));
    expect(queue.bytes).toBe(0);
  });
});
