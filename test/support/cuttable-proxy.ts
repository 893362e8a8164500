// A TCP proxy in front of a server that a test can cut off for a given time: every connection
// through it is destroyed and new ones are refused (nothing listens) until it comes back on the
// same port. From the clients' side, the host is down for exactly that long.
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export class CuttableProxy {
  readonly #target: { readonly host: string; readonly port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** Listens on a free port of 127.0.0.1 and forwards every connection to `target`. */
  static async start(target: { host: string; port: number }): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(target);
    proxy.#port = await proxy.#listen(0);
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  #listen(port: number): Promise<number> {
    const server = createServer((client) => this.#forward(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  }

  #forward(client: Socket): void {
    const upstream = createConnection(this.#target);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Destroys every connection, refuses new ones for `ms`, then listens again on the same port. */
  async cut(ms: number): Promise<void> {
    const server = this.#server!;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.#listen(this.port);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
