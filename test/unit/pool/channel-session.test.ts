// ChannelSession: the one path of a command's channel (open on a slot, refusals, a connection
// lost under the open, follow, kill grace), over fake connections and a fake clock.
import { describe, expect, it } from 'vitest';
import type { ChannelOutcome, ChannelSpec } from '../../../src/command/channel-contract.js';
import { ChannelRefusedError, ERROR_CODES } from '../../../src/core/errors.js';
import { ChannelSession, KILL_WAIT_MS, MAX_CHANNEL_ATTEMPTS, STUCK_CHANNEL_MS } from '../../../src/pool/channel-session.js';
import type { SessionRequest, SlotSource } from '../../../src/pool/channel-session.js';
import type { ExecOutcome, Slot } from '../../../src/pool/slot.js';
import type { PoolEntry } from '../../../src/pool/pool-entry.js';
import { ChannelOpenCancelled, ChannelOpenRefusal } from '../../../src/ssh/connection.js';
import type { RunningChannel } from '../../../src/ssh/connection.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeConnectionLayer } from '../../support/fake-connections.js';
import type { FakeChannel, FakeConnection } from '../../support/fake-connections.js';
import { deferred, entryOf, RecordedEvents, slotOf } from '../../support/pool-parts.js';

const SPEC: ChannelSpec = { command: 'job', stdin: undefined, maxBuffer: 1024 };

/** The host pool as the session sees it: slots on the first lendable connection with room. */
class FakeSlotSource implements SlotSource {
  readonly name = 'u@fake:22';
  readonly events = new RecordedEvents();
  readonly acquires: Array<{ front: boolean; at: number }> = [];
  readonly released = new Set<Slot>();
  releaseCalls = 0;
  readonly retired: PoolEntry[] = [];

  constructor(readonly clock: FakeClock, readonly entries: PoolEntry[]) {}

  acquire(_request: SessionRequest, front: boolean): Promise<Slot> {
    this.acquires.push({ front, at: this.clock.now() });
    const entry = this.entries.find((candidate) => candidate.freeSlots > 0);
    if (!entry) return Promise.reject(new Error('no slot in this test'));
    return Promise.resolve(slotOf(entry, this.clock));
  }

  releaseSlot(slot: Slot): void {
    this.releaseCalls++;
    if (this.released.has(slot)) return;
    this.released.add(slot);
    slot.entry.release(this.clock.now());
  }

  retire(entry: PoolEntry): void {
    entry.retire();
    this.retired.push(entry);
  }

  channelRequested(): void {}
}

function setup(connections = 1, channelLimit = 2) {
  const clock = new FakeClock();
  const layer = new FakeConnectionLayer(clock);
  const entries = Array.from({ length: connections }, () => entryOf(layer, clock, channelLimit));
  const source = new FakeSlotSource(clock, entries);
  const session = new ChannelSession(source);
  const controller = new AbortController();
  let doneCalls = 0;
  const done = (): void => void doneCalls++;
  /** Runs a command through `run` and records how it settles. */
  const run = (trace?: unknown) => {
    const outcome: { value?: ExecOutcome; error?: Error } = {};
    session.run(SPEC, { priority: 0, cancel: controller.signal, trace }, done)
      .then((value) => (outcome.value = value), (error: Error) => (outcome.error = error));
    return outcome;
  };
  const runOnSlot = (slot: Slot) => {
    const outcome: { value?: ChannelOutcome; error?: Error } = {};
    session.runOnSlot(slot, SPEC, controller.signal, undefined, done)
      .then((value) => (outcome.value = value), (error: Error) => (outcome.error = error));
    return outcome;
  };
  const connection = (i = 0): FakeConnection => entries[i]!.connection as FakeConnection;
  const channel = (i = 0): FakeChannel => [...connection(i).channels][0]!;
  return { clock, layer, entries, source, session, controller, run, runOnSlot, connection, channel, doneCalls: () => doneCalls };
}

