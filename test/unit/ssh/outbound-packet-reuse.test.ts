// Outbound packets on one reused buffer (src/ssh/outbound-packet-reuse.ts): the layout ssh2's own
// ciphers give a packet, reuse only once the socket took the last packet whole, and bytes that
// arrive intact through a real ssh2 client and server when the server reads slowly.
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client as ClientType, Connection } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { packetReuseFits, reuseOutboundPackets } from '../../../src/ssh/outbound-packet-reuse.js';
import { generateKeyPair } from '../../support/generate-key-pair.js';
import { until } from '../../support/until.js';

const { Client, Server } = ssh2;
const require = createRequire(import.meta.url);

interface SshCipher {
  allocPacket(payloadLength: number): Buffer;
  encrypt(packet: Buffer): void;
  _onWrite: (packet: Buffer) => void;
}
const crypto = require('ssh2/lib/protocol/crypto.js') as {
  bindingAvailable: boolean;
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number; authLen: number }>;
  MAC_INFO: Record<string, { len: number }>;
  createCipher(config: unknown): SshCipher;
};

function realCipher(name: string, onWrite: (packet: Buffer) => void): SshCipher {
  const info = crypto.CIPHER_INFO[name]!;
  // Ciphers without their own authentication need a MAC beside them.
  const mac = info.authLen > 0 ? {} : { macInfo: crypto.MAC_INFO['hmac-sha2-256'], macKey: randomBytes(32) };
  return crypto.createCipher({
    outbound: { onWrite, cipherInfo: info, cipherKey: randomBytes(info.keyLen), cipherIV: randomBytes(info.ivLen), seqno: 0, ...mac },
  });
}

/** A client whose protocol sends channel data the way ssh2's `Protocol.channelData` does: allocate, fill, encrypt, write. */
function fakeClient(cipher: SshCipher) {
  const protocol = {
    _cipher: cipher,
    channelData(_channel: number, data: Buffer): void {
      const packet = this._cipher.allocPacket(1 + 4 + 4 + data.length);
      packet.set(data, 5 + 9);
      this._cipher.encrypt(packet);
    },
  };
  return { client: { _protocol: protocol } as unknown as ClientType, protocol };
}

/** A socket whose queue holds `held` bytes: what `writableLength` reports after each write. */
class HeldSocket extends Writable {
  held = 0;
  constructor() {
    super();
    Object.defineProperty(this, 'writableLength', { get: () => this.held });
  }
}

/** An AES-GCM connection with packet reuse over a `HeldSocket`; `buffers` lists the memory each written packet used. */
function reusingConnection() {
  const cipher = realCipher('aes128-gcm@openssh.com', () => {});
  const { client, protocol } = fakeClient(cipher);
  const socket = new HeldSocket();
  reuseOutboundPackets(client, socket);
  const buffers: ArrayBufferLike[] = [];
  const write = cipher._onWrite;
  cipher._onWrite = (packet) => {
    buffers.push(packet.buffer);
    write(packet);
  };
  return { protocol, socket, buffers };
}

