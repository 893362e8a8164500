import type { SSHPoolError } from '../core/errors.js';

/** A local address to listen on. */
export interface TunnelListenAddress {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
}

/** Where the server connects each tunnelled connection: a TCP address or a UNIX socket, as the server sees it. */
export type TunnelTarget = { readonly host: string; readonly port: number } | { readonly path: string };

/** Options of `ssh.forward()` (OpenSSH's `-L`). */
export interface ForwardOptions {
  /** The destination, reached from the server: `{ host, port }` (`direct-tcpip`) or `{ path }` (`direct-streamlocal@openssh.com`). */
  readonly to: TunnelTarget;
  /** Where to listen locally. @default { host: '127.0.0.1', port: 0 } (a free port) */
  readonly listen?: TunnelListenAddress;
}

/** A UNIX socket, by its path. */
export interface TunnelSocketAddress {
  readonly path: string;
}

/** Options of `ssh.forwardRemote()` (OpenSSH's `-R`). */
export interface ForwardRemoteOptions {
  /**
   * Where the server listens: `{ host, port }` (`tcpip-forward`), or `{ path }`, a UNIX socket
   * on the server (`streamlocal-forward@openssh.com`, OpenSSH's `-R /path:...`; see
   * `AllowStreamLocalForwarding`, and `StreamLocalBindUnlink` for binding the same path again
   * after a reconnect).
   * @default { host: '127.0.0.1', port: 0 } (a port the server picks; see `tunnel.port`)
   */
  readonly listen?: TunnelListenAddress | TunnelSocketAddress;
  /** Where each connection the server accepts goes, from this machine: `{ host, port }`, or `{ path }`, a local UNIX socket. */
  readonly to: { readonly host: string; readonly port: number } | TunnelSocketAddress;
}

/** Options of `ssh.socks()` (OpenSSH's `-D`): a SOCKS5 proxy, CONNECT only, no authentication. */
export interface SocksOptions {
  /** Where to listen locally. @default { host: '127.0.0.1', port: 0 } (a free port) */
  readonly listen?: TunnelListenAddress;
}

/** What a tunnel reports. A listener that throws is reported as a process warning. */
export interface TunnelEvents {
  /**
   * A tunnelled connection could not be carried: the server refused the channel
   * (`TunnelRefusedError`), or no connection could be had (`ConnectError`,
   * `AcquireTimeoutError`, `PoolClosedError`). Its local socket is closed; the tunnel listens on.
   */
  error: [error: SSHPoolError];
  /** The tunnel stopped listening (`close()`). */
  close: [];
}

/** An open tunnel. Keeps the process alive, as a listening server does, until `close()`. */
export interface SSHTunnel {
  /** The address it listens on: local for `forward()` and `socks()`, on the server for `forwardRemote()` (its UNIX socket path, for `listen: { path }`). */
  readonly host: string;
  /** 0 for a UNIX socket. */
  readonly port: number;
  /** The UNIX socket the server listens on, for `forwardRemote({ listen: { path } })`; undefined for TCP. */
  readonly path?: string;
  /** Tunnelled connections open now. */
  readonly connections: number;
  /** Stops listening and cuts the tunnelled connections; resolves once the listener is closed. Idempotent. */
  close(): Promise<void>;
  on<E extends keyof TunnelEvents>(event: E, listener: (...args: TunnelEvents[E]) => void): this;
  off<E extends keyof TunnelEvents>(event: E, listener: (...args: TunnelEvents[E]) => void): this;
}
