// TunnelChannels over fake connections: which connection carries a tunnelled connection, that it
// takes no session slot, how it ends (either side, refusal, the connection's death) and what it
// reports. Real streams (duplexPair) stand for the local socket and the SSH channel.
import { duplexPair } from 'node:stream';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PoolClosedError, TunnelRefusedError } from '../../../src/core/errors.js';
import { HostPoolEventStream } from '../../../src/pool/host-pool-events.js';
import type { HostPoolEvent } from '../../../src/pool/host-pool-events.js';
import { OpenConnections } from '../../../src/pool/open-connections.js';
import { PoolEntry } from '../../../src/pool/pool-entry.js';
import type { Slot } from '../../../src/pool/slot.js';
import { TunnelChannels } from '../../../src/pool/tunnel-channels.js';
import { ChannelOpenRefusal, ConnectionUnusable, OPEN_FAILURE_PROHIBITED } from '../../../src/ssh/connection.js';
import type { CloseListener, CloseReason, PoolConnection, RemoteListener, RunningChannel } from '../../../src/ssh/connection.js';
import { FakeClock } from '../../support/fake-clock.js';
import { FakeHold } from '../../support/fake-connections.js';
import { until } from '../../support/until.js';

let nextId = 1;

/** A connection whose server side of each tunnel is kept in `remotes`. */
class TunnelConnection implements PoolConnection {
  readonly id = nextId++;
  readonly peerAddress = '127.0.0.1';
  readonly connectDurationMs = 1;
  readonly remotes: Duplex[] = [];
  readonly asked: string[] = [];
  /** What the next opens answer instead of a channel. */
  failures: Error[] = [];
  /** Server-side listeners: port → where the server's connections go; and ports asked to stop. */
  readonly listening = new Map<number, (channel: Duplex) => void>();
  readonly unbound: number[] = [];
  #closed = false;
  readonly #listeners = new Set<CloseListener>();

  get usable(): boolean {
    return !this.#closed;
  }
  get closed(): boolean {
    return this.#closed;
  }
  openChannel(): Promise<RunningChannel> {
    return Promise.reject(new Error('no sessions here'));
  }
  async openTunnel(host: string, port: number): Promise<Duplex> {
    this.asked.push(`${host}:${port}`);
    const failure = this.failures.shift();
    if (failure) throw failure;
    const [local, remote] = duplexPair();
    this.remotes.push(remote);
    return local;
  }
  async listenRemote(_host: string, port: number, onConnection: (channel: Duplex) => void): Promise<RemoteListener> {
    const bound = port === 0 ? 40_000 + this.id : port;
    this.listening.set(bound, onConnection);
    return { port: bound, close: () => void this.unbound.push(bound) };
  }
  /** The server accepted a connection on `port`: returns the server's end of its channel. */
  accept(port: number): Duplex {
    const [local, remote] = duplexPair();
    this.listening.get(port)!(local);
    return remote;
  }
  onClose(listener: CloseListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  close(reason: CloseReason): void {
    this.destroy(reason);
  }
  destroy(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of [...this.#listeners]) listener(reason, undefined);
  }
}

function setup(open = 1) {
  const clock = new FakeClock();
  const events = new HostPoolEventStream();
  const seen: HostPoolEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const connections = new OpenConnections();
  const entries = Array.from({ length: open }, () => new PoolEntry(new TunnelConnection(), 2, 0));
  for (const entry of entries) connections.add(entry);
  const acquired: Slot[] = [];
  const hold = new FakeHold();
  const released: Slot[] = [];
  let acquire = (): Promise<Slot> => Promise.reject(new PoolClosedError('no connection can be opened'));
  const tunnels = new TunnelChannels({
    name: 'u@h:22', clock, events, connections,
    acquire: () => acquire(),
    releaseSlot: (slot) => {
      released.push(slot);
      slot.entry.release(clock.now());
    },
    tunnelEnded: () => {},
    backoff: { initialDelay: 10, maxDelay: 100, backoff: 'exponential', jitter: false },
    hold,
  });
  const opener = (entry: PoolEntry): void => {
    acquire = () => {
      connections.add(entry);
      entry.lend();
      const slot: Slot = { entry, connection: entry.connection, outcome: 'created', waitMs: 0, grantedAt: 0 };
      acquired.push(slot);
      return Promise.resolve(slot);
    };
  };
  return { tunnels, entries, connections, seen, acquired, released, opener, hold, clock };
}

const conn = (entry: PoolEntry): TunnelConnection => entry.connection as TunnelConnection;

/** A local socket stand-in: `app` is what the local client holds. */
function localSocket(): { socket: Duplex; app: Duplex } {
  const [socket, app] = duplexPair();
  return { socket, app };
}

function readAll(stream: Duplex): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    stream.on('end', () => resolve(text));
  });
}

