// The destination of the tunnel benchmark, in a process of its own so that it never shares an
// event loop with the client being measured: a sink that counts what arrives and answers "done"
// at its end, and an echo server. Sends { sink, echo } ports over IPC once both listen.
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const sink = createServer({ allowHalfOpen: true }, (socket) => {
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
  socket.on('end', () => socket.end(`done ${bytes}`));
  socket.on('error', () => {});
});
const echo = createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});

const ports = { sink: await listen(sink), echo: await listen(echo) };
process.send!(ports);
process.on('disconnect', () => process.exit(0));
