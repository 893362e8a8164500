import type { Duplex } from 'node:stream';
import { AcquireCancelled } from '../command/error-mapping.js';
import type { BackoffPolicy } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';
import type { ProcessHold } from '../core/process-hold.js';
import { ERROR_CODES, PoolClosedError, SSHPoolError, TunnelRefusedError } from '../core/errors.js';
import { ChannelOpenRefusal, ConnectionUnusable, OPEN_FAILURE_CONNECT_FAILED, OPEN_FAILURE_PROHIBITED } from '../ssh/connection.js';
import type { PoolConnection } from '../ssh/connection.js';
import type { ChannelType, HostPoolEventStream, TunnelKind } from './host-pool-events.js';
import type { AcquireRequest } from './pending-acquires.js';
import type { OpenConnections } from './open-connections.js';
import type { PoolEntry } from './pool-entry.js';
import type { Slot } from './slot.js';
import { RemoteForward } from './remote-forward.js';
import type { RemoteForwardSpec } from './remote-forward.js';

/** Where a tunnelled connection goes, as the server sees it: a TCP address or a UNIX socket path. */
export type TunnelDestination = { readonly host: string; readonly port: number } | { readonly path: string };

/** How a tunnelled connection ended once it had its channel. */
export interface TunnelEnd {
  /** The SSH connection carrying it died: the local socket was cut, not closed by either end. */
  readonly lost: boolean;
}

/** A live remote forward: the port the server listens on (it follows a rebind), and its end. */
export interface RemoteBinding {
  readonly port: number;
  close(): void;
}

/** Lets a protocol spoken before the tunnel (SOCKS) answer its client once the channel's fate is known. */
export interface CarryHooks {
  /** The channel is open; called before any byte is piped. */
  opened?(): void;
  /** No channel: the hook closes the socket itself (after a reply), instead of it being destroyed. */
  failed?(error: Error): void;
}

/** Tries of a channel open whose connection went away before the server answered. */
const MAX_OPEN_ATTEMPTS = 3;

/** What the tunnel path needs from the host pool whose connections carry it. */
export interface TunnelSource {
  readonly name: string;
  readonly clock: Clock;
  readonly events: HostPoolEventStream;
  readonly connections: Pick<OpenConnections, 'pickForTunnel'>;
  /** A slot, for when no connection is open: the one path that opens (and caps, and backs off) connections. */
  acquire(request: AcquireRequest, front: boolean): Promise<Slot>;
  releaseSlot(slot: Slot): void;
  /** A tunnelled connection left `entry`: it may be idle, or due to close, now. */
  tunnelEnded(entry: PoolEntry): void;
  /** How remote forwards space their binds after their connection died. */
  readonly backoff: BackoffPolicy;
  /** Held by each remote forward until it closes. */
  readonly hold: ProcessHold;
}

/**
 * Tunnelled TCP (or UNIX socket) connections over a host pool's connections: each one is a
 * `direct-tcpip` (or `direct-streamlocal@openssh.com`) channel on the least-loaded open
 * connection, piped to the local socket with backpressure both ways (Node's `pipe` pauses a
 * side whose reader is full; ssh2 stops granting the SSH window while the channel is paused).
 * These channels are not sessions: OpenSSH's `MaxSessions` does not count them, so they take no
 * session slot; they only keep their connection in use. With no connection open, one is opened
 * through the pool's acquire path (cap, `acquireTimeout`, retries, jump hosts).
 * Invariant: every carried socket is destroyed when its connection closes, so none hangs.
 */
export class TunnelChannels {
  readonly #source: TunnelSource;
  readonly #sockets = new Set<Duplex>();
  readonly #counts: Record<TunnelKind, number> = { local: 0, remote: 0, socks: 0 };
  readonly #forwards = new Set<RemoteForward>();
  #closed = false;

  constructor(source: TunnelSource) {
    this.#source = source;
  }

