import type { Duplex } from 'node:stream';
import { backoffDelay } from '../core/backoff.js';
import type { BackoffPolicy } from '../core/backoff.js';
import { sleep } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import { SSHPoolError, TunnelRefusedError } from '../core/errors.js';
import type { ProcessHold } from '../core/process-hold.js';
import type { RemoteListener } from '../ssh/connection.js';
import type { PoolEntry } from './pool-entry.js';

/** Where the server listens: a TCP address, or a UNIX socket path on the server. */
export type RemoteListenAddress = { readonly host: string; readonly port: number } | { readonly path: string };

/** Where the server listens and where its connections go on this side. */
export interface RemoteForwardSpec {
  readonly listen: RemoteListenAddress;
  /** This side's destination: a TCP address or a local UNIX socket. */
  readonly to: { readonly host: string; readonly port: number } | { readonly path: string };
  /** Opens the local side of one forwarded connection (a connection to `to`). */
  readonly connectLocal: () => Duplex;
  /** A bind that failed after the first one (the server refused it, or no connection could be had). */
  readonly onError: (error: SSHPoolError) => void;
}

/** What a remote forward needs from the tunnel path of its host pool. */
export interface RemoteForwardHost {
  readonly name: string;
  readonly clock: Clock;
  readonly backoff: BackoffPolicy;
  readonly hold: ProcessHold;
  /** A connection kept in use (counted as one tunnel) until `releaseConnection`. */
  holdConnection(cancel: AbortSignal): Promise<PoolEntry>;
  releaseConnection(entry: PoolEntry): void;
  /** Carries a channel the server opened (`forwarded-tcpip`, or its streamlocal twin for `fromSocket`) to a local socket, on `entry`. */
  carryForwarded(channel: Duplex, entry: PoolEntry, socket: Duplex, destination: string, fromSocket: boolean): void;
}

/**
 * A server port forwarded here (`ssh -R`): `tcpip-forward` on one pooled connection, kept in
 * use for as long as the forward lives; each connection the server accepts is a
 * `forwarded-tcpip` channel piped to a new local connection to `to`. A UNIX socket on the
 * server (`ssh -R /path:...`) is the same with `streamlocal-forward@openssh.com` and
 * `forwarded-streamlocal@openssh.com` channels. When that SSH connection dies, the binding is
 * requested again, with the pool's reconnect backoff, on a connection the pool opens, for the
 * same port or path. Holds the process until `close()`.
 */
export class RemoteForward {
  readonly #host: RemoteForwardHost;
  readonly #spec: RemoteForwardSpec;
  readonly #closed = new AbortController();
  readonly #giveHoldBack: () => void;
  #entry: PoolEntry | undefined;
  #listener: RemoteListener | undefined;
  #stopWatching: (() => void) | undefined;
  #port: number;

  constructor(host: RemoteForwardHost, spec: RemoteForwardSpec) {
    this.#host = host;
    this.#spec = spec;
    this.#port = 'path' in spec.listen ? 0 : spec.listen.port;
    this.#giveHoldBack = host.hold.take();
  }

  /** The port the server listens on (the one it picked, for port 0). */
  get port(): number {
    return this.#port;
  }

  /** Binds for the first time; rejects (and gives everything back) when the server will not listen. */
  async start(): Promise<number> {
    try {
      await this.#bind();
      return this.#port;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Stops the server listening, and gives the connection back. Idempotent. */
  close(): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    this.#unbind();
    this.#giveHoldBack();
  }

  async #bind(): Promise<void> {
    const entry = await this.#host.holdConnection(this.#closed.signal);
    const connection = entry.connection;
    try {
      const destination = describe(this.#spec.to);
      const { listen } = this.#spec;
      const fromSocket = 'path' in listen;
      const carry = (channel: Duplex): void => this.#host.carryForwarded(channel, entry, this.#spec.connectLocal(), destination, fromSocket);
      if ('path' in listen) {
        if (!connection.listenRemoteSocket) throw new Error('the connection cannot forward a UNIX socket');
        this.#listener = await connection.listenRemoteSocket(listen.path, carry);
      } else {
        if (!connection.listenRemote) throw new Error('the connection cannot forward');
        this.#listener = await connection.listenRemote(listen.host, this.#port, carry);
      }
    } catch (error) {
      this.#host.releaseConnection(entry);
      throw this.#refused(error);
    }
    this.#entry = entry;
    this.#port = this.#listener.port;
    if (this.#closed.signal.aborted) {
      this.#unbind();
      return;
    }
    this.#stopWatching = connection.onClose(() => this.#lost());
  }

  #unbind(): void {
    this.#stopWatching?.();
    this.#stopWatching = undefined;
    this.#listener?.close();
    this.#listener = undefined;
    if (this.#entry) this.#host.releaseConnection(this.#entry);
    this.#entry = undefined;
  }

  /** The connection holding the binding died: bind again until it works or the forward closes. */
  #lost(): void {
    this.#unbind();
    void (async () => {
      for (let attempt = 1; !this.#closed.signal.aborted; attempt++) {
        try {
          await this.#bind();
          return;
        } catch (error) {
          if (this.#closed.signal.aborted) return;
          this.#spec.onError(error instanceof SSHPoolError ? error : this.#refused(error));
          await sleep(this.#host.clock, backoffDelay(attempt, this.#host.backoff), this.#closed.signal);
        }
      }
    })();
  }

  #refused(error: unknown): SSHPoolError {
    if (error instanceof SSHPoolError) return error;
    const where = describe(this.#spec.listen);
    const see = 'path' in this.#spec.listen
      ? 'see AllowStreamLocalForwarding and StreamLocalBindUnlink in its sshd_config, and whether the path is free and its directory writable there'
      : 'see AllowTcpForwarding and GatewayPorts in its sshd_config, and whether the port is free there';
    return new TunnelRefusedError(
      `The server ${this.#host.name} would not listen on ${where} for a remote forward (${see}): ${(error as Error)?.message ?? String(error)}`,
      this.#host.name, where, 'other', { cause: error },
    );
  }
}

function describe(address: { readonly host: string; readonly port: number } | { readonly path: string }): string {
  if ('path' in address) return address.path;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