describe('outbound packets on a reused buffer', () => {
  it('ssh2\'s native binding is loaded here, so the ciphers it covers are the ones connections use', () => {
    expect(crypto.bindingAvailable).toBe(true);
  });

  for (const name of ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com']) {
    it(`lays a packet out as ssh2's own ${name} cipher does, for every payload size`, () => {
      const written: Buffer[] = [];
      const own = realCipher(name, () => {});
      const reused = realCipher(name, (packet) => written.push(packet));
      const { client } = fakeClient(reused);
      reuseOutboundPackets(client, new HeldSocket());
      for (let payload = 4_000; payload <= 33_000; payload += 97) {
        const expected = own.allocPacket(payload);
        const actual = reused.allocPacket(payload);
        expect(actual.length).toBe(expected.length);
        expect(actual.subarray(0, 5)).toEqual(expected.subarray(0, 5));
      }
    });
  }

  it('hands the same memory to the next large packet once the socket took the last one whole', () => {
    const { protocol, buffers } = reusingConnection();
    protocol.channelData(0, Buffer.alloc(32 * 1024));
    protocol.channelData(0, Buffer.alloc(32 * 1024));
    expect(buffers[1]).toBe(buffers[0]);
  });

  it('never hands out memory a socket still holds: a packet left in its queue makes the next one fresh', () => {
    const { protocol, socket, buffers } = reusingConnection();
    socket.held = 1;
    protocol.channelData(0, Buffer.alloc(32 * 1024));
    socket.held = 0;
    protocol.channelData(0, Buffer.alloc(32 * 1024));
    protocol.channelData(0, Buffer.alloc(32 * 1024));
    expect(buffers[1]).not.toBe(buffers[0]);
    expect(buffers[2]).toBe(buffers[1]);
  });

  it('leaves small packets to Node\'s buffer pool and ciphers it does not know to themselves', () => {
    const cipher = realCipher('aes128-ctr', () => {});
    const own = cipher.allocPacket;
    const { client } = fakeClient(cipher);
    reuseOutboundPackets(client, new HeldSocket());
    expect(cipher.allocPacket).toBe(own);
    const gcm = realCipher('aes128-gcm@openssh.com', () => {});
    const fake = fakeClient(gcm);
    reuseOutboundPackets(fake.client, new HeldSocket());
    const small = gcm.allocPacket(100);
    expect(small.buffer.byteLength).toBeGreaterThan(small.length); // a slice of the pool
  });

  it('takes over the cipher a key exchange puts in place, at the next channel data packet', () => {
    const first = realCipher('aes128-gcm@openssh.com', () => {});
    const { client, protocol } = fakeClient(first);
    reuseOutboundPackets(client, new HeldSocket());
    const second = realCipher('chacha20-poly1305@openssh.com', () => {});
    const own = second.allocPacket;
    protocol._cipher = second;
    protocol.channelData(0, Buffer.alloc(8 * 1024));
    expect(second.allocPacket).not.toBe(own);
  });

  it('fits only a pinned ssh2 release', () => {
    const { client } = fakeClient(realCipher('aes128-gcm@openssh.com', () => {}));
    expect(packetReuseFits(client, '1.17.0')).toBe(true);
    expect(packetReuseFits(client, '1.18.0')).toBe(false);
    expect(packetReuseFits(client, null)).toBe(false);
  });
});

describe('through a real ssh2 client and server', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com']) {
    it(`${cipher}: 4 × 8 MiB written to commands' stdin at once arrive intact while the server's socket stalls`, async () => {
      const hostKey = generateKeyPair();
      const received: Array<Promise<string>> = [];
      const server = new Server({ hostKeys: [hostKey.private] }, (connection: Connection) => {
        // Stops reading its TCP socket now and then, so that the client's socket queues packets.
        const raw = (connection as unknown as { _sock: { pause(): void; resume(): void } })._sock;
        let chunks = 0;
        connection.on('authentication', (context) => context.accept());
        connection.on('ready', () => {
          connection.on('session', (accept) => {
            accept().on('exec', (acceptExec) => {
              const channel = acceptExec();
              const hash = createHash('sha256');
              received.push(new Promise((resolve) => {
                channel.on('data', (data: Buffer) => {
                  hash.update(data);
                  if (++chunks % 40 === 0) {
                    raw.pause();
                    setTimeout(() => raw.resume(), 10);
                  }
                });
                channel.on('end', () => {
                  resolve(hash.digest('hex'));
                  channel.exit(0);
                  channel.end();
                });
              }));
            });
          });
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => server.close());
      const client = new Client();
      cleanups.push(() => client.end());
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve).once('error', reject).connect({
          host: '127.0.0.1', port: (server.address() as AddressInfo).port, username: 'u', password: 'p',
          algorithms: { cipher: [cipher as 'aes128-gcm@openssh.com'] },
        });
      });
      const socket = (client as unknown as { _sock: Writable })._sock;
      expect(packetReuseFits(client)).toBe(true);
      reuseOutboundPackets(client, socket);
      let queued = 0;
      const sampler = setInterval(() => (queued = Math.max(queued, socket.writableLength)), 1);
      cleanups.push(() => clearInterval(sampler));
      const payloads = Array.from({ length: 4 }, () => randomBytes(8 * 1024 * 1024));
      // A packet spoiled in the queue fails the server's MAC check, and it drops the connection.
      const dropped = new Promise<never>((_, reject) => client.once('close', () => reject(new Error('the server dropped the connection'))));
      dropped.catch(() => {});
      await Promise.race([dropped, Promise.all(payloads.map(async (data) => {
        const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => client.exec('cat', (error, stream) => (error ? reject(error) : resolve(stream))));
        for (let offset = 0; offset < data.length; offset += 256 * 1024) {
          if (!channel.write(data.subarray(offset, offset + 256 * 1024))) await new Promise((resolve) => channel.once('drain', resolve));
        }
        channel.end();
      }))]);
      await until(() => received.length === 4, 5_000, 'the server to take the commands');
      expect((await Promise.race([dropped, Promise.all(received)])).sort()).toEqual(payloads.map((data) => createHash('sha256').update(data).digest('hex')).sort());
      // The case the reuse must get right happened: packets waited in the client's socket.
      expect(queued).toBeGreaterThan(0);
    }, 60_000);
  }
});
