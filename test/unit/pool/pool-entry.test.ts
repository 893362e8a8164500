// PoolEntry: the pool's bookkeeping for one open connection.
import { describe, expect, it } from 'vitest';
import { PoolEntry } from '../../../src/pool/pool-entry.js';
import { FakeClock } from '../../support/fake-clock.js';
import { FakeConnection, FakeConnectionLayer } from '../../support/fake-connections.js';

function entry(channelLimit = 3, openedAt = 0): { entry: PoolEntry; connection: FakeConnection } {
  const connection = new FakeConnection(new FakeConnectionLayer(new FakeClock()));
  return { entry: new PoolEntry(connection, channelLimit, openedAt), connection };
}

describe('pool entry', () => {
  it('is idle from its open, and reports only its first lend as the first', () => {
    const { entry: e } = entry(3, 100);
    expect(e.idleSince).toBe(100);
    expect(e.busy).toBe(false);
    expect(e.lend()).toBe(true);
    expect(e.lend()).toBe(false);
    e.release(200);
    e.release(200);
    expect(e.lend()).toBe(false);
  });

  it('is busy while any slot is lent, and idle from the release of the last one', () => {
    const { entry: e } = entry();
    e.lend();
    e.lend();
    expect(e.idleSince).toBeUndefined();
    expect(e.slotsInUse).toBe(2);
    e.release(50);
    expect(e.busy).toBe(true);
    expect(e.idleSince).toBeUndefined();
    e.release(80);
    expect(e.busy).toBe(false);
    expect(e.idleSince).toBe(80);
  });

  it('never counts a slot below zero when a release comes twice', () => {
    const { entry: e } = entry();
    e.lend();
    e.release(10);
    e.release(20);
    expect(e.slotsInUse).toBe(0);
    expect(e.idleSince).toBe(20);
    expect(e.freeSlots).toBe(3);
  });

  it('counts probes as open channels that take room, but not as use: idleSince stays', () => {
    const { entry: e } = entry(2, 5);
    e.startProbe();
    expect(e.probing).toBe(true);
    expect(e.openChannels).toBe(1);
    expect(e.freeSlots).toBe(1);
    expect(e.busy).toBe(false);
    expect(e.idleSince).toBe(5);
    e.endProbe();
    expect(e.probing).toBe(false);
    expect(e.freeSlots).toBe(2);
  });

  it('lends nothing once retiring or once its connection is no longer usable', () => {
    const retiring = entry().entry;
    retiring.retire();
    expect(retiring.lendable).toBe(false);
    expect(retiring.freeSlots).toBe(0);
    const { entry: dropped, connection } = entry();
    connection.drop();
    expect(dropped.lendable).toBe(false);
    expect(dropped.freeSlots).toBe(0);
  });

  it('lowers its limit on a refusal to the channels established, counting neither the refused one nor opens unanswered', () => {
    const { entry: e } = entry(10);
    for (let i = 0; i < 4; i++) e.lend();
    // Two channels are established, one open awaits its answer, one was just refused.
    e.openingStarted();
    e.openingStarted();
    e.openingEnded();
    e.noteRefusal();
    expect(e.channelLimit).toBe(2);
  });

  it('keeps a limit of at least one, and a refusal never raises the limit', () => {
    const { entry: e } = entry(4);
    e.lend();
    e.noteRefusal();
    expect(e.channelLimit).toBe(1);
    for (let i = 0; i < 3; i++) e.lend();
    e.noteRefusal();
    expect(e.channelLimit).toBe(1);
  });

  it('has expired once maxLifetime has passed since its open, and never with maxLifetime 0', () => {
    const { entry: e } = entry(1, 1_000);
    expect(e.expired(1_999, 1_000)).toBe(false);
    expect(e.expired(2_000, 1_000)).toBe(true);
    expect(e.expired(1_000_000, 0)).toBe(false);
  });

  it('records how long it sat idle when closed for idleness, and closes with that reason', () => {
    const { entry: e, connection } = entry(2, 0);
    e.lend();
    e.release(300);
    e.closeIdle('idle', 1_300);
    expect(e.idleWhenClosed).toBe(1_000);
    expect(connection.closeReason).toBe('idle');
  });

  it('records no idle time for a close for expiry', () => {
    const { entry: e, connection } = entry(2, 0);
    e.closeIdle('expired', 5_000);
    expect(e.idleWhenClosed).toBeUndefined();
    expect(connection.closeReason).toBe('expired');
  });
});

describe('pool entry: the SFTP channel', () => {
  it('counts the SFTP channel as one channel, however many transfers ride it', () => {
    const { entry: e } = entry(2);
    e.lend();
    e.joinSftp(true);
    e.lend();
    e.joinSftp(false);
    e.lend();
    e.joinSftp(false);
    expect(e.openChannels).toBe(1);
    expect(e.freeSlots).toBe(1);
    expect(e.busy).toBe(true);
  });

  it('keeps counting an SFTP channel no transfer uses, without making the connection busy or keeping it from closing', () => {
    const { entry: e } = entry(2);
    e.lend();
    e.joinSftp(true);
    e.leaveSftp();
    e.release(10);
    expect(e).toMatchObject({ openChannels: 1, freeSlots: 1, busy: false, idleSince: 10, sftpIdle: true, workingChannels: 0 });
  });

  it('learns the limit from a refusal with the SFTP channel among the established channels', () => {
    const { entry: e } = entry(10);
    e.lend();
    e.joinSftp(true);
    e.lend();
    // The refused open is answered, so no longer opening: it is the one not counted.
    e.lend();
    e.noteRefusal();
    // Established: the SFTP channel and one command.
    expect(e.channelLimit).toBe(2);
  });

  it('an SFTP channel given up for waiting work still takes a session until the server closed it', () => {
    const { entry: e } = entry(1);
    e.lend();
    e.joinSftp(true);
    e.leaveSftp();
    e.release(0);
    e.sftpYielded();
    expect(e).toMatchObject({ openChannels: 1, freeSlots: 0, sftpIdle: false, workingChannels: 0 });
    e.sftpYieldEnded();
    expect(e).toMatchObject({ openChannels: 0, freeSlots: 1 });
  });

  it('an SFTP channel that closed frees its session', () => {
    const { entry: e } = entry(2);
    e.lend();
    e.joinSftp(true);
    e.leaveSftp();
    e.release(0);
    e.sftpClosed();
    expect(e).toMatchObject({ openChannels: 0, freeSlots: 2, sftpIdle: false });
  });
});
