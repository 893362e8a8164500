// The benchmark's WAN profile rests on this proxy: it must add its delay each way and lose,
// reorder or hold back nothing.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DelayProxy } from '../../../bench/compare/delay-proxy.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function echoServer(): Promise<{ host: string; port: number }> {
  const server = net.createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  cleanups.push(async () => void socket.destroy());
  return socket;
}

/** Writes `data` and resolves with the echo once `data.length` bytes came back. */
function roundTrip(socket: net.Socket, data: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= data.length) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.write(data);
  });
}

describe('benchmark WAN delay proxy', () => {
  it('adds its delay in each direction, so a round trip takes at least twice the delay', async () => {
    const proxy = await DelayProxy.start(await echoServer(), 25);
    cleanups.push(() => proxy.stop());
    const socket = await connect(proxy.port);
    await roundTrip(socket, Buffer.from('warm'));
    const started = performance.now();
    await roundTrip(socket, Buffer.from('ping'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(49);
    expect(proxy.connections).toBe(1);
  });

  it('delivers every byte in order', async () => {
    const proxy = await DelayProxy.start(await echoServer(), 5);
    cleanups.push(() => proxy.stop());
    const socket = await connect(proxy.port);
    const data = randomBytes(4 * 1024 * 1024);
    expect((await roundTrip(socket, data)).equals(data)).toBe(true);
  });

  it('passes a half-close on only after the data before it', async () => {
    const proxy = await DelayProxy.start(await echoServer(), 10);
    cleanups.push(() => proxy.stop());
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
    cleanups.push(async () => void socket.destroy());
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.end('last words');
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe('last words');
  });
});