describe('TunnelChannels', () => {
  it('carries bytes both ways on a connection without taking one of its session slots, and reports them when it ends', async () => {
    const { tunnels, entries, seen } = setup();
    const entry = entries[0]!;
    const { socket, app } = localSocket();
    const carried = tunnels.carry(socket, { host: 'db', port: 5432 }, 'local');
    await until(() => conn(entry).remotes.length === 1);
    expect(conn(entry).asked).toEqual(['db:5432']);
    expect(entry).toMatchObject({ tunnels: 1, busy: true, freeSlots: 2, openChannels: 0 });
    expect(tunnels.counts()).toEqual({ local: 1, remote: 0, socks: 0 });
    const remote = conn(entry).remotes[0]!;
    const atRemote = readAll(remote);
    const atApp = readAll(app);
    app.end('query');
    remote.end('answer!');
    expect(await atRemote).toBe('query');
    expect(await atApp).toBe('answer!');
    expect(await carried).toEqual({ lost: false });
    expect(entry).toMatchObject({ tunnels: 0, busy: false });
    expect(tunnels.counts().local).toBe(0);
    const closed = seen.find((event) => event.type === 'tunnel-closed');
    expect(closed).toMatchObject({ kind: 'local', channelType: 'direct-tcpip', destination: 'db:5432', receivedBytes: 7, transmittedBytes: 5, errorType: undefined });
    const io = seen.filter((event) => event.type === 'channel-io');
    expect(io.map((event) => event.type === 'channel-io' && `${event.direction} ${event.bytes}`).sort()).toEqual(['receive 7', 'transmit 5']);
  });

  it('puts each new tunnelled connection on the least-loaded connection, counting tunnels as load', async () => {
    const { tunnels, entries } = setup(2);
    const sockets = Array.from({ length: 4 }, () => localSocket());
    for (const { socket } of sockets) void tunnels.carry(socket, { host: 'db', port: 1 }, 'local');
    await until(() => entries.every((entry) => conn(entry).remotes.length === 2));
    expect(entries.map((entry) => entry.tunnels)).toEqual([2, 2]);
    for (const { app } of sockets) app.destroy();
  });

  it('opens a connection through an acquire when none is open, and gives the session slot back at once', async () => {
    const { tunnels, connections, acquired, released, opener } = setup(0);
    const entry = new PoolEntry(new TunnelConnection(), 2, 0);
    opener(entry);
    const { socket, app } = localSocket();
    void tunnels.carry(socket, { host: 'db', port: 1 }, 'socks');
    await until(() => conn(entry).remotes.length === 1);
    expect(connections.size).toBe(1);
    expect(acquired).toHaveLength(1);
    expect(released).toEqual(acquired);
    expect(entry).toMatchObject({ tunnels: 1, slotsInUse: 0, busy: true });
    app.destroy();
  });

  it('turns a refusal into TunnelRefusedError naming the setting, closes the local socket and frees the connection', async () => {
    const { tunnels, entries, seen } = setup();
    const entry = entries[0]!;
    conn(entry).failures.push(new ChannelOpenRefusal('(SSH) Channel open failure: open failed', OPEN_FAILURE_PROHIBITED));
    const { socket } = localSocket();
    const error = await tunnels.carry(socket, { host: 'db', port: 5432 }, 'local').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TunnelRefusedError);
    expect(error).toMatchObject({ reason: 'prohibited', destination: 'db:5432', poolName: 'u@h:22' });
    expect((error as Error).message).toMatch(/AllowTcpForwarding and PermitOpen/);
    expect(socket.destroyed).toBe(true);
    expect(entry.tunnels).toBe(0);
    expect(seen.find((event) => event.type === 'tunnel-closed')).toMatchObject({ errorType: 'ERR_SSHPOOL_TUNNEL_REFUSED', connection: undefined });
  });

  it('cuts the local socket at once when its connection dies, and says so', async () => {
    const { tunnels, entries, seen } = setup();
    const entry = entries[0]!;
    const { socket } = localSocket();
    const carried = tunnels.carry(socket, { host: 'db', port: 1 }, 'local');
    await until(() => conn(entry).remotes.length === 1);
    conn(entry).destroy('remote');
    expect(await carried).toEqual({ lost: true });
    expect(socket.destroyed).toBe(true);
    expect(seen.find((event) => event.type === 'tunnel-closed')).toMatchObject({ errorType: 'ERR_SSHPOOL_CONNECTION_LOST' });
  });

  it('closes a connection found unwritable while opening, and carries the tunnelled connection on another', async () => {
    const { tunnels, entries } = setup(2);
    const [dead, alive] = entries;
    conn(dead!).failures.push(new ConnectionUnusable('Not connected'));
    // The first pick is the first connection (both are as loaded).
    const { socket, app } = localSocket();
    void tunnels.carry(socket, { host: 'db', port: 1 }, 'local');
    await until(() => conn(alive!).remotes.length === 1);
    expect(dead!.connection.usable).toBe(false);
    expect(dead!.tunnels).toBe(0);
    app.destroy();
  });

  it('cuts every tunnelled connection and refuses new ones once the pool closes', async () => {
    const { tunnels, entries } = setup();
    const { socket } = localSocket();
    const carried = tunnels.carry(socket, { host: 'db', port: 1 }, 'local');
    await until(() => conn(entries[0]!).remotes.length === 1);
    tunnels.closeAll();
    await carried;
    expect(socket.destroyed).toBe(true);
    await expect(tunnels.carry(localSocket().socket, { host: 'db', port: 1 }, 'local')).rejects.toBeInstanceOf(PoolClosedError);
  });

  describe('remote forwards', () => {
    it('binds on a connection it keeps in use, and carries each server connection to a new local one', async () => {
      const { tunnels, entries, seen, hold } = setup();
      const entry = entries[0]!;
      const locals: Duplex[] = [];
      const binding = await tunnels.forwardRemote({
        listen: { host: '127.0.0.1', port: 0 }, to: { host: '127.0.0.1', port: 3000 },
        connectLocal: () => {
          const [socket, app] = duplexPair();
          locals.push(app);
          return socket;
        },
        onError: () => {},
      });
      expect(binding.port).toBe(40_000 + entry.id);
      expect(entry).toMatchObject({ tunnels: 1, busy: true, slotsInUse: 0 });
      expect(hold.count).toBe(1);
      const server = conn(entry).accept(binding.port);
      await until(() => locals.length === 1 && tunnels.counts().remote === 1);
      const atLocal = readAll(locals[0]!);
      server.end('from the server');
      locals[0]!.end();
      expect(await atLocal).toBe('from the server');
      await until(() => seen.some((event) => event.type === 'tunnel-closed'));
      expect(seen.find((event) => event.type === 'tunnel-closed')).toMatchObject({ kind: 'remote', channelType: 'forwarded-tcpip', destination: '127.0.0.1:3000', receivedBytes: 15 });
      binding.close();
      expect(conn(entry).unbound).toEqual([binding.port]);
      expect(entry.tunnels).toBe(0);
      expect(hold.count).toBe(0);
    });

    it('binds the same port again on a new connection after its connection died', async () => {
      const { tunnels, entries, connections, opener, clock } = setup();
      const first = entries[0]!;
      const binding = await tunnels.forwardRemote({
        listen: { host: '127.0.0.1', port: 0 }, to: { host: '127.0.0.1', port: 3000 }, connectLocal: () => duplexPair()[0], onError: () => {},
      });
      const port = binding.port;
      connections.delete(first);
      const second = new PoolEntry(new TunnelConnection(), 2, 0);
      opener(second);
      conn(first).destroy('remote');
      await until(() => conn(second).listening.has(port), 5_000, 'the binding on the new connection');
      expect(binding.port).toBe(port);
      expect(second.tunnels).toBe(1);
      // The first bind comes at once: backoff only spaces the tries after a failed one.
      expect(clock.now()).toBe(0);
      binding.close();
    });
  });
});
