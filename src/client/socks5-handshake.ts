import type { Socket } from 'node:net';
import type { TunnelDestination } from '../pool/tunnel-channels.js';

// SOCKS5 (RFC 1928) as OpenSSH's `-D` serves it to local clients: no authentication, CONNECT
// only. Each function writes its reply; the caller closes the socket after a failure.

/** Reply codes of RFC 1928 §6 that a tunnel can give. */
export const SOCKS_REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/** Greeting and request are each far smaller: a client sending more before any reply is not SOCKS. */
const MAX_HANDSHAKE_BYTES = 600;

/**
 * Reads the greeting and the CONNECT request, answering the greeting. Resolves with the
 * destination (bytes the client sent after the request are put back into the socket), or
 * undefined when the client is not a SOCKS5 client asking for CONNECT without authentication,
 * after the reply that says so.
 */
export function readSocksRequest(socket: Socket): Promise<TunnelDestination | undefined> {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    let greeted = false;
    const finish = (result: TunnelDestination | undefined, rest?: Buffer): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(result);
    };
    const onClose = (): void => finish(undefined);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length > MAX_HANDSHAKE_BYTES) return finish(undefined);
      if (!greeted) {
        if (buffer.length < 2) return;
        if (buffer[0] !== 0x05) return finish(undefined);
        const methods = buffer[1]!;
        if (buffer.length < 2 + methods) return;
        const offered = buffer.subarray(2, 2 + methods);
        buffer = buffer.subarray(2 + methods);
        greeted = true;
        if (!offered.includes(0x00)) {
          socket.write(Buffer.from([0x05, 0xff]));
          return finish(undefined);
        }
        socket.write(Buffer.from([0x05, 0x00]));
      }
      const request = parseRequest(buffer);
      if (request === 'incomplete') return;
      if (typeof request === 'number') {
        socket.write(reply(request));
        return finish(undefined);
      }
      finish(request.destination, buffer.subarray(request.length));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** The reply to a CONNECT request (bound address 0.0.0.0:0: the server side's is not known here). */
export function reply(code: number): Buffer {
  return Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

function parseRequest(buffer: Buffer): { destination: TunnelDestination; length: number } | number | 'incomplete' {
  if (buffer.length < 4) return 'incomplete';
  if (buffer[0] !== 0x05) return SOCKS_REPLY.generalFailure;
  if (buffer[1] !== 0x01) return SOCKS_REPLY.commandNotSupported;
  const type = buffer[3];
  let host: string;
  let offset: number;
  if (type === 0x01) {
    if (buffer.length < 10) return 'incomplete';
    host = [...buffer.subarray(4, 8)].join('.');
    offset = 8;
  } else if (type === 0x03) {
    if (buffer.length < 5) return 'incomplete';
    const length = buffer[4]!;
    if (buffer.length < 5 + length + 2) return 'incomplete';
    host = buffer.subarray(5, 5 + length).toString('latin1');
    offset = 5 + length;
  } else if (type === 0x04) {
    if (buffer.length < 22) return 'incomplete';
    const words: string[] = [];
    for (let i = 0; i < 8; i++) words.push(buffer.readUInt16BE(4 + i * 2).toString(16));
    host = words.join(':');
    offset = 20;
  } else {
    return SOCKS_REPLY.addressTypeNotSupported;
  }
  const port = buffer.readUInt16BE(offset);
  if (host === '' || port === 0) return SOCKS_REPLY.generalFailure;
  return { destination: { host, port }, length: offset + 2 };
}
