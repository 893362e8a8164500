import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import { InvalidArgumentError } from '../../core/errors.js';
import type { HostKeyRejection } from '../../core/errors.js';
import { openSSHEnvironment } from '../../core/openssh-environment.js';
import { knownHostsName } from './known-hosts.js';
import { lookupKnownHosts, warmKnownHosts } from './known-hosts-index.js';
import type { KnownHostFileEntry } from './known-hosts-index.js';
import { checkRevoked } from './revoked-keys.js';
import type { HostKeyPolicy, HostKeyVerification } from './host-key-policy.js';
import { describe, isPlainObject } from '../../core/validation.js';

export { knownHostsName } from './known-hosts.js';

/** A host-key verification setting with defaults filled in. */
export interface ResolvedHostKeyVerification {
  readonly policy: HostKeyPolicy;
  /** The file `accept-new` records in; undefined: none (UserKnownHostsFile none). */
  readonly knownHostsFile: string | undefined;
  readonly fingerprints: readonly string[] | undefined;
  /** Name looked up instead of `host`/`[host]:port` (OpenSSH HostKeyAlias). */
  readonly alias?: string;
  /** Further user known_hosts files, read but never written (OpenSSH's other UserKnownHostsFile entries). */
  readonly extraKnownHostsFiles?: readonly string[];
  /** System-wide known_hosts files, read after the user's (GlobalKnownHostsFile). */
  readonly globalKnownHostsFiles: readonly string[];
  /** RevokedHostKeys file. */
  readonly revokedHostKeys?: string;
}

