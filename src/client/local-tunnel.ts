import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { TypedEventEmitter } from '../core/typed-event-emitter.js';
import { SSHPoolError, TunnelRefusedError } from '../core/errors.js';
import type { TunnelKind } from '../pool/host-pool-events.js';
import type { CarryHooks, TunnelDestination, TunnelEnd } from '../pool/tunnel-channels.js';
import { readSocksRequest, reply, SOCKS_REPLY } from './socks5-handshake.js';
import type { ListenAddress } from './tunnel-options.js';
import type { SSHTunnel, TunnelEvents } from './tunnel-types.js';

/** Carries one accepted socket over the pool (`TunnelChannels.carry` of the target's pool key). */
export type CarryTunnel = (socket: Socket, destination: TunnelDestination, kind: TunnelKind, hooks?: CarryHooks) => Promise<TunnelEnd | undefined>;

/** What a listener does with each accepted socket: forward it to one destination, or ask it where (SOCKS). */
export type LocalTunnelMode = { readonly kind: 'local'; readonly to: TunnelDestination } | { readonly kind: 'socks' };

/**
 * A local listener whose every accepted connection goes out through the pool (`forward()`,
 * `socks()`). The listening socket is ref'd like any server: an open tunnel keeps the process
 * alive; `close()` stops listening and cuts its connections, so the process may exit.
 */
export class LocalTunnel implements SSHTunnel {
  readonly host: string;
  readonly port: number;
  readonly #server: Server;
  readonly #carry: CarryTunnel;
  readonly #mode: LocalTunnelMode;
  readonly #events = new TypedEventEmitter<TunnelEvents>();
  readonly #sockets = new Set<Socket>();
  #closing: Promise<void> | undefined;

  private constructor(server: Server, carry: CarryTunnel, mode: LocalTunnelMode) {
    this.#server = server;
    this.#carry = carry;
    this.#mode = mode;
    const address = server.address();
    if (address === null || typeof address === 'string') throw new TypeError('a TCP listener has an address');
    this.host = address.address;
    this.port = address.port;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Listens on `listen`; rejects with the listen error (address in use, not available). */
  static listen(listen: ListenAddress, carry: CarryTunnel, mode: LocalTunnelMode): Promise<LocalTunnel> {
    // Half-open: a client's end reaches the server as EOF, and the server's answer still comes back.
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        // Accept errors (EMFILE) are the connection's, not the listener's: they must not crash the process.
        server.on('error', () => {});
        resolve(new LocalTunnel(server, carry, mode));
      });
    });
  }

  get connections(): number {
    return this.#sockets.size;
  }

  on<E extends keyof TunnelEvents>(event: E, listener: (...args: TunnelEvents[E]) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  off<E extends keyof TunnelEvents>(event: E, listener: (...args: TunnelEvents[E]) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    }).then(() => this.#events.emit('close'));
    return this.#closing;
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    if (this.#mode.kind === 'local') this.#forward(socket, this.#mode.to, 'local');
    else void this.#socks(socket);
  }

  #forward(socket: Socket, destination: TunnelDestination, kind: TunnelKind, hooks?: CarryHooks): void {
    this.#carry(socket, destination, kind, hooks).catch((error: unknown) => {
      // A pool that failed before the carry began (closed) left the socket to us.
      if (!socket.destroyed && !socket.writableEnded) {
        if (hooks?.failed && error instanceof Error) hooks.failed(error);
        else socket.destroy();
      }
      if (error instanceof SSHPoolError) this.#events.emit('error', error);
    });
  }

  async #socks(socket: Socket): Promise<void> {
    const destination = await readSocksRequest(socket);
    if (!destination) {
      socket.end();
      return;
    }
    this.#forward(socket, destination, 'socks', {
      opened: () => socket.write(reply(SOCKS_REPLY.succeeded)),
      failed: (error) => socket.end(reply(socksCodeOf(error))),
    });
  }
}

function socksCodeOf(error: Error): number {
  if (!(error instanceof TunnelRefusedError)) return SOCKS_REPLY.generalFailure;
  if (error.reason === 'prohibited') return SOCKS_REPLY.notAllowed;
  if (error.reason === 'connect-failed') return SOCKS_REPLY.connectionRefused;
  return SOCKS_REPLY.generalFailure;
}
