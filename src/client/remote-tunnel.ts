import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { TypedEventEmitter } from '../core/typed-event-emitter.js';
import type { SSHPoolError } from '../core/errors.js';
import type { RemoteForwardSpec } from '../pool/remote-forward.js';
import type { RemoteBinding } from '../pool/tunnel-channels.js';
import type { ListenAddress } from './tunnel-options.js';
import type { SSHTunnel, TunnelEvents } from './tunnel-types.js';

/** Starts the pool's side of a remote forward (`TunnelChannels.forwardRemote` of the target's pool key). */
export type StartRemoteForward = (spec: RemoteForwardSpec) => Promise<RemoteBinding>;

/**
 * `forwardRemote()`: the server listens (`host`, `port` are the server's side; `path` and
 * `host` its UNIX socket, port 0) and each connection it accepts is carried to `to` here. The binding holds the process until `close()`;
 * after its SSH connection dies it is requested again, and failures of that show as 'error'.
 */
export class RemoteTunnel implements SSHTunnel {
  readonly host: string;
  readonly path: string | undefined;
  readonly #binding: RemoteBinding;
  readonly #events: TypedEventEmitter<TunnelEvents>;
  readonly #sockets: Set<Socket>;
  #closing: Promise<void> | undefined;

  private constructor(host: string, path: string | undefined, binding: RemoteBinding, events: TypedEventEmitter<TunnelEvents>, sockets: Set<Socket>) {
    this.host = host;
    this.path = path;
    this.#binding = binding;
    this.#events = events;
    this.#sockets = sockets;
  }

  static async start(
    listen: ListenAddress | { path: string },
    to: { host: string; port: number } | { path: string },
    start: StartRemoteForward,
  ): Promise<RemoteTunnel> {
    const events = new TypedEventEmitter<TunnelEvents>();
    const sockets = new Set<Socket>();
    const binding = await start({
      listen,
      to,
      connectLocal: () => {
        const socket = 'path' in to ? connect({ path: to.path, allowHalfOpen: true }) : connect({ host: to.host, port: to.port, noDelay: true, allowHalfOpen: true });
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        socket.on('error', () => {});
        return socket;
      },
      onError: (error: SSHPoolError) => events.emit('error', error),
    });
    return 'path' in listen
      ? new RemoteTunnel(listen.path, listen.path, binding, events, sockets)
      : new RemoteTunnel(listen.host, undefined, binding, events, sockets);
  }

  /** The port the server listens on. */
  get port(): number {
    return this.#binding.port;
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
    this.#closing ??= Promise.resolve().then(() => {
      this.#binding.close();
      for (const socket of this.#sockets) socket.destroy();
      this.#events.emit('close');
    });
    return this.#closing;
  }
}
