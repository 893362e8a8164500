import { randomFillSync } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Client } from 'ssh2';
import { installedSsh2Version } from './prepared-session.js';

/**
 * The ssh2 releases whose cipher internals this adapter was read against and is tested with
 * (test/unit/ssh/outbound-packet-reuse.test.ts). Any other release allocates its packets itself.
 */
export const PACKET_REUSE_SSH2_VERSIONS: readonly string[] = Object.freeze(['1.17.0']);

/**
 * Packet layouts of ssh2 1.17's ciphers that encrypt in place (lib/protocol/crypto.js
 * `allocPacket`): the block the padding rounds the packet (less its length field) up to, and
 * the authentication tag after it. Other ciphers keep their own allocation.
 */
const IN_PLACE_CIPHERS: ReadonlyMap<string, { readonly block: number; readonly tag: number }> = new Map([
  ['AESGCMCipherBinding', { block: 16, tag: 16 }],
  ['ChaChaPolyCipherBinding', { block: 8, tag: 16 }],
]);

/** Smaller packets come from Node's shared buffer pool, which costs no collection. */
const MIN_REUSED_BYTES = 4 * 1024;
/** A fresh buffer holds at least a full 32 KiB channel data packet, so that it can serve the next one. */
const REUSED_CAPACITY = 34 * 1024;

/**
 * One buffer shared by every connection of the process. ssh2 allocates a packet, fills it,
 * encrypts it in place and writes it to the socket in one synchronous run, so at most one
 * packet is between its allocation and its write at any time, whatever the connection.
 * Invariant: `free` only when the socket took the last packet lent from `shared` whole
 * (nothing left in its queue), so no queued write still reads it.
 */
let shared: Buffer | undefined;
let free = false;
let lent: Buffer | undefined;

function lend(size: number): Buffer {
  if (!shared || !free || shared.length < size) shared = Buffer.allocUnsafeSlow(Math.max(size, REUSED_CAPACITY));
  free = false;
  lent = shared.subarray(0, size);
  return lent;
}

interface CipherInternals {
  allocPacket?: (payloadLength: number) => Buffer;
  _onWrite?: (packet: Buffer) => void;
}

interface ProtocolInternals {
  _cipher?: CipherInternals;
  channelData?: (channelId: number, data: Buffer | string) => void;
}

/** Whether `client` has the shape this adapter uses, on a pinned ssh2 release. */
export function packetReuseFits(client: Client, version: string | null = installedSsh2Version()): boolean {
  if (version === null || !PACKET_REUSE_SSH2_VERSIONS.includes(version)) return false;
  const protocol = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  return typeof protocol?.channelData === 'function' && typeof protocol._cipher === 'object' && protocol._cipher !== null;
}

/**
 * Lets the connection's large outbound packets reuse one buffer instead of a new one each.
 * ssh2 allocates every packet afresh; at upload speeds those buffers, each outside V8's heap,
 * set off a major collection every few MiB, which cost more CPU than the encryption and the
 * socket writes together. A packet the socket could not take whole at once stays with the
 * socket, and the next packet gets a fresh buffer. The cipher is replaced at each key
 * exchange, so the new one is taken over at the next channel data packet. Only for clients
 * where `packetReuseFits` holds; `socket` is the stream ssh2 writes the packets to.
 */
export function reuseOutboundPackets(client: Client, socket: Writable): void {
  const protocol = (client as unknown as { _protocol: Required<ProtocolInternals> })._protocol;
  let taken: CipherInternals | undefined;
  const takeOver = (): void => {
    const cipher = protocol._cipher;
    if (cipher === taken) return;
    taken = cipher;
    const layout = IN_PLACE_CIPHERS.get((cipher as { constructor?: { name?: string } }).constructor?.name ?? '');
    const { allocPacket, _onWrite: onWrite } = cipher;
    if (!layout || typeof allocPacket !== 'function' || typeof onWrite !== 'function') return;
    cipher.allocPacket = function allocReusedPacket(this: CipherInternals, payloadLength: number): Buffer {
      let packetLength = 4 + 1 + payloadLength;
      let padding = layout.block - ((packetLength - 4) & (layout.block - 1));
      if (padding < 4) padding += layout.block;
      packetLength += padding;
      const size = packetLength + layout.tag;
      if (size < MIN_REUSED_BYTES) return allocPacket.call(this, payloadLength);
      const packet = lend(size);
      packet.writeUInt32BE(packetLength - 4, 0);
      packet[4] = padding;
      randomFillSync(packet, 5 + payloadLength, padding);
      return packet;
    };
    cipher._onWrite = (packet: Buffer): void => {
      onWrite(packet);
      if (packet === lent && socket.writableLength === 0) free = true;
    };
  };
  takeOver();
  const channelData = protocol.channelData;
  protocol.channelData = function channelDataOnReusedPacket(this: unknown, channelId: number, data: Buffer | string): void {
    takeOver();
    channelData.call(this, channelId, data);
  };
}
