// Reading known_hosts files the way OpenSSH's hostfile.c does, so that a file means the same
// thing to sshpool as to `ssh`: which lines count, which hosts they name, which keys they hold.
import { createHmac, createPublicKey } from 'node:crypto';

export type KnownHostMarker = '' | '@revoked' | '@cert-authority';

/** One usable known_hosts line. Lines OpenSSH would skip as invalid never become entries. */
export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  readonly line: number;
  readonly marker: KnownHostMarker;
  /** The host field: comma-separated patterns, or one `|1|salt|hash`. */
  readonly hosts: string;
  /** The key type as the key blob itself names it, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`. */
  readonly keyType: string;
  readonly keyBlob: Buffer;
}

/** Type names a known_hosts line may use, and the blob type each one requires. */
const BLOB_TYPE_FOR_NAME: ReadonlyMap<string, string> = new Map([
  ['ssh-ed25519', 'ssh-ed25519'],
  ['ssh-rsa', 'ssh-rsa'],
  ['rsa-sha2-256', 'ssh-rsa'],
  ['rsa-sha2-512', 'ssh-rsa'],
  ['ssh-dss', 'ssh-dss'],
  ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256'],
  ['ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384'],
  ['ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521'],
  ['sk-ssh-ed25519@openssh.com', 'sk-ssh-ed25519@openssh.com'],
  ['sk-ecdsa-sha2-nistp256@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com'],
]);

const JWK_CURVE: Readonly<Record<string, string>> = { nistp256: 'P-256', nistp384: 'P-384', nistp521: 'P-521' };

/** OpenSSH refuses RSA keys below this size when it reads them (SSH_RSA_MINIMUM_MODULUS_SIZE). */
const RSA_MINIMUM_BITS = 1024;

/** Parses a known_hosts text; invalid lines are skipped, as OpenSSH skips them. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fields = splitKnownHostsLine(lines[i] ?? '', i + 1);
    const entry = fields && checkKnownHostsLine(fields);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** A known_hosts line split into its fields, before its key is decoded and checked. */
export interface KnownHostsLineFields {
  readonly line: number;
  readonly marker: KnownHostMarker;
  readonly hosts: string;
  readonly typeName: string;
  readonly base64: string;
}

/**
 * The cheap half of reading a line: its fields. Undefined for comments, blank lines and lines
 * whose shape alone makes OpenSSH skip them. Only space and tab separate fields (not \r):
 * OpenSSH splits on exactly these.
 */
export function splitKnownHostsLine(text: string, line: number): KnownHostsLineFields | undefined {
  let rest = text.replace(/^[ \t]+/, '');
  if (rest === '' || rest.startsWith('#')) return undefined;
  let marker: KnownHostMarker = '';
  if (rest.startsWith('@')) {
    const match = /^(@[^ \t]*)[ \t]+/.exec(rest);
    if (!match || (match[1] !== '@revoked' && match[1] !== '@cert-authority')) return undefined;
    marker = match[1];
    rest = rest.slice(match[0].length);
    // Only one marker is allowed.
    if (rest.startsWith('@')) return undefined;
  }
  const [hosts, typeName, base64] = rest.split(/[ \t]+/, 3);
  if (!hosts || !typeName || !base64 || typeName.startsWith('#')) return undefined;
  if (!BLOB_TYPE_FOR_NAME.has(typeName)) return undefined;
  return { line, marker, hosts, typeName, base64 };
}

/** The expensive half: the host field's hash and the key decoded and checked as OpenSSH does. */
export function checkKnownHostsLine(fields: KnownHostsLineFields): KnownHostEntry | undefined {
  const { line, marker, hosts, typeName, base64 } = fields;
  if (hosts.startsWith('|') && !parseHashedHost(hosts)) return undefined;
  const keyBlob = decodeBase64Strictly(base64);
  if (!keyBlob) return undefined;
  const keyType = validKeyType(keyBlob);
  if (keyType === undefined || keyType !== BLOB_TYPE_FOR_NAME.get(typeName)) return undefined;
  return { line, marker, hosts, keyType, keyBlob };
}

/** A public key as `type base64 [comment]` (key list syntax, no options); undefined if invalid. */
export function parsePublicKeyLine(text: string): Buffer | undefined {
  const [typeName, base64] = text.trim().split(/[ \t]+/);
  const blobType = typeName === undefined ? undefined : BLOB_TYPE_FOR_NAME.get(typeName);
  if (!blobType || !base64) return undefined;
  const keyBlob = decodeBase64Strictly(base64);
  return keyBlob && validKeyType(keyBlob) === blobType ? keyBlob : undefined;
}

/** Base64 as OpenSSH's b64_pton reads it: whitespace skipped, canonical padding required. */
function decodeBase64Strictly(text: string): Buffer | undefined {
  const compact = text.replace(/[\r\v\f]/g, '');
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  const bytes = Buffer.from(compact, 'base64');
  // Non-zero bits in the padding make b64_pton fail; a round trip catches them.
  return bytes.toString('base64') === compact ? bytes : undefined;
}

