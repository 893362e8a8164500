// The SOCKS5 server side that socks() speaks (RFC 1928): CONNECT without authentication, the
// three address types, and a refusal for everything else, with the reply the RFC gives.
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readSocksRequest } from '../../../src/client/socks5-handshake.js';
import type { TunnelDestination } from '../../../src/pool/tunnel-channels.js';
import { until } from '../../support/until.js';

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/**
 * Sends `messages` to a server running readSocksRequest; resolves with its result, the first
 * `answerLength` bytes it answered and the first `restLength` bytes it left unread.
 */
async function negotiate(
  messages: Buffer[], answerLength: number, restLength = 0,
): Promise<{ destination: TunnelDestination | undefined; answered: Buffer; rest: string }> {
  let resolveResult: (value: { destination: TunnelDestination | undefined; socket: Socket }) => void;
  const result = new Promise<{ destination: TunnelDestination | undefined; socket: Socket }>((resolve) => (resolveResult = resolve));
  const server = createServer((socket) => void readSocksRequest(socket).then((destination) => resolveResult({ destination, socket })));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  let answered = Buffer.alloc(0);
  client.on('data', (chunk: Buffer) => (answered = Buffer.concat([answered, chunk])));
  for (const message of messages) client.write(message);
  const { destination, socket } = await result;
  let rest = '';
  socket.on('data', (chunk: Buffer) => (rest += chunk.toString()));
  socket.resume();
  await until(() => answered.length >= answerLength && rest.length >= restLength, 5_000, 'the answer');
  socket.destroy();
  client.destroy();
  return { destination, answered, rest };
}

const GREETING = Buffer.from([5, 1, 0]);
const port = (n: number): Buffer => Buffer.from([n >> 8, n & 255]);

describe('SOCKS5 handshake', () => {
  it('reads a CONNECT by domain name, answers the greeting, and leaves data sent early for the tunnel', async () => {
    const name = Buffer.from('db.internal');
    const { destination, answered, rest } = await negotiate([Buffer.concat([GREETING, Buffer.from([5, 1, 0, 3, name.length]), name, port(5432), Buffer.from('early')])], 2, 5);
    expect(destination).toEqual({ host: 'db.internal', port: 5432 });
    expect([...answered]).toEqual([5, 0]);
    expect(rest).toBe('early');
  });

  it('reads IPv4 and IPv6 addresses, sent in pieces', async () => {
    expect((await negotiate([GREETING, Buffer.from([5, 1, 0, 1, 10, 0, 0, 7]), port(80)], 2)).destination).toEqual({ host: '10.0.0.7', port: 80 });
    const v6 = Buffer.alloc(16);
    v6[15] = 1;
    expect((await negotiate([GREETING, Buffer.concat([Buffer.from([5, 1, 0, 4]), v6, port(22)])], 2)).destination).toEqual({ host: '0:0:0:0:0:0:0:1', port: 22 });
  });

  it('refuses clients that require authentication, with "no acceptable methods"', async () => {
    const { destination, answered } = await negotiate([Buffer.from([5, 1, 2])], 2);
    expect(destination).toBeUndefined();
    expect([...answered]).toEqual([5, 0xff]);
  });

  it('refuses BIND and UDP ASSOCIATE with "command not supported"', async () => {
    const { destination, answered } = await negotiate([GREETING, Buffer.from([5, 2, 0, 1, 1, 2, 3, 4, 0, 80])], 12);
    expect(destination).toBeUndefined();
    expect([...answered.subarray(2, 4)]).toEqual([5, 7]);
  });

  it('refuses SOCKS4 at once', async () => {
    const { destination, answered } = await negotiate([Buffer.from([4, 1, 0, 80, 1, 2, 3, 4, 0])], 0);
    expect(destination).toBeUndefined();
    expect(answered.length).toBe(0);
  });
});
