// RevokedHostKeys: a file of revoked host keys, either an OpenSSH Key Revocation List (KRL, see
// PROTOCOL.krl; `ssh-keygen -k`) or a plain list of public keys, one per line. As in ssh
// (authfile.c sshkey_check_revoked), a file that cannot be read or understood refuses every
// key: revocation fails closed. Read once per change of the file.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { parsePublicKeyLine } from './known-hosts.js';

/** `revoked`, `not-revoked`, or why the file cannot be used. */
export type RevocationCheck = { readonly revoked: boolean; readonly problem?: undefined } | { readonly revoked?: undefined; readonly problem: string };

interface RevokedSet {
  readonly signature: string;
  readonly blobs: ReadonlySet<string>;
  readonly sha1: ReadonlySet<string>;
  readonly sha256: ReadonlySet<string>;
  readonly problem?: string;
}

const cache = new Map<string, RevokedSet>();
const MAX_FILES = 16;

const KRL_MAGIC = Buffer.from('SSHKRL\n\0', 'latin1');
const KRL_FORMAT_VERSION = 1;
const SECTION = { certificates: 1, explicitKey: 2, sha1: 3, signature: 4, sha256: 5 } as const;
/** Certificate subsections: serial list, range, bitmap, key ID. */
const CERT_SECTIONS = new Set([0x20, 0x21, 0x22, 0x23]);

/** Whether `file` revokes the plain public key `keyBlob`. */
export function checkRevoked(file: string, keyBlob: Buffer): RevocationCheck {
  const set = load(file);
  if (set.problem !== undefined) return { problem: set.problem };
  const base64 = keyBlob.toString('base64');
  return {
    revoked:
      set.blobs.has(base64) ||
      set.sha1.has(createHash('sha1').update(keyBlob).digest('base64')) ||
      set.sha256.has(createHash('sha256').update(keyBlob).digest('base64')),
  };
}

function load(file: string): RevokedSet {
  let signature: string;
  try {
    const stats = statSync(file, { bigint: true });
    signature = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
  } catch (error) {
    return failed('', `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const cached = cache.get(file);
  if (cached?.signature === signature) return cached;
  let set: RevokedSet;
  try {
    const bytes = readFileSync(file);
    set = bytes.subarray(0, KRL_MAGIC.length).equals(KRL_MAGIC) ? parseKrl(bytes, signature, file) : parseKeyList(bytes.toString('utf8'), signature, file);
  } catch (error) {
    set = failed(signature, `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (cache.size >= MAX_FILES && !cache.has(file)) cache.delete(cache.keys().next().value!);
  cache.set(file, set);
  return set;
}

function failed(signature: string, problem: string): RevokedSet {
  return { signature, blobs: new Set(), sha1: new Set(), sha256: new Set(), problem };
}

/** authfile.c sshkey_in_file: every line that is not blank or a comment must be a key. */
function parseKeyList(text: string, signature: string, file: string): RevokedSet {
  const blobs = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/^[ \t]+/, '');
    if (line === '' || line === '\r' || line.startsWith('#')) continue;
    const blob = parsePublicKeyLine(line);
    if (!blob) return failed(signature, `${file} line ${i + 1} is not a public key sshpool can read (certificates and key options are not supported in a revoked keys list)`);
    blobs.add(blob.toString('base64'));
  }
  return { signature, blobs, sha1: new Set(), sha256: new Set() };
}

class Reader {
  #at = 0;
  constructor(readonly bytes: Buffer) {}

  get left(): number {
    return this.bytes.length - this.#at;
  }

  skip(count: number): void {
    if (count > this.left) throw new RangeError('truncated');
    this.#at += count;
  }

  u8(): number {
    if (this.left < 1) throw new RangeError('truncated');
    return this.bytes[this.#at++]!;
  }

  u32(): number {
    if (this.left < 4) throw new RangeError('truncated');
    const value = this.bytes.readUInt32BE(this.#at);
    this.#at += 4;
    return value;
  }

  string(): Buffer {
    const length = this.u32();
    if (length > this.left) throw new RangeError('truncated');
    const value = this.bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return value;
  }
}

/**
 * krl.c ssh_krl_from_blob, for what can revoke a plain host key: explicit keys, SHA-1 and
 * SHA-256 fingerprints. Certificate sections cannot revoke a plain key and are only checked
 * for shape; signed KRLs and unknown sections are refused.
 */
function parseKrl(bytes: Buffer, signature: string, file: string): RevokedSet {
  const blobs = new Set<string>();
  const sha1 = new Set<string>();
  const sha256 = new Set<string>();
  try {
    const reader = new Reader(bytes);
    reader.skip(KRL_MAGIC.length);
    if (reader.u32() !== KRL_FORMAT_VERSION) return failed(signature, `${file}: unsupported KRL format version`);
    reader.skip(24); // krl_version, generated_date, flags
    reader.string(); // reserved
    reader.string(); // comment
    while (reader.left > 0) {
      const type = reader.u8();
      const section = new Reader(reader.string());
      switch (type) {
        case SECTION.certificates:
          section.string(); // CA key
          section.string(); // reserved
          while (section.left > 0) {
            const certType = section.u8();
            section.string();
            if (!CERT_SECTIONS.has(certType)) return failed(signature, `${file}: unsupported KRL certificate section ${certType}`);
          }
          break;
        case SECTION.explicitKey:
          while (section.left > 0) blobs.add(section.string().toString('base64'));
          break;
        case SECTION.sha1:
        case SECTION.sha256: {
          const length = type === SECTION.sha1 ? 20 : 32;
          while (section.left > 0) {
            const hash = section.string();
            if (hash.length !== length) return failed(signature, `${file}: malformed KRL fingerprint section`);
            (type === SECTION.sha1 ? sha1 : sha256).add(hash.toString('base64'));
          }
          break;
        }
        case SECTION.signature:
          // ssh verifies the signature over the KRL; sshpool does not, so it does not use the file.
          return failed(signature, `${file}: signed KRLs are not supported (sshpool cannot verify the signature)`);
        default:
          return failed(signature, `${file}: unsupported KRL section ${type}`);
      }
    }
  } catch {
    return failed(signature, `${file}: malformed KRL`);
  }
  return { signature, blobs, sha1, sha256 };
}
