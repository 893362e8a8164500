// The far end of tunnel tests: an echo server, one round trip through a tunnel to it, and the
// waits around a tunnelled connection (opened, closed, answering again after an outage).
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { until } from './until.js';

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

/** A connection to `address` once it is established (a tunnel's local side). */
export function connected(address: { host: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, address.host, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Resolves once `socket` has closed (at once when it already has). */
export function closed(socket: Socket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/**
 * Keeps sending `text` through fresh connections to `address` until one echoes it back (a
 * tunnel carrying again after an outage, a remote forward bound again); throws after `timeoutMs`.
 */
export async function answersAgain(address: { host: string; port: number }, text: string, timeoutMs: number, what: string): Promise<void> {
  let back = false;
  await until(() => {
    void roundTrip(address, text).then((answer) => (back ||= answer.toString() === text), () => {});
    return back;
  }, timeoutMs, what);
}
