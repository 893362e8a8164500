// PoolDrain: running work holds the process, and a close waits for it, then stops it.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CancelSource } from '../../../src/core/cancel-source.js';
import { FORCED_STOP_MS, PoolDrain } from '../../../src/pool/pool-drain.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeHold } from '../../support/fake-connections.js';

function setup() {
  const clock = new FakeClock();
  const hold = new FakeHold();
  const waiting = { length: 0 };
  let busy = false;
  const drain = new PoolDrain(clock, hold, waiting, { anyBusy: () => busy });
  let stops = 0;
  /** Starts a close with `timeout` and records when it settles. */
  const close = (timeout: number) => {
    const state = { settled: false };
    void drain.settle(timeout, () => void stops++).then(() => (state.settled = true));
    return state;
  };
  return { clock, hold, waiting, drain, close, setBusy: (value: boolean) => (busy = value), stops: () => stops };
}

describe('pool drain', () => {
  it('holds the process while tracked work runs, and gives the hold back once at done()', () => {
    const { drain, hold } = setup();
    const first = drain.track(undefined, new CancelSource());
    const second = drain.track(undefined, new CancelSource());
    expect(hold.count).toBe(2);
    first.done();
    first.done();
    expect(hold.count).toBe(1);
    second.done();
    expect(hold.count).toBe(0);
  });

  it('forwards the caller\'s cancel to the tracked stop with its reason, and stops listening at done()', () => {
    const { drain } = setup();
    const caller = new AbortController();
    const work = drain.track(caller.signal, new CancelSource());
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1);
    caller.abort('timeout');
    expect(work.stop.aborted).toBe(true);
    expect(work.stop.reason).toBe('timeout');
    const later = new AbortController();
    const other = drain.track(later.signal, new CancelSource());
    other.done();
    expect(getEventListeners(later.signal, 'abort')).toHaveLength(0);
  });

  it('passes on a cancel that fired before the work was tracked', () => {
    const { drain } = setup();
    const caller = new AbortController();
    caller.abort('aborted');
    expect(drain.track(caller.signal, new CancelSource()).stop.reason).toBe('aborted');
  });

  it('settles at once when nothing runs, waits and no connection is busy', async () => {
    const { close, stops } = setup();
    const closing = close(1_000);
    await settle();
    expect(closing.settled).toBe(true);
    expect(stops()).toBe(0);
  });

  it('settles when the last tracked work is done, before the timeout, stopping nothing', async () => {
    const { drain, close, clock, stops } = setup();
    const work = drain.track(undefined, new CancelSource());
    const closing = close(1_000);
    await clock.advance(500);
    expect(closing.settled).toBe(false);
    work.done();
    await settle();
    expect(closing.settled).toBe(true);
    expect(work.stop.aborted).toBe(false);
    expect(stops()).toBe(0);
  });

  it('waits for queued acquires and busy connections too, rechecking when told something changed', async () => {
    const { drain, close, waiting, setBusy, clock } = setup();
    waiting.length = 1;
    setBusy(true);
    const closing = close(1_000);
    await clock.advance(100);
    waiting.length = 0;
    drain.changed();
    await settle();
    expect(closing.settled).toBe(false);
    setBusy(false);
    drain.changed();
    await settle();
    expect(closing.settled).toBe(true);
  });

  it('past the timeout, fails the waiters and stops tracked work with reason shutdown', async () => {
    const { drain, close, clock, stops } = setup();
    const work = drain.track(undefined, new CancelSource());
    const closing = close(1_000);
    await clock.advance(999);
    expect(stops()).toBe(0);
    expect(work.stop.aborted).toBe(false);
    await clock.advance(1);
    expect(stops()).toBe(1);
    expect(work.stop.reason).toBe('shutdown');
    expect(closing.settled).toBe(false);
    work.done();
    await settle();
    expect(closing.settled).toBe(true);
  });

  it(`gives stopped work ${FORCED_STOP_MS} ms to end, then settles anyway`, async () => {
    const { drain, close, clock, hold } = setup();
    drain.track(undefined, new CancelSource());
    const closing = close(100);
    await clock.advance(100 + FORCED_STOP_MS - 1);
    expect(closing.settled).toBe(false);
    await clock.advance(1);
    expect(closing.settled).toBe(true);
    // Work that never ends keeps its hold: the drain does not pretend it ended.
    expect(hold.count).toBe(1);
  });

  it('with timeout 0, stops running work without waiting', async () => {
    const { drain, close, clock, stops } = setup();
    const work = drain.track(undefined, new CancelSource());
    close(0);
    await clock.advance(0);
    expect(work.stop.reason).toBe('shutdown');
    expect(stops()).toBe(1);
  });
});
