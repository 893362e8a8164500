// A TCP proxy that holds every chunk for a fixed time in each direction: the WAN profile.
// This kernel has no netem, so latency is added in user space. Bandwidth is not limited;
// SSH's own flow-control window bounds what sits in the delay line.
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/** Forwards `from` to `to`, each chunk `delayMs` after it arrived, in order. */
function delayLine(from: Socket, to: Socket, delayMs: number): void {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = (): void => {
    timer = undefined;
    const now = performance.now();
    // Within half a millisecond counts as due: timers fire on whole milliseconds.
    while (queue.length > 0 && queue[0]!.due <= now + 0.5) to.write(queue.shift()!.chunk);
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
    else if (ended) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    timer ??= setTimeout(flush, delayMs);
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0) to.end();
  });
}

export class DelayProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<Socket>();
  /** Connections accepted so far. */
  connections = 0;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  /** Listens on 127.0.0.1 and forwards to target, adding `delayMs` each way (RTT + 2 × delayMs). */
  static async start(target: { host: string; port: number }, delayMs: number): Promise<DelayProxy> {
    const server = net.createServer({ noDelay: true, allowHalfOpen: true });
    const proxy = new DelayProxy(server);
    server.on('connection', (client) => {
      proxy.connections++;
      const upstream = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
      for (const socket of [client, upstream]) {
        proxy.#sockets.add(socket);
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
        socket.on('close', (hadError) => {
          proxy.#sockets.delete(socket);
          // A reset on one side resets the other, after the delay like everything else; a
          // graceful close travels as 'end' through the delay line instead.
          if (hadError) setTimeout(() => (socket === client ? upstream : client).destroy(), delayMs).unref();
        });
      }
      delayLine(client, upstream, delayMs);
      delayLine(upstream, client, delayMs);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
