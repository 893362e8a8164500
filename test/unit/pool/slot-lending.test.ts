// SlotLending over real OpenConnections and PendingAcquires, fake connections and a fake clock.
import { describe, expect, it } from 'vitest';
import { AcquireCancelled } from '../../../src/command/error-mapping.js';
import { AcquireTimeoutError, ConnectError, ERROR_CODES, PoolClosedError } from '../../../src/core/errors.js';
import { OpenConnections } from '../../../src/pool/open-connections.js';
import { PendingAcquires } from '../../../src/pool/pending-acquires.js';
import type { AcquireRequest } from '../../../src/pool/pending-acquires.js';
import type { PoolEntry } from '../../../src/pool/pool-entry.js';
import type { Slot } from '../../../src/pool/slot.js';
import { SlotLending } from '../../../src/pool/slot-lending.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeConnectionLayer, FakeHold } from '../../support/fake-connections.js';
import { entryOf, RecordedEvents } from '../../support/pool-parts.js';

const ACQUIRE_TIMEOUT = 1_000;

function setup(limits: number[] = [1]) {
  const clock = new FakeClock();
  const hold = new FakeHold();
  const layer = new FakeConnectionLayer(clock);
  const events = new RecordedEvents();
  const connections = new OpenConnections();
  const pending = new PendingAcquires<Slot>();
  const calls: string[] = [];
  const growth = { grow: () => void calls.push('grow'), queueEmptied: () => void calls.push('queueEmptied') };
  const drain = { changed: () => void calls.push('changed') };
  const lending = new SlotLending({ name: 'u@fake:22', acquireTimeout: ACQUIRE_TIMEOUT, clock, hold, events, connections, pending, growth, drain });
  const entries = limits.map((limit) => entryOf(layer, clock, limit));
  for (const entry of entries) connections.add(entry);
  /** Acquires and records how it settles, without awaiting it. */
  const track = (request: Partial<AcquireRequest> = {}, front = false, closed = false) => {
    const result: { slot?: Slot; error?: Error } = {};
    lending.acquire({ priority: 0, ...request }, front, closed).then((slot) => (result.slot = slot), (error: Error) => (result.error = error));
    return result;
  };
  /** Frees a slot the way the host pool does: release, then serve the waiters. */
  const giveBack = (slot: Slot): void => {
    lending.release(slot);
    lending.serveWaiters();
  };
  return { clock, hold, events, connections, pending, calls, lending, entries, track, giveBack };
}

const refused = new ConnectError('Cannot connect to u@fake:22: ECONNREFUSED', { poolName: 'u@fake:22', host: 'fake', port: 22 }, true);

