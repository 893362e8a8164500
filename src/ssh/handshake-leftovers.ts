import type { Client } from 'ssh2';
import { installedSsh2Version } from './prepared-session.js';

/**
 * The ssh2 releases whose key-exchange internals this adapter was read against and is tested
 * with (test/unit/ssh/handshake-leftovers.test.ts). On any other release nothing is trimmed.
 */
export const HANDSHAKE_LEFTOVERS_SSH2_VERSIONS: readonly string[] = Object.freeze(['1.17.0']);

interface KeyExchangeInternals {
  _finished?: boolean;
  /** The ephemeral key pair of a Curve25519 exchange; null before it is made (ssh2's own initial value). */
  _keys?: unknown;
}

interface ProtocolInternals {
  _kex?: KeyExchangeInternals;
  _identRaw?: Buffer;
  _remoteIdentRaw?: Buffer;
}

/**
 * Lets go of what ssh2 1.17 keeps from a finished handshake but never reads again, about 1.8 KiB
 * per connection, which a fleet of idle connections pays per host:
 * - the finished exchange's ephemeral key pair (`_kex._keys`, two native key objects). A re-key
 *   makes a new exchange with keys of its own; only `sessionID` and `negotiated` are read from
 *   the old one (lib/protocol/kex.js).
 * - the identification strings, kept for the exchange hash of each re-key, are small `Buffer`s
 *   cut from Node's shared 8 KiB allocation pool, so each keeps a share of a pool slab alive for
 *   the connection's life. Each is replaced with an exact copy of its own.
 * Call once the connection is ready. Does nothing on other ssh2 releases or shapes.
 */
export function releaseHandshakeLeftovers(client: Client, version: string | null = installedSsh2Version()): void {
  if (version === null || !HANDSHAKE_LEFTOVERS_SSH2_VERSIONS.includes(version)) return;
  const protocol = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  if (!protocol) return;
  const kex = protocol._kex;
  // Only a finished exchange: one under way (a re-key the server started) still needs its keys.
  if (kex?._finished === true && kex._keys) kex._keys = null;
  protocol._identRaw = ownCopy(protocol._identRaw);
  protocol._remoteIdentRaw = ownCopy(protocol._remoteIdentRaw);
}

/** `buffer` in memory of its own, unless it already has it. */
function ownCopy(buffer: Buffer | undefined): Buffer | undefined {
  if (!Buffer.isBuffer(buffer) || buffer.byteLength === buffer.buffer.byteLength) return buffer;
  const copy = Buffer.allocUnsafeSlow(buffer.byteLength);
  buffer.copy(copy);
  return copy;
}
