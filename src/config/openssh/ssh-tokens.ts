// `~`, `${VAR}` and `%x` expansion in ssh_config values, as ssh(1) does it for IdentityFile,
// IdentityAgent, UserKnownHostsFile and the like (ssh_config(5) TOKENS).
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../core/errors.js';

/** What the `%` tokens stand for, for one resolved destination. */
export interface TokenValues {
  /** `%d`: local home directory */
  readonly home: string;
  /** `%u`: local user name */
  readonly localUser: string;
  /** `%i`: local user id */
  readonly uid: string;
  /** `%l`: local host name, `%L` its first label */
  readonly localHost: string;
  /** `%h`: remote host name (after `HostName`) */
  readonly host: string;
  /** `%n`: the name the caller gave */
  readonly originalHost: string;
  /** `%p` */
  readonly port: number;
  /** `%r`: remote user name */
  readonly user: string;
  /** `%k`: `HostKeyAlias`, else the name the caller gave */
  readonly hostKeyAlias: string | undefined;
  /** `%j`: `ProxyJump` as written, or empty */
  readonly proxyJump: string | undefined;
}

/** `%C` as OpenSSH 9.2 computes it: SHA-1 of `%l%h%p%r`, hex. */
export function connectionHash(values: TokenValues): string {
  return createHash('sha1').update(`${values.localHost}${values.host}${values.port}${values.user}`).digest('hex');
}

/** Expands a leading `~` or `~/` to the home directory. `~otheruser` is refused, not guessed. */
export function expandTilde(value: string, home: string, where: string): string {
  if (value === '~') return home;
  if (value.startsWith('~/')) return `${home}${value.slice(1)}`;
  if (value.startsWith('~')) throw new InvalidArgumentError(`${where}: "~user" paths are not supported, write the full path`);
  return value;
}

/** `${NAME}` from the environment; an unset variable is an error, as in ssh(1). */
export function expandEnvironment(value: string, env: NodeJS.ProcessEnv, where: string): string {
  return value.replace(/\$\{([^}]*)\}/g, (_match, name: string) => {
    const found = env[name];
    if (found === undefined) throw new InvalidArgumentError(`${where}: environment variable \${${name}} is not set`);
    return found;
  });
}

/** Expands the `%` tokens allowed in file-like values (`%%`, `%C`, `%d`, `%h`, `%i`, `%j`, `%k`, `%L`, `%l`, `%n`, `%p`, `%r`, `%u`). */
export function expandTokens(value: string, values: TokenValues, where: string, allowed = 'CdhijkLlnpru'): string {
  return value.replace(/%(.?)/g, (_match, token: string) => {
    if (token === '%') return '%';
    if (token === '' || !allowed.includes(token)) {
      throw new InvalidArgumentError(`${where}: unknown or unsupported token "%${token}" (allowed here: %% ${[...allowed].map((t) => `%${t}`).join(' ')})`);
    }
    switch (token) {
      case 'C':
        return connectionHash(values);
      case 'd':
        return values.home;
      case 'h':
        return values.host;
      case 'i':
        return values.uid;
      case 'j':
        return values.proxyJump ?? '';
      case 'k':
        return values.hostKeyAlias ?? values.originalHost;
      case 'L':
        return values.localHost.split('.')[0] ?? values.localHost;
      case 'l':
        return values.localHost;
      case 'n':
        return values.originalHost;
      case 'p':
        return String(values.port);
      case 'r':
        return values.user;
      default:
        return values.localUser;
    }
  });
}

/** The usual order for paths: `~`, then environment variables, then `%` tokens. */
export function expandPath(value: string, values: TokenValues, env: NodeJS.ProcessEnv, where: string): string {
  return expandTokens(expandEnvironment(expandTilde(value, values.home, where), env, where), values, where);
}