describe('slot lending', () => {
  it('lends a slot at once when nobody waits and a connection has room, without asking for growth', async () => {
    const { lending, entries, events, calls, hold } = setup([2]);
    const slot = await lending.acquire({ priority: 0 }, false, false);
    expect(slot.entry).toBe(entries[0]);
    expect(slot).toMatchObject({ outcome: 'created', waitMs: 0, grantedAt: 0 });
    expect(events.of('acquired')).toMatchObject([{ outcome: 'created', waitMs: 0, idleMs: undefined, connectAttempts: [] }]);
    expect(calls).toEqual([]);
    expect(hold.count).toBe(0);
  });

  it('reports a later lend of the same connection as reused, with how long it had been idle', async () => {
    const { lending, clock, events } = setup([2]);
    const first = await lending.acquire({ priority: 0 }, false, false);
    await clock.advance(100);
    lending.release(first);
    await clock.advance(250);
    const second = await lending.acquire({ priority: 0 }, false, false);
    expect(second.outcome).toBe('reused');
    expect(events.of('acquired').map((event) => [event.outcome, event.idleMs])).toEqual([['created', undefined], ['reused', 250]]);
  });

  it('queues an acquire when no connection has room, holds the process and asks for growth', async () => {
    const { lending, pending, calls, hold, track } = setup([1]);
    await lending.acquire({ priority: 0 }, false, false);
    const waiting = track();
    await settle();
    expect(waiting).toEqual({});
    expect(pending.length).toBe(1);
    expect(hold.count).toBe(1);
    expect(calls).toEqual(['grow']);
  });

  it('hands a freed slot to the waiter, with the time it waited', async () => {
    const { lending, clock, track, giveBack, events, hold, calls } = setup([1]);
    const held = await lending.acquire({ priority: 0 }, false, false);
    const waiting = track({ trace: 'parent-of-waiter' });
    await clock.advance(300);
    giveBack(held);
    await settle();
    expect(waiting.slot).toMatchObject({ outcome: 'reused', waitMs: 300 });
    expect(events.of('acquired').at(-1)).toMatchObject({ waitMs: 300, parent: 'parent-of-waiter', startedAtEpoch: clock.epochNow() - 300 });
    expect(hold.count).toBe(0);
    expect(calls).toEqual(['grow', 'queueEmptied']);
  });

  it('never lets a new acquire overtake a waiting one, even when a slot is free', async () => {
    const { lending, connections, clock, track } = setup([1]);
    await lending.acquire({ priority: 0 }, false, false);
    const first = track();
    // A connection opens for the waiter; before the pool serves it, a new acquire arrives.
    const opened = entryOf(new FakeConnectionLayer(clock), clock, 1);
    connections.add(opened);
    const second = track();
    await settle();
    expect(second).toEqual({});
    lending.serveWaiters();
    await settle();
    expect(first.slot?.entry).toBe(opened);
    expect(second).toEqual({});
  });

  it('lets a retry at the front take a free slot ahead of the waiters', async () => {
    const { lending, connections, clock, track } = setup([1]);
    await lending.acquire({ priority: 0 }, false, false);
    const waiting = track();
    const opened = entryOf(new FakeConnectionLayer(clock), clock, 1);
    connections.add(opened);
    const retry = track({}, true);
    await settle();
    expect(retry.slot?.entry).toBe(opened);
    expect(waiting).toEqual({});
  });

  it('serves waiters by priority, then in arrival order', async () => {
    const { lending, track, giveBack } = setup([1]);
    let held = await lending.acquire({ priority: 0 }, false, false);
    const order: string[] = [];
    const waiters = [['low', 0], ['high', 5], ['low-2', 0], ['high-2', 5]] as const;
    const tracked = waiters.map(([name, priority]) => ({ name, result: track({ priority }) }));
    for (let i = 0; i < waiters.length; i++) {
      giveBack(held);
      await settle();
      const next = tracked.find((t) => t.result.slot && !order.includes(t.name))!;
      order.push(next.name);
      held = next.result.slot!;
    }
    expect(order).toEqual(['high', 'high-2', 'low', 'low-2']);
  });

  it('times a waiter out after acquireTimeout, naming the last connect error as its cause', async () => {
    const { lending, clock, track, events, hold, calls } = setup([1]);
    await lending.acquire({ priority: 0 }, false, false);
    const waiting = track({ trace: 'p' });
    await clock.advance(200);
    lending.connectFailed(refused);
    await clock.advance(ACQUIRE_TIMEOUT - 201);
    expect(waiting).toEqual({});
    await clock.advance(1);
    expect(waiting.error).toBeInstanceOf(AcquireTimeoutError);
    expect(waiting.error?.cause).toBe(refused);
    expect(waiting.error?.message).toContain('last connection error: Cannot connect to u@fake:22: ECONNREFUSED');
    expect(events.of('acquire-failed')).toMatchObject([{ outcome: 'timeout', waitMs: ACQUIRE_TIMEOUT, errorType: ERROR_CODES.acquireTimeout, parent: 'p' }]);
    expect(hold.count).toBe(0);
    expect(calls).toEqual(['grow', 'queueEmptied', 'changed']);
  });

  it('gives a new waiter the connect error met before it arrived, until a connection opens', async () => {
    const { lending, clock, track } = setup([1]);
    await lending.acquire({ priority: 0 }, false, false);
    lending.connectFailed(refused);
    const before = track();
    lending.connectionOpened();
    const after = track();
    await clock.advance(ACQUIRE_TIMEOUT);
    expect(before.error?.cause).toBe(refused);
    expect(after.error).toBeInstanceOf(AcquireTimeoutError);
    expect(after.error?.cause).toBeUndefined();
  });

  it('ends a waiter whose caller gives up with AcquireCancelled, counted as an error unless the reason is a timeout', async () => {
    const { lending, track, events, pending, hold } = setup([1]);
    await lending.acquire({ priority: 0 }, false, false);
    const aborted = new AbortController();
    const timedOut = new AbortController();
    const a = track({ cancel: aborted.signal });
    const t = track({ cancel: timedOut.signal });
    aborted.abort('aborted');
    timedOut.abort('timeout');
    await settle();
    expect(a.error).toBeInstanceOf(AcquireCancelled);
    expect((a.error as AcquireCancelled).reason).toBe('aborted');
    expect((t.error as AcquireCancelled).reason).toBe('timeout');
    expect(events.of('acquire-failed').map((event) => [event.outcome, event.errorType])).toEqual([
      ['error', ERROR_CODES.aborted],
      ['timeout', ERROR_CODES.commandTimeout],
    ]);
    expect(pending.length).toBe(0);
    expect(hold.count).toBe(0);
  });

  it('refuses an acquire whose signal was aborted before it asked, without lending', async () => {
    const { lending, entries } = setup([1]);
    const controller = new AbortController();
    controller.abort('aborted');
    await expect(lending.acquire({ priority: 0, cancel: controller.signal }, false, false)).rejects.toBeInstanceOf(AcquireCancelled);
    expect(entries[0]!.slotsInUse).toBe(0);
  });

  it('refuses every acquire of a closed pool with PoolClosedError, reported as a failed acquire', async () => {
    const { lending, events, entries } = setup([1]);
    await expect(lending.acquire({ priority: 0, trace: 'p' }, false, true)).rejects.toBeInstanceOf(PoolClosedError);
    expect(events.of('acquire-failed')).toMatchObject([{ outcome: 'error', waitMs: 0, errorType: ERROR_CODES.poolClosed, parent: 'p', connectAttempts: [] }]);
    expect(entries[0]!.slotsInUse).toBe(0);
  });

  it('fails every waiter with the given error and reports each', async () => {
    const { lending, track, events, hold, calls, pending } = setup([1]);
    await lending.acquire({ priority: 0 }, false, false);
    const waiters = [track(), track({ priority: 2 })];
    const closed = new PoolClosedError('closed');
    lending.failWaiters(closed);
    await settle();
    for (const waiter of waiters) expect(waiter.error).toBe(closed);
    expect(events.of('acquire-failed').map((event) => [event.outcome, event.errorType])).toEqual([
      ['error', ERROR_CODES.poolClosed],
      ['error', ERROR_CODES.poolClosed],
    ]);
    expect(pending.length).toBe(0);
    expect(hold.count).toBe(0);
    expect(calls.at(-1)).toBe('queueEmptied');
  });

  it('lists on a lend the connect attempts its acquire waited on', async () => {
    const { lending, pending, track, giveBack, events } = setup([1]);
    const held = await lending.acquire({ priority: 0 }, false, false);
    const waiting = track();
    pending.noteConnectAttempt(41);
    pending.noteConnectAttempt(42);
    giveBack(held);
    await settle();
    expect(waiting.slot).toBeDefined();
    expect(events.of('acquired').map((event) => event.connectAttempts)).toEqual([[], [41, 42]]);
  });

  it('takes a slot back once: a second release does nothing and reports nothing', async () => {
    const { lending, clock, events, entries } = setup([2]);
    const slot = await lending.acquire({ priority: 0 }, false, false);
    await lending.acquire({ priority: 0 }, false, false);
    await clock.advance(40);
    expect(lending.release(slot)).toBe(true);
    expect(lending.release(slot)).toBe(false);
    expect(entries[0]!.slotsInUse).toBe(1);
    expect(events.of('released')).toMatchObject([{ connection: slot.connection, heldMs: 40 }]);
  });

  it('marks a connection idle from the release of its last slot', async () => {
    const { lending, clock, entries } = setup([2]);
    const slot = await lending.acquire({ priority: 0 }, false, false);
    await clock.advance(70);
    lending.release(slot);
    expect((entries[0] as PoolEntry).idleSince).toBe(70);
  });

  describe('transfers ride an open SFTP channel', () => {
    /** The connection's SFTP channel opened by a transfer holding `slot`, as SftpChannels does. */
    const sftpOpenedOn = (slot: Slot): void => slot.entry.joinSftp(true);

    it('a transfer passes waiting commands onto the open SFTP channel, which takes no session from them', async () => {
      const { lending, entries, track, pending } = setup([2]);
      const opener = await lending.acquire({ priority: 0, ridesSftp: true }, false, false);
      sftpOpenedOn(opener);
      const command = await lending.acquire({ priority: 0 }, false, false);
      const waitingCommand = track();
      const transfer = track({ ridesSftp: true });
      await settle();
      expect(waitingCommand).toEqual({});
      expect(transfer.slot).toMatchObject({ entry: entries[0], ridesSftp: true, waitMs: 0 });
      expect(pending.length).toBe(1);
      // The SFTP channel and the command: still two sessions on a connection allowed two.
      expect(entries[0]).toMatchObject({ openChannels: 2, sftpRiders: 2, freeSlots: 0 });
      expect(command.ridesSftp).toBe(false);
    });

    it('a transfer does not pass a waiter of higher priority', async () => {
      const { lending, track } = setup([2]);
      sftpOpenedOn(await lending.acquire({ priority: 0, ridesSftp: true }, false, false));
      await lending.acquire({ priority: 0 }, false, false);
      track({ priority: 5 });
      const transfer = track({ priority: 0, ridesSftp: true });
      await settle();
      expect(transfer).toEqual({});
    });

    it('with one session allowed, a transfer waits its turn: the waiters need the SFTP channel to idle and be given up', async () => {
      const { lending, track, giveBack } = setup([1]);
      const opener = await lending.acquire({ priority: 0, ridesSftp: true }, false, false);
      sftpOpenedOn(opener);
      const command = track();
      const transfer = track({ ridesSftp: true });
      await settle();
      expect(transfer).toEqual({});
      expect(command).toEqual({});
      opener.entry.leaveSftp();
      giveBack(opener);
      await settle();
      expect(transfer).toEqual({});
      // The idle channel is given up (SftpChannels.yieldIdle) and closes: the command is next.
      opener.entry.sftpYielded();
      opener.entry.sftpYieldEnded();
      lending.serveWaiters();
      await settle();
      expect(command.slot).toBeDefined();
      expect(transfer).toEqual({});
    });

    it('waiting transfers ride as soon as a channel opens, and a transfer at the head rides whatever the limit', async () => {
      const { lending, track, entries } = setup([1]);
      const opener = await lending.acquire({ priority: 0, ridesSftp: true }, false, false);
      const transfers = [track({ ridesSftp: true }), track({ ridesSftp: true })];
      await settle();
      expect(transfers.map((transfer) => transfer.slot)).toEqual([undefined, undefined]);
      sftpOpenedOn(opener);
      lending.serveWaiters();
      await settle();
      expect(transfers.map((transfer) => transfer.slot?.ridesSftp)).toEqual([true, true]);
      expect(entries[0]).toMatchObject({ openChannels: 1, sftpRiders: 3 });
    });

    it('a command never rides: with the SFTP channel busy and no slot free, it waits', async () => {
      const { lending, track } = setup([2]);
      sftpOpenedOn(await lending.acquire({ priority: 0, ridesSftp: true }, false, false));
      await lending.acquire({ priority: 0 }, false, false);
      const command = track();
      await settle();
      expect(command).toEqual({});
    });
  });
});