export interface HostKeyVerdict {
  readonly accepted: boolean;
  readonly reason?: HostKeyRejection;
  readonly keyType: string;
  readonly fingerprint: string;
  /** Line of known_hosts that decided a rejection (the revoked or the differing entry). */
  readonly line?: number;
  /** The file of `line`, or the RevokedHostKeys file that revoked the key. */
  readonly file?: string;
  /** For a mismatch: the key types recorded for the host. */
  readonly knownKeyTypes?: readonly string[];
  /** Why known_hosts could not be used at all (unreadable, a directory, not writable). */
  readonly problem?: string;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** The known_hosts files a target reads when it names none. */
interface KnownHostsDefaults {
  readonly knownHostsFile: string;
  readonly extraKnownHostsFiles: readonly string[];
  readonly globalKnownHostsFiles: readonly string[];
}

let lastDefaults: { readonly home: string; readonly system: readonly string[]; readonly files: KnownHostsDefaults } | undefined;

/**
 * UserKnownHostsFile's default: ~/.ssh/known_hosts, then ~/.ssh/known_hosts2 (read only); and
 * the system files. Built once per home and system list, frozen, and shared by every target
 * resolved with them, instead of new paths and lists for each of a fleet's hosts.
 */
function knownHostsDefaults(home: string, system: readonly string[]): KnownHostsDefaults {
  if (lastDefaults?.home === home && lastDefaults.system === system) return lastDefaults.files;
  const files: KnownHostsDefaults = Object.freeze({
    knownHostsFile: join(home, '.ssh', 'known_hosts'),
    extraKnownHostsFiles: Object.freeze([join(home, '.ssh', 'known_hosts2')]),
    globalKnownHostsFiles: Object.freeze([...system]),
  });
  lastDefaults = { home, system, files };
  return files;
}

export function resolveHostKeyVerification(setting: HostKeyPolicy | HostKeyVerification | undefined): ResolvedHostKeyVerification {
  const environment = openSSHEnvironment();
  const defaults = knownHostsDefaults(environment.home, environment.globalKnownHostsFiles);
  if (setting === undefined) return { policy: 'strict', fingerprints: undefined, ...defaults };
  if (typeof setting === 'string') {
    checkPolicy(setting, 'hostKey');
    return { policy: setting, fingerprints: undefined, ...defaults };
  }
  if (!isPlainObject(setting)) throw new InvalidArgumentError(`hostKey must be a policy name or an object, got ${describe(setting)}`);
  for (const key of Object.keys(setting)) {
    if (!HOST_KEY_OPTIONS.includes(key)) {
      throw new InvalidArgumentError(`hostKey.${key} is not a known option (known: ${HOST_KEY_OPTIONS.join(', ')})`);
    }
  }
  const policy = setting.policy ?? 'strict';
  checkPolicy(policy, 'hostKey.policy');
  if (setting.knownHostsFile !== undefined && setting.knownHostsFile !== false && (typeof setting.knownHostsFile !== 'string' || setting.knownHostsFile === '')) {
    throw new InvalidArgumentError(`hostKey.knownHostsFile must be a file path or false, got ${describe(setting.knownHostsFile)}`);
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
  const files = (value: unknown, path: string): string[] => {
    if (!Array.isArray(value) || value.some((file) => typeof file !== 'string' || file === '')) {
      throw new InvalidArgumentError(`${path} must be an array of file paths`);
    }
    return [...(value as string[])];
  };
  // A known_hosts file given (or none) replaces the default pair, as UserKnownHostsFile does.
  const userFilesGiven = setting.knownHostsFile !== undefined;
  const resolved: { -readonly [K in keyof ResolvedHostKeyVerification]: ResolvedHostKeyVerification[K] } = {
    policy,
    knownHostsFile: userFilesGiven ? (setting.knownHostsFile || undefined) : defaults.knownHostsFile,
    fingerprints,
    globalKnownHostsFiles: setting.globalKnownHostsFiles === undefined ? defaults.globalKnownHostsFiles : files(setting.globalKnownHostsFiles, 'hostKey.globalKnownHostsFiles'),
  };
  if (setting.alias !== undefined) {
    if (typeof setting.alias !== 'string' || setting.alias === '' || /\s/.test(setting.alias)) {
      throw new InvalidArgumentError(`hostKey.alias must be a host name, got ${describe(setting.alias)}`);
    }
    resolved.alias = setting.alias;
  }
  const extra = setting.extraKnownHostsFiles === undefined
    ? (userFilesGiven ? [] : defaults.extraKnownHostsFiles)
    : files(setting.extraKnownHostsFiles, 'hostKey.extraKnownHostsFiles');
  if (extra.length > 0) resolved.extraKnownHostsFiles = extra;
  if (setting.revokedHostKeys !== undefined) {
    if (typeof setting.revokedHostKeys !== 'string' || setting.revokedHostKeys === '') {
      throw new InvalidArgumentError(`hostKey.revokedHostKeys must be a file path, got ${describe(setting.revokedHostKeys)}`);
    }
    resolved.revokedHostKeys = setting.revokedHostKeys;
  }
  return resolved;
}

const HOST_KEY_OPTIONS = ['policy', 'knownHostsFile', 'fingerprints', 'alias', 'extraKnownHostsFiles', 'globalKnownHostsFiles', 'revokedHostKeys'];

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

/** Every known_hosts file of a policy, in ssh's order: the user's, then the global ones. */
function knownHostsFiles(verification: ResolvedHostKeyVerification): string[] {
  return [
    ...(verification.knownHostsFile === undefined ? [] : [verification.knownHostsFile]),
    ...(verification.extraKnownHostsFiles ?? []),
    ...verification.globalKnownHostsFiles,
  ];
}

/** The names a host's key is looked up under: `[host]:port` (or the alias), and the bare name for other ports. */
function lookupNames(verification: ResolvedHostKeyVerification, host: string, port: number): { name: string; bareName: string | undefined } {
  const name = verification.alias ?? knownHostsName(host, port);
  // OpenSSH also consults the bare name for other ports; not with an alias.
  const bareName = port === 22 || verification.alias !== undefined ? undefined : knownHostsName(host, 22);
  return { name, bareName };
}

/**
 * Reads the known_hosts files of a policy and looks the host up ahead of a connect, letting
 * the event loop run while a large hashed file is searched; the handshake's synchronous
 * checks then find the answer ready. Never rejects.
 */
export async function prepareHostKeyVerification(verification: ResolvedHostKeyVerification, host: string, port: number): Promise<void> {
  if (verification.policy === 'off' || verification.fingerprints) return;
  const { name, bareName } = lookupNames(verification, host, port);
  await warmKnownHosts(knownHostsFiles(verification), bareName === undefined ? [name] : [name, bareName]);
}

/**
 * ssh2's default server host key algorithms, in its order of preference (ssh2 1.17,
 * lib/protocol/constants.js DEFAULT_SERVER_HOST_KEY; a unit test keeps the two in step).
 */
export const SSH2_DEFAULT_HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = Object.freeze([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
]);

/** The key type (as a key blob names it) an algorithm negotiates. */
function keyTypeOfAlgorithm(algorithm: ServerHostKeyAlgorithm): string {
  return algorithm.startsWith('rsa-sha2-') ? 'ssh-rsa' : algorithm;
}

/**
 * The server host key algorithms to offer, ordered the way OpenSSH's order_hostkeyalgs does:
 * when the most preferred algorithm's key type is already recorded for `[host]:port`, the
 * default order as is; otherwise the algorithms whose key types are recorded first, the rest
 * after, each group in default order. Without this a server with several host keys presents
 * the one sshpool prefers (ed25519), and a host known only by its ecdsa key looks changed.
 * Undefined when nothing is recorded (or known_hosts is not used): ssh2's default applies.
 */
export function preferredHostKeyAlgorithms(
  verification: ResolvedHostKeyVerification,
  host: string,
  port: number,
): ServerHostKeyAlgorithm[] | undefined {
  if (verification.policy === 'off' || verification.fingerprints) return undefined;
  const { name } = lookupNames(verification, host, port);
  const found = lookupKnownHosts(knownHostsFiles(verification), name);
  const known = new Set((found.entries ?? []).filter((entry) => entry.marker === '').map((entry) => entry.keyType));
  if (known.size === 0) return undefined;
  const all = [...SSH2_DEFAULT_HOST_KEY_ALGORITHMS];
  if (known.has(keyTypeOfAlgorithm(all[0]!))) return all;
  const first = all.filter((algorithm) => known.has(keyTypeOfAlgorithm(algorithm)));
  const last = all.filter((algorithm) => !known.has(keyTypeOfAlgorithm(algorithm)));
  return [...first, ...last];
}

/**
 * Checks a presented host key against one resolved policy, deciding as OpenSSH's
 * verify_host_key and check_host_key do (see the README's Security model for the deliberate
 * differences):
 * - a key the RevokedHostKeys file lists is refused, and every key when that file cannot be used;
 * - a key marked `@revoked` for the host is refused;
 * - a key recorded for the host is accepted;
 * - a host with any other key recorded, of any type, in any of the files (user's and global),
 *   has CHANGED: refused under every policy, never appended (a host known under any key type
 *   is a known host);
 * - for a port other than 22, a key recorded under the bare host name is accepted;
 * - otherwise the host is unknown: refused under `strict`, recorded under `accept-new`.
 */
export function verifyHostKey(
  verification: ResolvedHostKeyVerification,
  host: string,
  port: number,
  keyBlob: Buffer,
): HostKeyVerdict {
  const keyType = keyTypeOf(keyBlob);
  const fingerprint = fingerprintOf(keyBlob);
  const verdict = (accepted: boolean, reason?: HostKeyRejection, extra: Partial<HostKeyVerdict> = {}): HostKeyVerdict =>
    reason ? { accepted, reason, keyType, fingerprint, ...extra } : { accepted, keyType, fingerprint, ...extra };

  if (verification.policy === 'off') return verdict(true);
  if (verification.revokedHostKeys !== undefined) {
    const check = checkRevoked(verification.revokedHostKeys, keyBlob);
    if (check.problem !== undefined) return verdict(false, 'revoked', { problem: `the revoked keys file cannot be used: ${check.problem}` });
    if (check.revoked) return verdict(false, 'revoked', { file: verification.revokedHostKeys });
  }
  if (verification.fingerprints) {
    return verification.fingerprints.includes(fingerprint) ? verdict(true) : verdict(false, 'not-pinned');
  }

  const files = knownHostsFiles(verification);
  const { name, bareName } = lookupNames(verification, host, port);
  const found = lookupKnownHosts(files, name);
  if (found.problem !== undefined) return verdict(false, 'unknown', { problem: found.problem });
  const forName = found.entries;
  let forBareName: readonly KnownHostFileEntry[] = [];
  if (bareName !== undefined) {
    const bare = lookupKnownHosts(files, bareName);
    if (bare.problem !== undefined) return verdict(false, 'unknown', { problem: bare.problem });
    forBareName = bare.entries;
  }

  // A revocation under the bare name counts too.
  const revoked = [...forName, ...forBareName].find((entry) => entry.marker === '@revoked' && entry.keyBlob.equals(keyBlob));
  if (revoked) return verdict(false, 'revoked', { line: revoked.line, file: revoked.file });
  const plain = forName.filter((entry) => entry.marker === '');
  if (plain.some((entry) => entry.keyBlob.equals(keyBlob))) return verdict(true);
  if (plain.length > 0) {
    return verdict(false, 'mismatch', { line: plain[0]!.line, file: plain[0]!.file, knownKeyTypes: [...new Set(plain.map((entry) => entry.keyType))] });
  }
  // "checking without port identifier": a key recorded for the bare name vouches for any port.
  if (forBareName.some((entry) => entry.marker === '' && entry.keyBlob.equals(keyBlob))) return verdict(true);
  if (verification.policy === 'strict') return verdict(false, 'unknown');
  if (verification.knownHostsFile === undefined) {
    // Trusting a key that is recorded nowhere would make every reconnect a new first use.
    return verdict(false, 'unknown', { problem: 'accept-new has no known_hosts file to record the new key in (UserKnownHostsFile none / knownHostsFile: false)' });
  }
  try {
    recordHostKey(verification.knownHostsFile, name, keyType, keyBlob);
  } catch (error) {
    // Trusting a key that cannot be recorded would make every reconnect a new first use.
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    return verdict(false, 'unknown', { problem: `the new key could not be recorded in ${verification.knownHostsFile} (${code})` });
  }
  return verdict(true);
}

function recordHostKey(file: string, name: string, keyType: string, keyBlob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const line = `${name} ${keyType} ${keyBlob.toString('base64')}\n`;
  // A file whose last line has no newline would otherwise have that line and ours glued together.
  let prefix = '';
  try {
    const size = statSync(file).size;
    if (size > 0) {
      const fd = openSync(file, 'r');
      try {
        const last = Buffer.alloc(1);
        readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      } finally {
        closeSync(fd);
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  appendFileSync(file, prefix + line, { mode: 0o600 });
}

/** An actionable message: what was presented, and the ways forward. */
export function describeRejection(host: string, port: number, verdict: HostKeyVerdict, verification: ResolvedHostKeyVerification): string {
  const name = verification.alias ?? knownHostsName(host, port);
  const key = `${verdict.keyType} key ${verdict.fingerprint}`;
  const files = knownHostsFiles(verification);
  const file = verdict.file ?? verification.knownHostsFile ?? files[0] ?? 'known_hosts';
  const at = verdict.line === undefined ? file : `${file}:${verdict.line}`;
  if (verdict.problem) {
    return `Host key for ${name} cannot be verified: ${verdict.problem}. The server presented ${key}.`;
  }
  switch (verdict.reason) {
    case 'mismatch': {
      const known = verdict.knownKeyTypes?.length ? ` (recorded: ${verdict.knownKeyTypes.join(', ')})` : '';
      return `Host key for ${name} has CHANGED: the server presented ${key}, which does not match the key${known} in ${at}. ` +
        'Someone may be intercepting the connection, or the host was reinstalled; verify the new key out of band, ' +
        `then replace the old line (ssh-keygen -R '${name}' -f ${file}).`;
    }
    case 'revoked':
      return verdict.line === undefined
        ? `Host key for ${name} is revoked by ${file} (RevokedHostKeys): the server presented ${key}.`
        : `Host key for ${name} is marked @revoked in ${at}: the server presented ${key}.`;
    case 'not-pinned':
      return `Host key for ${name} is not one of the pinned fingerprints: the server presented ${key}.`;
    default: {
      const searched = files.length === 0 ? 'no known_hosts file is configured' : `${files.join(', ')} ${files.length === 1 ? 'has' : 'have'} no entry for it`;
      return `Host key for ${name} is not known: the server presented ${key}, and ${searched}. ` +
        `Verify the fingerprint, then add it (ssh-keyscan -p ${port} ${host} >> ${file}), ` +
        "pin it with hostKey: { fingerprints: ['" + verdict.fingerprint + "'] }, or use hostKey: 'accept-new'.";
    }
  }
}
