import type { SFTPWrapper } from 'ssh2';
import { installedSsh2Version } from './prepared-session.js';

/**
 * The ssh2 releases whose SFTP internals `sendWriteRequest` was read against and is tested with
 * (test/unit/ssh/sftp-write-request.test.ts). Any other release writes through ssh2's `write`.
 */
export const SFTP_WRITE_SSH2_VERSIONS: readonly string[] = Object.freeze(['1.17.0']);

/** SSH_FXP_WRITE (draft-ietf-secsh-filexfer-02). */
const FXP_WRITE = 6;
/** ssh2's request id mask (lib/protocol/SFTP.js `MAX_REQID`), applied the same way. */
const MAX_REQID = 2 ** 32 - 1;
/** uint32 length, byte type, uint32 id, uint32 handle length; then the handle, uint64 offset, uint32 data length. */
const HEADER_BYTES = 4 + 1 + 4 + 4;
const TRAILER_BYTES = 8 + 4;

/** What ssh2 1.17's client-side `SFTP` keeps privately that sending a request needs (lib/protocol/SFTP.js `write`, `tryWritePayload`). */
interface SftpInternals {
  server?: boolean;
  _writeReqid?: number;
  _maxWriteLen?: number;
  _requests?: Record<number, { cb: (error?: Error) => void }>;
  _buffer?: unknown[];
  outgoing?: { id?: number; state?: string; window?: number; packetSize?: number };
  _protocol?: { channelData?: (channelId: number, data: Buffer) => void };
}

/** Whether `sftp` has the shape `sendWriteRequest` uses, on a pinned ssh2 release. */
export function writeRequestsFit(sftp: SFTPWrapper, version: string | null = installedSsh2Version()): boolean {
  if (version === null || !SFTP_WRITE_SSH2_VERSIONS.includes(version)) return false;
  const internals = sftp as unknown as SftpInternals;
  return internals.server === false
    && typeof internals._writeReqid === 'number'
    && typeof internals._maxWriteLen === 'number'
    && typeof internals._requests === 'object' && internals._requests !== null
    && Array.isArray(internals._buffer)
    && typeof internals.outgoing?.window === 'number'
    && typeof internals.outgoing.packetSize === 'number'
    && typeof internals._protocol?.channelData === 'function';
}

/** Bytes of a WRITE request carrying `dataBytes` for a handle of `handleBytes`. */
export function writeRequestBytes(handleBytes: number, dataBytes: number): number {
  return HEADER_BYTES + handleBytes + TRAILER_BYTES + dataBytes;
}

/**
 * Sends one SFTP WRITE request built in `scratch`, a buffer the caller reuses for every request,
 * where ssh2's `write` allocates a new one each time. At upload speeds those allocations, each
 * outside V8's heap, set off a major collection every few MiB, which took more CPU than the
 * upload itself. The request goes out whole and at once, or not at all: only when the channel is
 * open, nothing of ssh2's waits to be sent before it (order), and the window takes all of it
 * with room to spare (so ssh2's own wait-for-window state is never entered). ssh2 copies each
 * packet's bytes before `channelData` returns, so `scratch` is free again when this returns.
 * Returns false, having sent nothing, when the request does not fit that way: the caller then
 * writes through ssh2's `write`. `done` is called once, as ssh2 answers the request.
 * Must only be called where `writeRequestsFit(sftp)` held.
 */
export function sendWriteRequest(
  sftp: SFTPWrapper, scratch: Buffer, handle: Buffer, data: Buffer, position: number, done: (error?: Error) => void,
): boolean {
  const internals = sftp as unknown as Required<SftpInternals> & {
    outgoing: { id: number; state: string; window: number; packetSize: number };
    _protocol: { channelData: (channelId: number, data: Buffer) => void };
  };
  const { outgoing } = internals;
  const length = data.length;
  const requestBytes = writeRequestBytes(handle.length, length);
  if (length === 0 || length > internals._maxWriteLen || requestBytes > scratch.length) return false;
  if (outgoing.state !== 'open' || internals._buffer.length > 0 || outgoing.window <= requestBytes) return false;

  const reqid = internals._writeReqid = (internals._writeReqid + 1) & MAX_REQID;
  scratch.writeUInt32BE(requestBytes - 4, 0);
  scratch[4] = FXP_WRITE;
  scratch.writeUInt32BE(reqid >>> 0, 5);
  scratch.writeUInt32BE(handle.length, 9);
  let at = HEADER_BYTES + handle.copy(scratch, HEADER_BYTES);
  scratch.writeUInt32BE(Math.floor(position / 2 ** 32), at);
  scratch.writeUInt32BE(position >>> 0, at + 4);
  scratch.writeUInt32BE(length, at + 8);
  at += TRAILER_BYTES;
  data.copy(scratch, at);

  internals._requests[reqid] = { cb: (error) => done(error) };
  for (let sent = 0; sent < requestBytes;) {
    const packet = Math.min(requestBytes - sent, outgoing.packetSize);
    outgoing.window -= packet;
    internals._protocol.channelData(outgoing.id, scratch.subarray(sent, sent + packet));
    sent += packet;
  }
  return true;
}
