// Turns private key text (target.privateKey or an IdentityFile) into a usable key, or into a
// PrivateKeyError that says what is wrong in words: ssh2's own messages ("Malformed OpenSSH
// private key") do not say whether a passphrase is missing, wrong, or the format unreadable.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { PrivateKeyError } from '../../core/errors.js';
import { fingerprintOf } from '../host-keys/host-key-verifier.js';

/** One identity that may be offered to a server. Holds key material: never log it. */
export interface IdentityKey {
  /** `target.privateKey` or the key file's path: what messages name. */
  readonly source: string;
  /** The decrypted private key; undefined for an encrypted key without passphrase (usable only when an agent holds it). */
  readonly privateKey: ParsedKey | undefined;
  /** SSH wire-format public key: how agent keys are matched to identity files. */
  readonly publicBlob: Buffer;
  /** e.g. `ssh-ed25519` */
  readonly keyType: string;
  /** `SHA256:...` of the public key */
  readonly fingerprint: string;
}

/**
 * Parses `text`. An unencrypted key ignores `passphrase` (ssh2 would reject an unencrypted PPK
 * given one). Throws PrivateKeyError: passphrase-required, wrong-passphrase or unsupported-format.
 */
export function parsePrivateKey(text: string | Buffer, passphrase: string | undefined, source: string): IdentityKey {
  // Decrypting an OpenSSH key runs bcrypt-pbkdf in JavaScript (about 1.5 s at 16 rounds) and
  // blocks the event loop: each distinct key and passphrase is decrypted once per process.
  const cacheKey = createHash('sha256').update(text).update('\0').update(passphrase ?? '\u0000none').update('\0').update(source).digest('hex');
  const cached = decrypted.get(cacheKey);
  if (cached) return cached;
  const identity = parseUncached(text, passphrase, source);
  if (decrypted.size >= MAX_CACHED_KEYS) decrypted.delete(decrypted.keys().next().value!);
  decrypted.set(cacheKey, identity);
  return identity;
}

const MAX_CACHED_KEYS = 64;
const decrypted = new Map<string, IdentityKey>();

function parseUncached(text: string | Buffer, passphrase: string | undefined, source: string): IdentityKey {
  const plain = parseOne(text, undefined);
  if (!(plain instanceof Error)) return identityOf(plain, source);
  if (!/no passphrase given/i.test(plain.message)) throw unsupported(text, source, plain);
  if (passphrase === undefined) {
    throw new PrivateKeyError(`${source} is encrypted and no passphrase was given (set passphrase on the target)`, source, 'passphrase-required');
  }
  const key = parseOne(text, passphrase);
  if (key instanceof Error) {
    // ssh2 reports a wrong passphrase as an integrity or format failure of the decrypted bytes.
    throw new PrivateKeyError(`${source}: the passphrase does not decrypt this key`, source, 'wrong-passphrase');
  }
  return identityOf(key, source);
}

/**
 * Reads a key file for use as an identity. An encrypted key without passphrase yields an
 * identity without private key when `<file>.pub` exists (an agent may hold it, as ssh assumes);
 * otherwise the PrivateKeyError is thrown.
 */
export function loadIdentityFile(path: string, passphrase: string | undefined): IdentityKey {
  let text: Buffer;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    checkKeyFilePermissions(path, fd);
    text = readFileSync(fd);
  } catch (error) {
    if (error instanceof PrivateKeyError) throw error;
    throw new PrivateKeyError(`cannot read key file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, path, 'unreadable', { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  try {
    return parsePrivateKey(text, passphrase, path);
  } catch (error) {
    if (!(error instanceof PrivateKeyError) || error.reason !== 'passphrase-required') throw error;
    let publicText: Buffer;
    try {
      publicText = readFileSync(`${path}.pub`);
    } catch {
      throw error;
    }
    const parsed = parseOne(publicText, undefined);
    if (parsed instanceof Error) throw error;
    return { source: path, privateKey: undefined, publicBlob: parsed.getPublicSSH(), keyType: parsed.type, fingerprint: fingerprintOf(parsed.getPublicSSH()) };
  }
}

/**
 * authfile.c sshkey_perm_ok: a key file of the user's own that its group or others may access
 * is refused, with ssh's words. Files of other owners are not checked, as in ssh.
 */
function checkKeyFilePermissions(path: string, fd: number): void {
  if (process.platform === 'win32' || process.getuid === undefined) return;
  const stats = fstatSync(fd);
  if (stats.uid !== process.getuid() || (stats.mode & 0o077) === 0) return;
  const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
  throw new PrivateKeyError(
    `WARNING: UNPROTECTED PRIVATE KEY FILE! Permissions ${mode} for '${path}' are too open. ` +
      'It is required that your private key files are NOT accessible by others. This private key will be ignored (chmod 600 it).',
    path,
    'unprotected',
  );
}

function parseOne(text: string | Buffer, passphrase: string | undefined): ParsedKey | Error {
  let parsed: ParsedKey | ParsedKey[] | Error;
  try {
    parsed = ssh2.utils.parseKey(text, passphrase) as ParsedKey | ParsedKey[] | Error;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  if (parsed instanceof Error) return parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return key ?? new Error('no key found');
}

function identityOf(key: ParsedKey, source: string): IdentityKey {
  if (!key.isPrivateKey()) {
    throw new PrivateKeyError(`${source} is a public key; give the private key`, source, 'unsupported-format');
  }
  const publicBlob = key.getPublicSSH();
  return { source, privateKey: key, publicBlob, keyType: key.type, fingerprint: fingerprintOf(publicBlob) };
}

/** Names the format ssh2 could not read and how to convert it. */
function unsupported(text: string | Buffer, source: string, cause: Error): PrivateKeyError {
  const head = (typeof text === 'string' ? text : text.subarray(0, 200).toString('latin1')).trimStart().slice(0, 200);
  let what: string;
  if (/^PuTTY-User-Key-File-3:/.test(head)) {
    what = 'PuTTY PPK version 3 keys are not supported by ssh2; convert it: puttygen KEY.ppk -O private-openssh-new -o KEY';
  } else if (/^PuTTY-User-Key-File-2:/.test(head)) {
    what = 'ssh2 reads PuTTY PPK version 2 only for RSA keys; convert it: puttygen KEY.ppk -O private-openssh-new -o KEY';
  } else if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(head)) {
    what = 'PKCS#8 keys ("BEGIN PRIVATE KEY") are not supported by ssh2; rewrite it in OpenSSH format: ssh-keygen -p -f KEY';
  } else if (/-----BEGIN SSH2 ENCRYPTED PRIVATE KEY-----/.test(head)) {
    what = 'SSH.com (RFC 4716) private keys are not supported; convert it: ssh-keygen -i -f KEY';
  } else {
    what = `not a private key ssh2 can read (${cause.message}); supported: OpenSSH, PEM (PKCS#1 RSA, SEC1 EC, DSA) and PuTTY PPK v2 RSA`;
  }
  return new PrivateKeyError(`${source}: ${what}`, source, 'unsupported-format');
}
