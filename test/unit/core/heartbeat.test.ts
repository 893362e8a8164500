import { describe, expect, it } from 'vitest';
import { joinHeartbeat } from '../../../src/core/heartbeat.js';
import { FakeClock } from '../../support/fake-clock.js';

describe('heartbeat', () => {
  it('calls every member of one clock and period on one timer, in the order they joined', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    const leaveA = joinHeartbeat(clock, 100, { tick: () => calls.push('a') });
    const leaveB = joinHeartbeat(clock, 100, { tick: () => calls.push('b') });
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(250);
    expect(calls).toEqual(['a', 'b', 'a', 'b']);
    leaveA();
    await clock.advance(100);
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'b']);
    leaveB();
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps a timer per period, and a member that left during a beat is not called', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    let leaveB: () => void = () => {};
    const leaveA = joinHeartbeat(clock, 100, { tick: () => { calls.push('a'); leaveB(); } });
    leaveB = joinHeartbeat(clock, 100, { tick: () => calls.push('b') });
    const leaveC = joinHeartbeat(clock, 30, { tick: () => calls.push('c') });
    expect(clock.pendingTimers).toBe(2);
    await clock.advance(100);
    expect(calls).toEqual(['c', 'c', 'c', 'a']);
    leaveA();
    leaveC();
    expect(clock.pendingTimers).toBe(0);
  });

  it('a member that throws does not stop the others; its error is rethrown on its own', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    const thrown: unknown[] = [];
    const onError = (error: unknown): void => void thrown.push(error);
    process.on('uncaughtException', onError);
    try {
      const leaveA = joinHeartbeat(clock, 10, { tick: () => { throw new Error('upkeep failed'); } });
      const leaveB = joinHeartbeat(clock, 10, { tick: () => calls.push('b') });
      await clock.advance(10);
      expect(calls).toEqual(['b']);
      leaveA();
      leaveB();
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(thrown).toHaveLength(1);
  });
});