/** Makes the next channel on `connection` report its kill as confirmed by the server. */
function confirmKills(connection: FakeConnection): void {
  const open = connection.openChannel.bind(connection);
  connection.openChannel = async (spec, cancel): Promise<RunningChannel> => ({ ...(await open(spec, cancel)), killConfirmed: () => true });
}

describe('channel session', () => {
  describe('a command on a slot of its own', () => {
    it('runs on an acquired slot, resolves with the channel\'s outcome, and releases the slot when the server frees the channel', async () => {
      const { run, channel, source, entries, doneCalls } = setup();
      const outcome = run();
      await settle();
      expect(source.acquires).toEqual([{ front: false, at: 0 }]);
      expect(entries[0]!.slotsInUse).toBe(1);
      channel().finish(0);
      await settle();
      expect(outcome.value?.channel).toMatchObject({ exitCode: 0, ending: 'closed' });
      expect(outcome.value?.slot.entry).toBe(entries[0]);
      expect(entries[0]!.slotsInUse).toBe(0);
      expect(doneCalls()).toBe(1);
    });

    it('reports the channel open with how long the server took and the command\'s trace parent', async () => {
      const { run, source, connection } = setup();
      run('the-parent');
      await settle();
      expect(source.events.of('channel-opened')).toMatchObject([{ connection: connection(), parent: 'the-parent', openMs: 0 }]);
    });

    it('after a refusal lowers the connection\'s limit, pauses, then retries at the front of the queue', async () => {
      const { run, source, connection, clock, entries, channel } = setup(1, 4);
      connection().refuse = 1;
      const outcome = run();
      await settle();
      expect(source.events.of('channel-refused')).toHaveLength(1);
      expect(entries[0]!.channelLimit).toBe(1);
      expect(entries[0]!.slotsInUse).toBe(0);
      expect(source.acquires).toHaveLength(1);
      await clock.advance(9);
      expect(source.acquires).toHaveLength(1);
      await clock.advance(1);
      expect(source.acquires).toEqual([{ front: false, at: 0 }, { front: true, at: 10 }]);
      channel().finish(0);
      await settle();
      expect(outcome.value?.channel.ending).toBe('closed');
    });

    it('pauses longer after each refusal in a row, up to half a second', async () => {
      const { run, source, connection, clock } = setup();
      connection().refuse = MAX_CHANNEL_ATTEMPTS;
      run();
      await clock.advance(10_000);
      const at = source.acquires.map((acquire) => acquire.at);
      const pauses = at.slice(1).map((time, i) => time - at[i]!);
      expect(pauses).toEqual([10, 20, 40, 80, 160, 320, 500, 500, 500]);
    });

    it(`fails with ChannelRefusedError after ${MAX_CHANNEL_ATTEMPTS} refusals in a row, naming the last refusal as cause`, async () => {
      const { run, source, connection, clock, entries, doneCalls } = setup();
      connection().refuse = 1_000;
      const outcome = run();
      await clock.advance(10_000);
      expect(outcome.error).toBeInstanceOf(ChannelRefusedError);
      expect((outcome.error as ChannelRefusedError).code).toBe(ERROR_CODES.channelRefused);
      expect(outcome.error?.message).toBe(`The server u@fake:22 refused a session channel ${MAX_CHANNEL_ATTEMPTS} times in a row`);
      expect(outcome.error?.cause).toBeInstanceOf(ChannelOpenRefusal);
      expect(source.acquires).toHaveLength(MAX_CHANNEL_ATTEMPTS);
      expect(entries[0]!.slotsInUse).toBe(0);
      expect(doneCalls()).toBe(1);
    });

    it("regression: ChannelRefusedError's cause could be another command's failed open — it is the command's own refusal", async () => {
      const { session, source, connection, clock, entries } = setup(2);
      connection(0).refuse = 1_000;
      source.acquire = (_request, front) => {
        source.acquires.push({ front, at: clock.now() });
        return Promise.resolve(slotOf(entries[0]!, clock));
      };
      const refusedCommand = session.run(SPEC, { priority: 0, cancel: new AbortController().signal }, () => {});
      const settled = refusedCommand.catch((error: Error) => error);
      // After its tenth refusal, during its last pause (2,130 to 2,630 ms), a lease on the other
      // connection loses it under its own open.
      await clock.advance(2_300);
      expect(source.acquires).toHaveLength(MAX_CHANNEL_ATTEMPTS);
      connection(1).dropOnOpen = 1;
      void session.runOnSlot(slotOf(entries[1]!, clock), SPEC, new AbortController().signal, undefined, () => {});
      await clock.advance(10_000);
      const error = (await settled) as Error;
      expect(error).toBeInstanceOf(ChannelRefusedError);
      expect(error.cause).toBeInstanceOf(ChannelOpenRefusal);
    });

    it('retries at once on another connection when its connection closes under the open', async () => {
      const { run, source, connection, channel, doneCalls } = setup(2);
      connection(0).dropOnOpen = 1;
      const outcome = run();
      await settle();
      expect(source.acquires.map((acquire) => acquire.front)).toEqual([false, true]);
      expect(source.acquires[1]!.at).toBe(0);
      channel(1).finish(0);
      await settle();
      expect(outcome.value?.channel.ending).toBe('closed');
      expect(doneCalls()).toBe(1);
    });

    it('ends as connection-lost, not an error, when a second connection closes in answer to it', async () => {
      const { run, source, connection, doneCalls, entries } = setup(3);
      connection(0).dropOnOpen = 1;
      connection(1).dropOnOpen = 1;
      const outcome = run();
      await settle();
      expect(outcome.error).toBeUndefined();
      expect(outcome.value?.channel).toMatchObject({ ending: 'connection-lost', exitCode: null });
      expect(source.acquires).toHaveLength(2);
      expect(connection(2).usable).toBe(true);
      expect(entries[2]!.slotsInUse).toBe(0);
      expect(doneCalls()).toBe(1);
    });

    it('calls done once when the slot could not be acquired', async () => {
      const controller = new AbortController();
      let doneCalls = 0;
      const failing = new ChannelSession({
        name: 'u@fake:22', clock: new FakeClock(), events: new RecordedEvents(),
        acquire: () => Promise.reject(new Error('acquire timed out')), releaseSlot: () => {}, retire: () => {}, channelRequested: () => {},
      });
      await expect(failing.run(SPEC, { priority: 0, cancel: controller.signal }, () => void doneCalls++)).rejects.toThrow('acquire timed out');
      expect(doneCalls).toBe(1);
    });
  });

  describe('a cancelled command', () => {
    it('frees its slot and is over once its killed channel closes, without retiring the connection', async () => {
      const { run, controller, source, entries, doneCalls } = setup();
      const outcome = run();
      await settle();
      controller.abort('aborted');
      await settle();
      expect(outcome.value?.channel.ending).toBe('aborted');
      expect(entries[0]!.slotsInUse).toBe(0);
      expect(source.retired).toEqual([]);
      expect(doneCalls()).toBe(1);
    });

    it(`retires the connection ${STUCK_CHANNEL_MS} ms after the kill when the channel never closes, and gives the slot back`, async () => {
      const { run, controller, source, entries, clock, layer, doneCalls } = setup();
      layer.unkillable = true;
      const outcome = run();
      await settle();
      controller.abort('aborted');
      await settle();
      // The caller has its answer; the pool still counts the command until its channel is dealt with.
      expect(outcome.value?.channel.ending).toBe('aborted');
      expect(doneCalls()).toBe(0);
      await clock.advance(STUCK_CHANNEL_MS - 1);
      expect(source.retired).toEqual([]);
      expect(entries[0]!.slotsInUse).toBe(1);
      await clock.advance(1);
      expect(source.retired).toEqual([entries[0]]);
      expect(entries[0]!.slotsInUse).toBe(0);
      expect(doneCalls()).toBe(1);
    });

    it('counts the grace period from the kill, not from the cancel', async () => {
      const { session, controller, source, entries, clock } = setup();
      const killSent = deferred();
      const never = new Promise<void>(() => {});
      (entries[0]!.connection as FakeConnection).openChannel = () => Promise.resolve({
        outcome: new Promise<ChannelOutcome>((resolve) => controller.signal.addEventListener('abort', () => resolve({
          stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: null, signal: null, ending: 'aborted',
        }))),
        freed: never,
        killSent: killSent.promise,
      });
      void session.run(SPEC, { priority: 0, cancel: controller.signal }, () => {});
      await settle();
      controller.abort('aborted');
      await clock.advance(1_000);
      killSent.resolve();
      await clock.advance(STUCK_CHANNEL_MS - 1);
      expect(source.retired).toEqual([]);
      await clock.advance(1);
      expect(source.retired).toEqual([entries[0]]);
    });

    it(`waits ${KILL_WAIT_MS} ms for a kill that is never sent before retiring the connection`, async () => {
      const { session, controller, source, entries, clock } = setup();
      (entries[0]!.connection as FakeConnection).openChannel = () => Promise.resolve({
        outcome: new Promise<ChannelOutcome>(() => {}),
        freed: new Promise<void>(() => {}),
        killSent: new Promise<void>(() => {}),
      });
      void session.run(SPEC, { priority: 0, cancel: controller.signal }, () => {});
      await settle();
      controller.abort('aborted');
      await clock.advance(KILL_WAIT_MS - 1);
      expect(source.retired).toEqual([]);
      await clock.advance(1);
      expect(source.retired).toEqual([entries[0]]);
    });

    it(`gives a channel whose kill the server confirmed ${KILL_WAIT_MS} ms more before retiring its connection`, async () => {
      const { run, controller, source, entries, clock, layer, connection, doneCalls } = setup();
      layer.unkillable = true;
      confirmKills(connection());
      run();
      await settle();
      controller.abort('aborted');
      await clock.advance(STUCK_CHANNEL_MS + KILL_WAIT_MS - 1);
      expect(source.retired).toEqual([]);
      expect(doneCalls()).toBe(0);
      await clock.advance(1);
      expect(source.retired).toEqual([entries[0]]);
      expect(doneCalls()).toBe(1);
    });

    it('retires nothing when the confirmed kill closes the channel within the longer grace', async () => {
      const { run, controller, source, entries, clock, layer, connection, channel, doneCalls } = setup();
      layer.unkillable = true;
      confirmKills(connection());
      run();
      await settle();
      const stuck = channel();
      controller.abort('aborted');
      await clock.advance(STUCK_CHANNEL_MS + 100);
      stuck.free();
      await clock.advance(KILL_WAIT_MS);
      expect(source.retired).toEqual([]);
      expect(entries[0]!.slotsInUse).toBe(0);
      expect(doneCalls()).toBe(1);
    });

    it('is over exactly once when a retired connection\'s channel frees after all', async () => {
      const { run, controller, source, entries, clock, layer, channel, doneCalls } = setup();
      layer.unkillable = true;
      run();
      await settle();
      const stuck = channel();
      controller.abort('aborted');
      await clock.advance(STUCK_CHANNEL_MS);
      expect(source.retired).toHaveLength(1);
      stuck.free();
      await settle();
      expect(doneCalls()).toBe(1);
      expect(entries[0]!.slotsInUse).toBe(0);
      expect(source.released.size).toBe(1);
    });

    it('follows a channel whose open was cancelled before the server answered, and frees its slot when that channel closes', async () => {
      const { session, controller, entries, clock, source } = setup();
      const lateChannelClosed = deferred();
      (entries[0]!.connection as FakeConnection).openChannel = () => Promise.reject(new ChannelOpenCancelled(lateChannelClosed.promise));
      let doneCalls = 0;
      controller.abort('timeout');
      const outcome = await session.run(SPEC, { priority: 0, cancel: controller.signal }, () => void doneCalls++);
      expect(outcome.channel).toMatchObject({ ending: 'timeout', exitCode: null });
      expect(entries[0]!.slotsInUse).toBe(1);
      expect(doneCalls).toBe(0);
      lateChannelClosed.resolve();
      await clock.advance(1);
      expect(entries[0]!.slotsInUse).toBe(0);
      expect(doneCalls).toBe(1);
      expect(source.retired).toEqual([]);
    });
  });

  describe('a lease\'s command on the lease\'s slot', () => {
    it('runs on the slot it is given and leaves the slot held when the channel frees', async () => {
      const { runOnSlot, entries, clock, channel, source, doneCalls } = setup();
      const slot = slotOf(entries[0]!, clock);
      const outcome = runOnSlot(slot);
      await settle();
      channel().finish(3);
      await settle();
      expect(outcome.value).toMatchObject({ exitCode: 3, ending: 'closed' });
      expect(source.acquires).toEqual([]);
      expect(source.releaseCalls).toBe(0);
      expect(entries[0]!.slotsInUse).toBe(1);
      expect(doneCalls()).toBe(1);
    });

    it('retries a refusal on the same slot after the pause, acquiring nothing', async () => {
      const { runOnSlot, entries, clock, connection, channel, source } = setup();
      connection().refuse = 2;
      const outcome = runOnSlot(slotOf(entries[0]!, clock));
      await clock.advance(29);
      expect(connection().channels.size).toBe(0);
      await clock.advance(1);
      channel().finish(0);
      await settle();
      expect(outcome.value?.ending).toBe('closed');
      expect(source.acquires).toEqual([]);
      expect(source.events.of('channel-refused')).toHaveLength(2);
    });

    it(`fails with ChannelRefusedError after ${MAX_CHANNEL_ATTEMPTS} refusals on its slot`, async () => {
      const { runOnSlot, entries, clock, connection, doneCalls } = setup();
      connection().refuse = 1_000;
      const outcome = runOnSlot(slotOf(entries[0]!, clock));
      await clock.advance(10_000);
      expect(outcome.error).toBeInstanceOf(ChannelRefusedError);
      expect(doneCalls()).toBe(1);
    });

    it('ends as connection-lost at once when the slot\'s connection is gone', async () => {
      const { runOnSlot, entries, clock, connection, doneCalls } = setup();
      const slot = slotOf(entries[0]!, clock);
      connection().drop();
      const outcome = runOnSlot(slot);
      await settle();
      expect(outcome.value?.ending).toBe('connection-lost');
      expect(doneCalls()).toBe(1);
    });

    it('ends as connection-lost when the connection closes under the open', async () => {
      const { runOnSlot, entries, clock, connection, doneCalls } = setup();
      connection().dropOnOpen = 1;
      const outcome = runOnSlot(slotOf(entries[0]!, clock));
      await settle();
      expect(outcome.value?.ending).toBe('connection-lost');
      expect(doneCalls()).toBe(1);
    });

    it('retires the connection of a cancelled channel that never closes, but leaves the slot to the lease', async () => {
      const { runOnSlot, entries, clock, controller, layer, source, doneCalls } = setup();
      layer.unkillable = true;
      runOnSlot(slotOf(entries[0]!, clock));
      await settle();
      controller.abort('aborted');
      await clock.advance(STUCK_CHANNEL_MS);
      expect(source.retired).toEqual([entries[0]]);
      expect(source.releaseCalls).toBe(0);
      expect(doneCalls()).toBe(1);
    });
  });
});