/** Reads the length-prefixed fields of an SSH wire-format blob. */
class WireReader {
  #offset = 0;
  constructor(readonly bytes: Buffer) {}

  string(): Buffer | undefined {
    if (this.#offset + 4 > this.bytes.length) return undefined;
    const length = this.bytes.readUInt32BE(this.#offset);
    const start = this.#offset + 4;
    if (start + length > this.bytes.length) return undefined;
    this.#offset = start + length;
    return this.bytes.subarray(start, start + length);
  }

  get done(): boolean {
    return this.#offset === this.bytes.length;
  }
}

/** Bit length of an SSH mpint (big-endian, leading zero byte allowed for positive numbers). */
function mpintBits(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}

/**
 * The key type a public key blob declares, if the blob is a well-formed key of that type
 * (the checks OpenSSH's sshkey_from_blob makes before a line counts); otherwise undefined.
 */
export function validKeyType(blob: Buffer): string | undefined {
  const reader = new WireReader(blob);
  const type = reader.string()?.toString('latin1');
  if (type === undefined) return undefined;
  const ok = ((): boolean => {
    switch (type) {
      case 'ssh-ed25519':
      case 'sk-ssh-ed25519@openssh.com': {
        const key = reader.string();
        if (key?.length !== 32) return false;
        return type === 'ssh-ed25519' || reader.string() !== undefined;
      }
      case 'ssh-rsa': {
        const e = reader.string();
        const n = reader.string();
        return e !== undefined && n !== undefined && mpintBits(e) > 0 && mpintBits(n) >= RSA_MINIMUM_BITS;
      }
      case 'ssh-dss':
        return [reader.string(), reader.string(), reader.string(), reader.string()].every((part) => part !== undefined && part.length > 0);
      case 'ecdsa-sha2-nistp256':
      case 'ecdsa-sha2-nistp384':
      case 'ecdsa-sha2-nistp521':
      case 'sk-ecdsa-sha2-nistp256@openssh.com': {
        const curve = reader.string()?.toString('latin1');
        const point = reader.string();
        if (curve === undefined || point === undefined || !type.includes(curve)) return false;
        if (type.startsWith('sk-') && reader.string() === undefined) return false;
        return isPointOnCurve(curve, point);
      }
      default:
        return false;
    }
  })();
  // Trailing bytes make OpenSSH reject the blob.
  return ok && reader.done ? type : undefined;
}

function isPointOnCurve(curve: string, point: Buffer): boolean {
  const crv = JWK_CURVE[curve];
  if (!crv || point[0] !== 0x04 || (point.length - 1) % 2 !== 0) return false;
  const half = (point.length - 1) / 2;
  try {
    createPublicKey({
      key: {
        kty: 'EC',
        crv,
        x: point.subarray(1, 1 + half).toString('base64url'),
        y: point.subarray(1 + half).toString('base64url'),
      },
      format: 'jwk',
    });
    return true;
  } catch {
    return false;
  }
}

export interface HashedHost {
  readonly salt: Buffer;
  readonly hash: string;
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`; a malformed one makes the whole line invalid. */
export function parseHashedHost(hosts: string): HashedHost | undefined {
  const parts = hosts.split('|');
  if (parts.length !== 4 || parts[0] !== '' || parts[1] !== '1') return undefined;
  const salt = decodeBase64Strictly(parts[2] ?? '');
  // SHA-1 HMAC salts are exactly 20 bytes; OpenSSH refuses others.
  if (!salt || salt.length !== 20 || !parts[3]) return undefined;
  return { salt, hash: parts[3] };
}

/** Glob with `*` and `?`, case-insensitive, as OpenSSH's match_pattern with lowercased patterns. */
function globMatches(pattern: string, name: string): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${escaped}$`, 'is').test(name);
}

/**
 * Whether a host field names `name` (already in known_hosts form, e.g. `[host]:2222`).
 * OpenSSH lowercases the host name before any lookup, hashed ones included; a negated
 * pattern that matches wins over every positive one.
 */
export function hostFieldMatches(hosts: string, name: string): boolean {
  const lower = name.toLowerCase();
  if (hosts.startsWith('|')) {
    const hashed = parseHashedHost(hosts);
    return hashed !== undefined && createHmac('sha1', hashed.salt).update(lower).digest('base64') === hashed.hash;
  }
  let matched = false;
  for (const pattern of hosts.split(',')) {
    const negated = pattern.startsWith('!');
    const body = (negated ? pattern.slice(1) : pattern).toLowerCase();
    if (body === '' || !globMatches(body, lower)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** How known_hosts names a host: bare for port 22, `[host]:port` otherwise; always lowercase. */
export function knownHostsName(host: string, port: number): string {
  const lower = host.toLowerCase();
  return port === 22 ? lower : `[${lower}]:${port}`;
}
