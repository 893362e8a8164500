// CancelSource: the pool's own cancel signal behaves as an AbortSignal does where the pool uses one.
import { describe, expect, it } from 'vitest';
import { CancelSource } from '../../../src/core/cancel-source.js';

describe('cancel source', () => {
  it('tells each listener once, in the order added, with the reason readable', () => {
    const source = new CancelSource();
    const heard: string[] = [];
    source.addEventListener('abort', () => heard.push(`first ${String(source.reason)}`));
    source.addEventListener('abort', () => heard.push('second'));
    expect(source.aborted).toBe(false);
    source.abort('timeout');
    source.abort('shutdown');
    expect(heard).toEqual(['first timeout', 'second']);
    expect(source.aborted).toBe(true);
    expect(source.reason).toBe('timeout');
  });

  it('does not call a listener removed before the abort, nor one removed by an earlier listener', () => {
    const source = new CancelSource();
    const heard: string[] = [];
    const removed = (): void => void heard.push('removed');
    const later = (): void => void heard.push('later');
    source.addEventListener('abort', removed);
    source.removeEventListener('abort', removed);
    source.addEventListener('abort', () => source.removeEventListener('abort', later));
    source.addEventListener('abort', later);
    source.abort('aborted');
    expect(heard).toEqual([]);
  });

  it('adds a listener once however often it is added, and ignores listeners added after the abort', () => {
    const source = new CancelSource();
    let calls = 0;
    const listener = (): void => void calls++;
    source.addEventListener('abort', listener);
    source.addEventListener('abort', listener);
    source.abort('aborted');
    source.addEventListener('abort', listener);
    expect(calls).toBe(1);
  });

  it('runs the other listeners when one throws, and reports the error as uncaught', async () => {
    const source = new CancelSource();
    const errors: unknown[] = [];
    const onUncaught = (error: unknown): void => void errors.push(error);
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      let after = false;
      source.addEventListener('abort', () => {
        throw new Error('listener failed');
      });
      source.addEventListener('abort', () => (after = true));
      source.abort('aborted');
      expect(after).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(errors).toHaveLength(1);
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const listener of listeners) process.on('uncaughtException', listener);
    }
  });
});
