// SftpChannels: one SFTP channel per connection, opened by the first transfer, shared by later
// ones, counted as one session slot, given back to waiting work when idle, and forgotten when it
// closes; over fake connections whose SFTP channels are event emitters.
import { EventEmitter } from 'node:events';
import type { SFTPWrapper } from 'ssh2';
import { describe, expect, it } from 'vitest';
import type { SessionRequest, SlotSource } from '../../../src/pool/channel-session.js';
import type { PoolEntry } from '../../../src/pool/pool-entry.js';
import { SftpChannels } from '../../../src/pool/sftp-channels.js';
import type { Slot } from '../../../src/pool/slot.js';
import { ChannelOpenRefusal } from '../../../src/ssh/connection.js';
import type { PoolConnection } from '../../../src/ssh/connection.js';
import { SftpSession, SftpSubsystemUnavailable } from '../../../src/ssh/sftp-session.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeConnectionLayer } from '../../support/fake-connections.js';
import { deferred, entryOf, RecordedEvents, slotOf } from '../../support/pool-parts.js';

/** An ssh2 SFTP channel as far as `SftpSession` looks at it: it closes, and `end()` closes it. */
class FakeSftp extends EventEmitter {
  ended = false;
  end(): void {
    this.ended = true;
    queueMicrotask(() => this.emit('close'));
  }
}

/** A frozen server's channel: requests and the close go out, and nothing ever answers. */
class SilentSftp extends FakeSftp {
  readonly requests: string[] = [];
  override end(): void {
    this.ended = true;
  }
  stat(path: string): void {
    this.requests.push(`stat ${path}`);
  }
  unlink(path: string): void {
    this.requests.push(`unlink ${path}`);
  }
}

class FakeSlotSource implements SlotSource {
  readonly name = 'u@fake:22';
  readonly events = new RecordedEvents();
  readonly released: Slot[] = [];
  constructor(readonly clock: FakeClock, readonly entries: PoolEntry[]) {}
  acquire(): Promise<Slot> {
    const entry = this.entries.find((candidate) => candidate.freeSlots > 0);
    return entry ? Promise.resolve(slotOf(entry, this.clock)) : Promise.reject(new Error('no slot in this test'));
  }
  releaseSlot(slot: Slot): void {
    this.released.push(slot);
    slot.entry.release(this.clock.now());
  }
  retire(): void {}
  channelRequested(): void {}
}

function setup(channelLimit = 3) {
  const clock = new FakeClock();
  const entry = entryOf(new FakeConnectionLayer(clock), clock, channelLimit);
  const source = new FakeSlotSource(clock, [entry]);
  const roomMade: PoolEntry[] = [];
  const channels = new SftpChannels(source, (made) => roomMade.push(made));
  const opened: FakeSftp[] = [];
  const answers: Array<() => Promise<SftpSession>> = [];
  (entry.connection as PoolConnection & { openSftp: () => Promise<SftpSession> }).openSftp = () => {
    const answer = answers.shift();
    if (answer) return answer();
    const sftp = new FakeSftp();
    opened.push(sftp);
    return Promise.resolve(new SftpSession(sftp as unknown as SFTPWrapper));
  };
  const request: SessionRequest = { priority: 0, cancel: new AbortController().signal };
  return { clock, entry, source, channels, opened, answers, roomMade, request };
}