  /** Tunnelled connections open now, by kind. */
  counts(): Readonly<Record<TunnelKind, number>> {
    return { ...this.#counts };
  }

  /**
   * Carries `socket` to `destination` until either side closes it. Rejects (with the socket
   * destroyed) when no channel could be opened: `TunnelRefusedError` when the server refused
   * it, the pool's own error (`AcquireTimeoutError`, `ConnectError`, `PoolClosedError`) when no
   * connection could be had; resolves silently when the socket closed first.
   */
  async carry(socket: Duplex, destination: TunnelDestination, kind: TunnelKind, hooks: CarryHooks = {}): Promise<TunnelEnd | undefined> {
    const { clock } = this.#source;
    const startedAt = clock.now();
    const startedAtEpoch = clock.epochNow();
    const channelType: ChannelType = 'path' in destination ? 'direct-streamlocal@openssh.com' : 'direct-tcpip';
    const label = describeDestination(destination);
    const report = (connection: PoolConnection | undefined, received: number, transmitted: number, errorType: string | undefined): void => {
      this.#source.events.emit({
        type: 'tunnel-closed', kind, channelType, connection, destination: label, startedAtEpoch,
        durationMs: clock.now() - startedAt, receivedBytes: received, transmittedBytes: transmitted, errorType,
      });
    };
    // A client that left before it could be carried (a SOCKS client right after its request).
    if (socket.destroyed) return undefined;
    // The local side may leave while a connection is being opened for it.
    const gone = new AbortController();
    const onGone = (): void => gone.abort('aborted');
    socket.once('close', onGone);
    this.#sockets.add(socket);
    let opened: { entry: PoolEntry; channel: Duplex } | undefined;
    try {
      opened = await this.#open(destination, gone.signal);
    } catch (error) {
      this.#sockets.delete(socket);
      if (error instanceof AcquireCancelled) {
        socket.destroy();
        return undefined;
      }
      const failure = error instanceof SSHPoolError ? error : new TunnelRefusedError(String((error as Error)?.message ?? error), this.#source.name, label, 'other', { cause: error });
      if (hooks.failed) hooks.failed(failure);
      else socket.destroy();
      report(undefined, 0, 0, failure.code);
      throw failure;
    } finally {
      socket.off('close', onGone);
    }
    if (gone.signal.aborted || this.#closed) {
      opened.channel.on('error', () => {});
      opened.channel.destroy();
      this.#sockets.delete(socket);
      socket.destroy();
      this.#release(opened.entry);
      report(opened.entry.connection, 0, 0, undefined);
      return undefined;
    }
    hooks.opened?.();
    return this.#pipe(socket, opened.entry, opened.channel, kind, channelType, report);
  }

  /** Cuts every tunnelled connection, and refuses new ones (the pool is closing). */
  closeAll(): void {
    this.#closed = true;
    for (const forward of [...this.#forwards]) forward.close();
    for (const socket of [...this.#sockets]) socket.destroy();
  }

  /** Starts a remote forward (see `RemoteForward`); resolves once the server listens. */
  async forwardRemote(spec: RemoteForwardSpec): Promise<RemoteBinding> {
    if (this.#closed) throw new PoolClosedError(`The pool for ${this.#source.name} is closed`);
    const { name, clock, backoff, hold } = this.#source;
    const forward: RemoteForward = new RemoteForward({
      name, clock, backoff, hold,
      holdConnection: (cancel) => this.#entry(cancel),
      releaseConnection: (entry) => this.#release(entry),
      carryForwarded: (channel, entry, socket, destination, fromSocket) => void this.#carryForwarded(channel, entry, socket, destination, fromSocket),
    }, { ...spec, onError: spec.onError });
    this.#forwards.add(forward);
    try {
      await forward.start();
    } catch (error) {
      this.#forwards.delete(forward);
      throw error;
    }
    return {
      get port() {
        return forward.port;
      },
      close: () => {
        forward.close();
        this.#forwards.delete(forward);
      },
    };
  }

  #carryForwarded(channel: Duplex, entry: PoolEntry, socket: Duplex, destination: string, fromSocket: boolean): Promise<TunnelEnd> {
    const { clock, events } = this.#source;
    const channelType: ChannelType = fromSocket ? 'forwarded-streamlocal@openssh.com' : 'forwarded-tcpip';
    const startedAt = clock.now();
    const startedAtEpoch = clock.epochNow();
    entry.carryTunnel();
    this.#sockets.add(socket);
    return this.#pipe(socket, entry, channel, 'remote', channelType, (connection, received, transmitted, errorType) => {
      events.emit({
        type: 'tunnel-closed', kind: 'remote', channelType, connection, destination, startedAtEpoch,
        durationMs: clock.now() - startedAt, receivedBytes: received, transmittedBytes: transmitted, errorType,
      });
    });
  }

  async #open(destination: TunnelDestination, cancel: AbortSignal): Promise<{ entry: PoolEntry; channel: Duplex }> {
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new PoolClosedError(`The pool for ${this.#source.name} is closed`);
      const entry = await this.#entry(cancel);
      try {
        return { entry, channel: await openChannel(entry.connection, destination) };
      } catch (error) {
        this.#release(entry);
        // ssh2 finds its socket gone ("Not connected") before it reports the close: the
        // connection is dead, and is closed now so that the next try does not pick it again.
        if (error instanceof ConnectionUnusable && entry.connection.usable) entry.connection.destroy('error');
        if (error instanceof ConnectionUnusable && attempt < MAX_OPEN_ATTEMPTS) continue;
        throw this.#refused(destination, error);
      }
    }
  }

