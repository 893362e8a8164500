// The far end of tunnel tests: an echo server, and one round trip through a tunnel to it.
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';

/**
 * An echo server that keeps half-closes (it ends its side once the client ended), listening on
 * the test machine's loopback at a free port, or on a UNIX socket `path`. The sshd containers
 * share the host network, so a TCP one is "behind" them too.
 */
export function echoServer(path?: string): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  return new Promise((resolve) => {
    if (path === undefined) server.listen(0, '127.0.0.1', () => resolve(server));
    else server.listen(path, () => resolve(server));
  });
}

/** Sends `data` through a fresh connection to `address`, half-closes, and resolves with all that came back. */
export function roundTrip(address: { host: string; port: number }, data: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, address.host);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.end(data);
  });
}