describe('SFTP channels', () => {
  it('opens one channel for the first transfer and shares it with later and concurrent ones', async () => {
    const { entry, channels, opened, request } = setup();
    const hold = deferred();
    const first = channels.run(request, () => hold.promise);
    const second = channels.run(request, async () => 'second');
    await settle();
    expect(opened).toHaveLength(1);
    expect(entry.openChannels).toBe(1);
    hold.resolve();
    await Promise.all([first, second]);
    await channels.run(request, async () => 'third');
    expect(opened).toHaveLength(1);
    expect(entry).toMatchObject({ openChannels: 1, busy: false, sftpIdle: true });
  });

  it('a refused open lowers the connection\'s limit, gives the slot back and retries', async () => {
    const { clock, entry, channels, answers, opened, request, source } = setup(5);
    answers.push(() => Promise.reject(new ChannelOpenRefusal('administratively prohibited')));
    const running = channels.run(request, async () => 'done');
    await settle();
    // The pause after a refusal, as for commands.
    await clock.advance(500);
    const value = await running;
    expect(value.value).toBe('done');
    expect(entry.channelLimit).toBe(1);
    expect(opened).toHaveLength(1);
    expect(source.events.of('channel-refused')).toHaveLength(1);
  });

  it('a server without the subsystem fails the transfer, and later ones on that connection without asking again', async () => {
    const { entry, channels, answers, request } = setup();
    let asked = 0;
    answers.push(() => {
      asked++;
      return Promise.reject(new SftpSubsystemUnavailable('Unable to start subsystem: sftp'));
    });
    await expect(channels.run(request, async () => 'never')).rejects.toBeInstanceOf(SftpSubsystemUnavailable);
    await expect(channels.run(request, async () => 'never')).rejects.toBeInstanceOf(SftpSubsystemUnavailable);
    expect(asked).toBe(1);
    expect(entry).toMatchObject({ openChannels: 0, slotsInUse: 0 });
  });

  it('asks for its slot as a transfer that may ride the open channel, and tells the pool when a channel starts to open', async () => {
    const clock = new FakeClock();
    const entry = entryOf(new FakeConnectionLayer(clock), clock, 2);
    const asked: Array<boolean | undefined> = [];
    const source = new FakeSlotSource(clock, [entry]);
    const acquire = source.acquire.bind(source);
    source.acquire = (request?: SessionRequest) => {
      asked.push(request?.ridesSftp);
      return acquire();
    };
    let rideOpened = 0;
    const channels = new SftpChannels(source, () => {}, () => rideOpened++);
    (entry.connection as PoolConnection & { openSftp: () => Promise<SftpSession> }).openSftp = () => Promise.resolve(new SftpSession(new FakeSftp() as unknown as SFTPWrapper));
    await channels.run({ priority: 0, cancel: new AbortController().signal }, async () => undefined);
    expect(asked).toEqual([true]);
    expect(rideOpened).toBe(1);
  });

  it('a ride whose channel closed before the transfer ran opens no channel on it without a slot: it gives the place back and asks again', async () => {
    const { clock, entry, channels, opened, request, source } = setup(1);
    await channels.run(request, async () => undefined);
    const acquire = source.acquire.bind(source);
    let rides = 0;
    source.acquire = async () => {
      if (rides++ > 0) return acquire();
      // Lent as a ride on the open channel (as SlotLending does), which then closes.
      const slot = { ...slotOf(entry, clock), ridesSftp: true };
      entry.joinSftp(false);
      opened[0]!.emit('close');
      await settle();
      return slot;
    };
    const value = await channels.run(request, async () => 'done');
    expect(value.value).toBe('done');
    expect(opened).toHaveLength(2);
    expect(entry).toMatchObject({ slotsInUse: 0, sftpRiders: 0, openChannels: 1 });
  });

  it('a channel that closes by itself frees its session and the next transfer opens a new one', async () => {
    const { entry, channels, opened, request, roomMade } = setup();
    await channels.run(request, async () => undefined);
    opened[0]!.emit('close');
    await settle();
    expect(entry.openChannels).toBe(0);
    expect(roomMade).toEqual([entry]);
    await channels.run(request, async () => undefined);
    expect(opened).toHaveLength(2);
  });

  it('an idle channel on a full connection is closed for waiting work; it counts until the server closed it', async () => {
    const { entry, channels, opened, request, roomMade } = setup(1);
    await channels.run(request, async () => undefined);
    expect(entry.freeSlots).toBe(0);
    channels.yieldIdle([entry]);
    expect(entry).toMatchObject({ openChannels: 1, sftpIdle: false });
    await settle();
    expect(opened[0]!.ended).toBe(true);
    expect(entry).toMatchObject({ openChannels: 0, freeSlots: 1 });
    expect(roomMade).toEqual([entry]);
  });

  it('an idle channel is kept while the connection has room, and a busy one always', async () => {
    const { entry, channels, opened, request } = setup(2);
    await channels.run(request, async () => undefined);
    channels.yieldIdle([entry]);
    const hold = deferred();
    const running = channels.run(request, () => hold.promise);
    await settle();
    entry.lend();
    channels.yieldIdle([entry]);
    await settle();
    expect(opened[0]!.ended).toBe(false);
    hold.resolve();
    await running;
  });

  it('regression: a transfer stopped on a frozen server waited for a channel close that never came; its requests now fail when the channel is ended', async () => {
    const { entry, channels, answers, opened, request } = setup();
    const silent = new SilentSftp();
    answers.push(() => Promise.resolve(new SftpSession(silent as unknown as SFTPWrapper)));
    let session: SftpSession | undefined;
    const stopped = channels.run(request, async (open) => {
      session = open;
      return open.stat('/never/answered');
    });
    await settle();
    expect(silent.requests).toEqual(['stat /never/answered']);
    session!.end();
    await expect(stopped).rejects.toThrow('the SFTP channel was ended');
    await expect(session!.stat('/after/the/end')).rejects.toThrow('the SFTP channel is closed');
    expect(silent.requests).toHaveLength(1);
    // The next transfer opens a new channel; the ended one holds its session until the server closes it.
    await channels.run(request, async () => undefined);
    expect(opened).toHaveLength(1);
    expect(entry).toMatchObject({ openChannels: 2, sftpIdle: true });
    silent.emit('close');
    await settle();
    expect(entry.openChannels).toBe(1);
  });

  it('a file a lost channel left behind is removed by the host\'s next transfer, ahead of its own requests', async () => {
    const { channels, answers, request } = setup();
    const silent = new SilentSftp();
    answers.push(() => Promise.resolve(new SftpSession(silent as unknown as SFTPWrapper)));
    channels.removeLater('/home/u/.report.0a1b2c.sshpool-tmp');
    const running = channels.run(request, async (session) => {
      void session.stat('/home/u/report').catch(() => {});
    });
    await running;
    expect(silent.requests).toEqual(['unlink /home/u/.report.0a1b2c.sshpool-tmp', 'stat /home/u/report']);
  });

  it('a transfer given up while its channel opens rejects at once; the channel still counts once open', async () => {
    const { entry, channels, answers } = setup();
    const open = deferred<SftpSession>();
    answers.push(() => open.promise);
    const controller = new AbortController();
    const transfer = channels.run({ priority: 0, cancel: controller.signal }, async () => 'never');
    await settle();
    controller.abort('aborted');
    await expect(transfer).rejects.toMatchObject({ reason: 'aborted' });
    expect(entry).toMatchObject({ slotsInUse: 0, openChannels: 1 });
    open.resolve(new SftpSession(new FakeSftp() as unknown as SFTPWrapper));
    await settle();
    expect(entry).toMatchObject({ openChannels: 1, sftpIdle: true });
  });
});
