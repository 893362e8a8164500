import { createHash } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';
import { resolveHostKeyVerification } from './host-key-verifier.js';
import type { ResolvedHostKeyVerification } from './host-key-verifier.js';
import { validatePoolConfig } from './pool-config.js';
import { describe, isPlainObject } from './validation.js';
import type { Credentials } from './ssh-connection.js';
import type { PoolConfig, SSHTarget } from './types.js';

/** A validated target. `identity` separates credentials; it is an internal map key only. */
export interface NormalizedTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** `username@host:port` */
  readonly endpoint: string;
  readonly credentials: Credentials;
  readonly hostKey: ResolvedHostKeyVerification;
  readonly poolConfig: PoolConfig | undefined;
  /**
   * Digest of endpoint, credentials and host-key policy: two targets share connections only
   * when it is equal. Never shown anywhere: a digest of a password is still sensitive.
   */
  readonly identity: string;
}

const TARGET_KEYS = new Set(['host', 'port', 'username', 'privateKey', 'passphrase', 'password', 'agent', 'hostKey', 'poolConfig', 'pool']);

export function normalizeTarget(target: SSHTarget): NormalizedTarget {
  if (!isPlainObject(target)) throw new InvalidArgumentError(`the target must be an object, got ${describe(target)}`);
  for (const key of Object.keys(target)) {
    if (!TARGET_KEYS.has(key)) throw new InvalidArgumentError(`target.${key} is not a known option (known: ${[...TARGET_KEYS].join(', ')})`);
  }
  const { host, username } = target;
  const port = target.port ?? 22;
  if (typeof host !== 'string' || host.trim() === '' || /\s/.test(host)) {
    throw new InvalidArgumentError(`target.host must be a host name or address, got ${describe(host)}`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidArgumentError(`target.port must be an integer from 1 to 65535, got ${describe(port)}`);
  }
  if (typeof username !== 'string' || username === '' || /[\s@]/.test(username)) {
    throw new InvalidArgumentError(`target.username must be a user name, got ${describe(username)}`);
  }
  const credentials: { -readonly [K in keyof Credentials]: Credentials[K] } = {};
  if (target.privateKey !== undefined) {
    if (typeof target.privateKey !== 'string' && !Buffer.isBuffer(target.privateKey)) {
      throw new InvalidArgumentError('target.privateKey must be the key text (string or Buffer)');
    }
    if (target.privateKey.length === 0) throw new InvalidArgumentError('target.privateKey is empty');
    credentials.privateKey = target.privateKey;
  }
  if (target.passphrase !== undefined) {
    if (typeof target.passphrase !== 'string') throw new InvalidArgumentError('target.passphrase must be a string');
    if (target.privateKey === undefined) throw new InvalidArgumentError('target.passphrase is given without target.privateKey');
    credentials.passphrase = target.passphrase;
  }
  if (target.password !== undefined) {
    if (typeof target.password !== 'string') throw new InvalidArgumentError('target.password must be a string');
    credentials.password = target.password;
  }
  if (target.agent !== undefined) {
    if (target.agent === true) {
      const socket = process.env['SSH_AUTH_SOCK'];
      if (!socket) throw new InvalidArgumentError('target.agent is true but SSH_AUTH_SOCK is not set');
      credentials.agent = socket;
    } else if (typeof target.agent === 'string' && target.agent !== '') {
      credentials.agent = target.agent;
    } else {
      throw new InvalidArgumentError('target.agent must be an agent socket path or true');
    }
  }
  if (credentials.privateKey === undefined && credentials.password === undefined && credentials.agent === undefined) {
    throw new InvalidArgumentError('the target needs a credential: privateKey, password or agent');
  }
  const hostKey = resolveHostKeyVerification(target.hostKey);
  if (target.poolConfig !== undefined) validatePoolConfig(target.poolConfig, 'target.poolConfig');

  const endpoint = `${username}@${host}:${port}`;
  const digest = createHash('sha256');
  for (const part of [
    endpoint,
    credentials.privateKey ?? '',
    credentials.passphrase ?? '',
    credentials.password ?? '',
    credentials.agent ?? '',
    JSON.stringify(hostKey),
  ]) {
    // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
    const bytes = typeof part === 'string' ? Buffer.from(part) : part;
    digest.update(`${bytes.length}:`).update(bytes);
  }
  return {
    host,
    port,
    username,
    endpoint,
    credentials,
    hostKey,
    poolConfig: target.poolConfig,
    identity: `${endpoint}\n${digest.digest('hex')}`,
  };
}