  /** A connection to carry one more tunnelled connection, counted on it before any await ends. */
  async #entry(cancel: AbortSignal): Promise<PoolEntry> {
    const open = this.#source.connections.pickForTunnel();
    if (open) {
      open.carryTunnel();
      return open;
    }
    const slot = await this.#source.acquire({ priority: 0, cancel }, false);
    // The session slot only served to open (or find) the connection: the tunnel holds none.
    slot.entry.carryTunnel();
    this.#source.releaseSlot(slot);
    return slot.entry;
  }

  #release(entry: PoolEntry): void {
    entry.endTunnel(this.#source.clock.now());
    this.#source.tunnelEnded(entry);
  }

  #pipe(
    socket: Duplex, entry: PoolEntry, channel: Duplex, kind: TunnelKind, channelType: ChannelType,
    report: (connection: PoolConnection, received: number, transmitted: number, errorType: string | undefined) => void,
  ): Promise<TunnelEnd> {
    const { events } = this.#source;
    const { connection } = entry;
    this.#counts[kind]++;
    let received = 0;
    let transmitted = 0;
    let lost = false;
    socket.on('data', (chunk: Buffer) => {
      transmitted += chunk.length;
      events.emit({ type: 'channel-io', channelType, direction: 'transmit', bytes: chunk.length });
    });
    channel.on('data', (chunk: Buffer) => {
      received += chunk.length;
      events.emit({ type: 'channel-io', channelType, direction: 'receive', bytes: chunk.length });
    });
    // Errors end in 'close' on both sides; what they were does not change what happens next.
    socket.on('error', () => {});
    channel.on('error', () => {});
    socket.pipe(channel);
    channel.pipe(socket);
    // The server closed the channel: the local side gets what is buffered, then an end.
    channel.once('close', () => {
      socket.end(() => socket.destroy());
    });
    const stopWatching = connection.onClose(() => {
      lost = true;
      socket.destroy();
      channel.destroy();
    });
    return new Promise((resolve) => {
      socket.once('close', () => {
        stopWatching();
        channel.destroy();
        this.#sockets.delete(socket);
        this.#counts[kind]--;
        this.#release(entry);
        report(connection, received, transmitted, lost ? ERROR_CODES.connectionLost : undefined);
        resolve({ lost });
      });
    });
  }

  #refused(destination: TunnelDestination, error: unknown): SSHPoolError {
    const label = describeDestination(destination);
    const server = this.#source.name;
    if (error instanceof SSHPoolError) return error;
    const text = (error as Error)?.message ?? String(error);
    if (error instanceof ConnectionUnusable) {
      return new TunnelRefusedError(`The connection to ${server} closed before it opened a tunnel to ${label}: ${text}`, server, label, 'other', { cause: error });
    }
    const code = error instanceof ChannelOpenRefusal ? error.reason : undefined;
    if (code === OPEN_FAILURE_PROHIBITED) {
      const setting = 'path' in destination ? 'AllowStreamLocalForwarding' : 'AllowTcpForwarding and PermitOpen';
      return new TunnelRefusedError(
        `The server ${server} refused to open a tunnel to ${label}: forwarding is administratively prohibited there (see ${setting} in its sshd_config) (${text})`,
        server, label, 'prohibited', { cause: error },
      );
    }
    if (code === OPEN_FAILURE_CONNECT_FAILED) {
      return new TunnelRefusedError(
        `The server ${server} could not connect to ${label}, the tunnel's destination as the server sees it (${text})`,
        server, label, 'connect-failed', { cause: error },
      );
    }
    return new TunnelRefusedError(`The server ${server} refused to open a tunnel to ${label}: ${text}`, server, label, 'other', { cause: error });
  }
}

function openChannel(connection: PoolConnection, destination: TunnelDestination): Promise<Duplex> {
  if ('path' in destination) {
    if (!connection.openStreamLocal) return Promise.reject(new ChannelOpenRefusal('the connection cannot forward to a UNIX socket'));
    return connection.openStreamLocal(destination.path);
  }
  if (!connection.openTunnel) return Promise.reject(new ChannelOpenRefusal('the connection cannot forward'));
  return connection.openTunnel(destination.host, destination.port);
}

/** `host:port` (IPv6 hosts bracketed), or the socket path. */
export function describeDestination(destination: TunnelDestination): string {
  if ('path' in destination) return destination.path;
  return destination.host.includes(':') ? `[${destination.host}]:${destination.port}` : `${destination.host}:${destination.port}`;
}
