import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from './errors.js';
import type { HostKeyRejection } from './errors.js';
import type { HostKeyPolicy, HostKeyVerification } from './types.js';
import { describe, isPlainObject } from './validation.js';

/** A host-key verification setting with defaults filled in. */
export interface ResolvedHostKeyVerification {
  readonly policy: HostKeyPolicy;
  readonly knownHostsFile: string;
  readonly fingerprints: readonly string[] | undefined;
  /** Name looked up instead of `host`/`[host]:port` (OpenSSH HostKeyAlias). */
  readonly alias?: string;
  /** Further known_hosts files, read but never written (OpenSSH's other UserKnownHostsFile and GlobalKnownHostsFile entries). */
  readonly extraKnownHostsFiles?: readonly string[];
}

export interface HostKeyVerdict {
  readonly accepted: boolean;
  readonly reason?: HostKeyRejection;
  readonly keyType: string;
  readonly fingerprint: string;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

export function resolveHostKeyVerification(setting: HostKeyPolicy | HostKeyVerification | undefined): ResolvedHostKeyVerification {
  const defaultFile = join(homedir(), '.ssh', 'known_hosts');
  if (setting === undefined) return { policy: 'strict', knownHostsFile: defaultFile, fingerprints: undefined };
  if (typeof setting === 'string') {
    checkPolicy(setting, 'hostKey');
    return { policy: setting, knownHostsFile: defaultFile, fingerprints: undefined };
  }
  if (!isPlainObject(setting)) throw new InvalidArgumentError(`hostKey must be a policy name or an object, got ${describe(setting)}`);
  for (const key of Object.keys(setting)) {
    if (!HOST_KEY_OPTIONS.includes(key)) {
      throw new InvalidArgumentError(`hostKey.${key} is not a known option (known: ${HOST_KEY_OPTIONS.join(', ')})`);
    }
  }
  const policy = setting.policy ?? 'strict';
  checkPolicy(policy, 'hostKey.policy');
  if (setting.knownHostsFile !== undefined && (typeof setting.knownHostsFile !== 'string' || setting.knownHostsFile === '')) {
    throw new InvalidArgumentError(`hostKey.knownHostsFile must be a file path, got ${describe(setting.knownHostsFile)}`);
  }
  let fingerprints: string[] | undefined;
  if (setting.fingerprints !== undefined) {
    if (!Array.isArray(setting.fingerprints) || setting.fingerprints.length === 0) {
      throw new InvalidArgumentError('hostKey.fingerprints must be a non-empty array of "SHA256:..." strings');
    }
    fingerprints = setting.fingerprints.map((fp, i) => {
      if (typeof fp !== 'string' || !FINGERPRINT.test(fp.trim())) {
        throw new InvalidArgumentError(`hostKey.fingerprints[${i}] must look like "SHA256:<43 base64 characters>", got ${describe(fp)}`);
      }
      return fp.trim().replace(/=$/, '');
    });
  }
  const resolved: { -readonly [K in keyof ResolvedHostKeyVerification]: ResolvedHostKeyVerification[K] } = {
    policy,
    knownHostsFile: setting.knownHostsFile ?? defaultFile,
    fingerprints,
  };
  if (setting.alias !== undefined) {
    if (typeof setting.alias !== 'string' || setting.alias === '' || /\s/.test(setting.alias)) {
      throw new InvalidArgumentError(`hostKey.alias must be a host name, got ${describe(setting.alias)}`);
    }
    resolved.alias = setting.alias;
  }
  if (setting.extraKnownHostsFiles !== undefined) {
    if (!Array.isArray(setting.extraKnownHostsFiles) || setting.extraKnownHostsFiles.some((file) => typeof file !== 'string' || file === '')) {
      throw new InvalidArgumentError('hostKey.extraKnownHostsFiles must be an array of file paths');
    }
    if (setting.extraKnownHostsFiles.length > 0) resolved.extraKnownHostsFiles = [...setting.extraKnownHostsFiles];
  }
  return resolved;
}

const HOST_KEY_OPTIONS = ['policy', 'knownHostsFile', 'fingerprints', 'alias', 'extraKnownHostsFiles'];

function checkPolicy(value: unknown, path: string): asserts value is HostKeyPolicy {
  if (value !== 'strict' && value !== 'accept-new' && value !== 'off') {
    throw new InvalidArgumentError(`${path} must be 'strict', 'accept-new' or 'off', got ${describe(value)}`);
  }
}

/** `SHA256:<base64 without padding>`, the format `ssh-keygen -lf` prints. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type is the first length-prefixed string of an SSH public key blob. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const length = keyBlob.readUInt32BE(0);
  if (length > 64 || keyBlob.length < 4 + length) return 'unknown';
  return keyBlob.subarray(4, 4 + length).toString('latin1');
}

/** How known_hosts names a host: bare for port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

interface KnownHostEntry {
  readonly marker: '' | '@revoked' | '@cert-authority';
  readonly patterns: string;
  readonly keyType: string;
  readonly keyBlob: Buffer;
}

function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [patterns, keyType, base64] = fields;
    if (!patterns || !keyType || !base64) continue;
    entries.push({ marker, patterns, keyType, keyBlob: Buffer.from(base64, 'base64') });
  }
  return entries;
}

/** Hashed entries are `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. */
function matchesHashed(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

function wildcardToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/** OpenSSH semantics: comma-separated patterns, `!` negates and wins over any positive match. */
function matchesHost(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return matchesHashed(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    if (wildcardToRegExp(body).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Checks a presented host key against one resolved policy. */
export function verifyHostKey(
  verification: ResolvedHostKeyVerification,
  host: string,
  port: number,
  keyBlob: Buffer,
): HostKeyVerdict {
  const keyType = keyTypeOf(keyBlob);
  const fingerprint = fingerprintOf(keyBlob);
  const verdict = (accepted: boolean, reason?: HostKeyRejection): HostKeyVerdict =>
    reason ? { accepted, reason, keyType, fingerprint } : { accepted, keyType, fingerprint };

  if (verification.policy === 'off') return verdict(true);
  if (verification.fingerprints) {
    return verification.fingerprints.includes(fingerprint) ? verdict(true) : verdict(false, 'not-pinned');
  }

  const name = verification.alias ?? knownHostsName(host, port);
  let text = '';
  for (const file of [verification.knownHostsFile, ...(verification.extraKnownHostsFiles ?? [])]) {
    try {
      text += `${readFileSync(file, 'utf8')}\n`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const entries = parseKnownHosts(text).filter((entry) => matchesHost(entry.patterns, name));
  if (entries.some((entry) => entry.marker === '@revoked' && entry.keyBlob.equals(keyBlob))) {
    return verdict(false, 'revoked');
  }
  const plain = entries.filter((entry) => entry.marker === '');
  if (plain.some((entry) => entry.keyBlob.equals(keyBlob))) return verdict(true);
  // A known host presenting another key of the same type is the classic MITM sign; OpenSSH
  // still accepts a key of a type it has no record of only as "new".
  if (plain.some((entry) => entry.keyType === keyType)) return verdict(false, 'mismatch');
  if (plain.length > 0 && verification.policy === 'strict') return verdict(false, 'mismatch');
  if (verification.policy === 'accept-new') {
    recordHostKey(verification.knownHostsFile, name, keyType, keyBlob);
    return verdict(true);
  }
  return verdict(false, 'unknown');
}

function recordHostKey(file: string, name: string, keyType: string, keyBlob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${name} ${keyType} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
}

/** An actionable message: what was presented, and the three ways forward. */
export function describeRejection(host: string, port: number, verdict: HostKeyVerdict, verification: ResolvedHostKeyVerification): string {
  const name = verification.alias ?? knownHostsName(host, port);
  const key = `${verdict.keyType} key ${verdict.fingerprint}`;
  switch (verdict.reason) {
    case 'mismatch':
      return `Host key for ${name} has CHANGED: the server presented ${key}, which does not match ${verification.knownHostsFile}. ` +
        'Someone may be intercepting the connection, or the host was reinstalled; verify the new key out of band, ' +
        `then replace the old line (ssh-keygen -R '${name}' -f ${verification.knownHostsFile}).`;
    case 'revoked':
      return `Host key for ${name} is marked @revoked in ${verification.knownHostsFile}: the server presented ${key}.`;
    case 'not-pinned':
      return `Host key for ${name} is not one of the pinned fingerprints: the server presented ${key}.`;
    default:
      return `Host key for ${name} is not known: the server presented ${key}, and ${verification.knownHostsFile} has no entry for it. ` +
        `Verify the fingerprint, then add it (ssh-keyscan -p ${port} ${host} >> ${verification.knownHostsFile}), ` +
        "pin it with hostKey: { fingerprints: ['" + verdict.fingerprint + "'] }, or use hostKey: 'accept-new'.";
  }
}
