import { createHash } from 'node:crypto';
import { hostname as localHostname } from 'node:os';
import { InvalidArgumentError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import { openSSHEnvironment } from '../core/openssh-environment.js';
import { resolveHostKeyVerification } from '../ssh/host-keys/host-key-verifier.js';
import type { ResolvedHostKeyVerification } from '../ssh/host-keys/host-key-verifier.js';
import { validatePoolConfig } from './pool-config.js';
import { configFilePath } from './openssh/resolve-ssh-config.js';
import { loadConfigFile } from './openssh/config-file.js';
import { evaluateConfigFile } from './openssh/evaluate-config.js';
import type { ResolvedSSHConfig } from './openssh/evaluate-config.js';
import { parseJumpHost, parseProxyJump } from './openssh/proxy-jump.js';
import type { JumpSpec } from './openssh/proxy-jump.js';
import { expandPath, expandTilde } from './openssh/ssh-tokens.js';
import type { TokenValues } from './openssh/ssh-tokens.js';
import { resolveCredentials } from './target-credentials.js';
import { describe, isPlainObject } from '../core/validation.js';
import type { Credentials } from '../ssh/ssh2-connection.js';
import type { PoolConfig, SSHJumpHost, SSHTargetOptions } from './types.js';
import type { HostKeyVerification } from '../ssh/host-keys/host-key-policy.js';

/** A validated target. `identity` separates credentials; it is an internal map key only. */
export interface NormalizedTarget {
  /** The address to connect to (the config's `HostName`, else `host` as given). */
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** `username@host:port` */
  readonly endpoint: string;
  readonly credentials: Credentials;
  readonly hostKey: ResolvedHostKeyVerification;
  readonly poolConfig: PoolConfig | undefined;
  /**
   * Jump hosts to pass through, in dialing order: the first is connected to directly, each
   * next one through the previous, the target through the last. Empty: a direct connection.
   */
  readonly route: readonly NormalizedTarget[];
  /**
   * Digest of endpoint, credentials, host-key policy and route: two targets share connections
   * only when it is equal. Never shown anywhere: a digest of a password is still sensitive.
   */
  readonly identity: string;
  /** The target's `sudoPassword`, for commands run with `.sudo()` without their own. */
  readonly sudoPassword?: Secret | undefined;
}

const TARGET_KEYS = new Set([
  'host', 'port', 'username', 'privateKey', 'passphrase', 'password', 'sudoPassword', 'onKeyboardInteractive', 'agent', 'forwardAgent', 'hostKey', 'configFile', 'jump', 'poolConfig', 'pool',
]);

// A route longer than this is a loop in the config (a jumps through b, b through a).
const MAX_ROUTE_LENGTH = 8;

/** What a pool decides for the targets it resolves, where a target leaves it open. */
export interface TargetDefaults {
  /** The pool's `configFile`: for targets (and their jump hosts) that do not name their own. */
  readonly configFile?: string | false | undefined;
}

/**
 * The hop before `target` on its route, as a target of its own: reached through the hops
 * before it. It is an ordinary pool key, shared with every target (and direct use) that
 * reaches the same hop the same way. Undefined for a direct target.
 */
export function previousHop(target: NormalizedTarget): NormalizedTarget | undefined {
  const index = target.route.length - 1;
  if (index < 0) return undefined;
  const hop = target.route[index]!;
  const route = target.route.slice(0, index);
  return { ...hop, route, identity: identityOf(hop.endpoint, hop.credentials, hop.hostKey, route) };
}

/**
 * Where a command ran, as every `result.host` names it: `host:port` (`[::1]:22` for an IPv6
 * address), so that members of a host group on one address stay apart.
 */
export function endpointLabel(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `user@bastion:22 -> user@target:22`: the endpoints a connection to `target` passes. */
export function routeText(target: NormalizedTarget): string {
  return [...target.route, target].map((hop) => hop.endpoint).join(' -> ');
}

/**
 * Validates a target and resolves it against the OpenSSH client config, jump route included
 * (the pool dials through every hop; see `jump-dialer.ts`). A string is a destination as
 * `ssh` takes one: `[user@]host[:port]`, the host possibly a config alias.
 */
export function normalizeTarget(target: SSHTargetOptions | string, defaults: TargetDefaults = {}): NormalizedTarget {
  return resolve(typeof target === 'string' ? specToTarget(parseJumpHost(target, 'target')) : target, 'target', [], defaults.configFile);
}

function resolve(target: SSHTargetOptions, path: string, seen: readonly string[], inheritedConfigFile: string | false | undefined): NormalizedTarget {
  if (!isPlainObject(target)) throw new InvalidArgumentError(`the ${path} must be an object or a host name, got ${describe(target)}`);
  for (const key of Object.keys(target)) {
    if (!TARGET_KEYS.has(key)) throw new InvalidArgumentError(`${path}.${key} is not a known option (known: ${[...TARGET_KEYS].join(', ')})`);
  }
  const { host, username: explicitUser, port: explicitPort } = target;
  if (typeof host !== 'string' || host.trim() === '' || /\s/.test(host)) {
    throw new InvalidArgumentError(`${path}.host must be a host name, address or config alias, got ${describe(host)}`);
  }
  if (host.includes('@')) {
    // `user[:password]@host` in the host field: the part before the `@` is not shown.
    throw new InvalidArgumentError(`${path}.host contains '@' (the value is not shown): give the user as ${path}.username, or pass the destination as a string ('user@host:port')`);
  }
  if (explicitPort !== undefined && (typeof explicitPort !== 'number' || !Number.isInteger(explicitPort) || explicitPort < 1 || explicitPort > 65_535)) {
    throw new InvalidArgumentError(`${path}.port must be an integer from 1 to 65535, got ${describe(explicitPort)}`);
  }
  if (explicitUser !== undefined && (typeof explicitUser !== 'string' || explicitUser === '' || /[\s@]/.test(explicitUser))) {
    throw new InvalidArgumentError(`${path}.username must be a user name, got ${describe(explicitUser)}`);
  }
  // No user name has one (it separates passwd fields); `user:password` pasted as a user would
  // put the password into pool names, spans, metric labels and events.
  if (explicitUser?.includes(':')) {
    throw new InvalidArgumentError(`${path}.username contains ':' (the value is not shown): a password cannot be part of the user name; use ${path}.password or a key`);
  }
  if (target.configFile !== undefined && target.configFile !== false && typeof target.configFile !== 'string') {
    throw new InvalidArgumentError(`${path}.configFile must be a file path or false, got ${describe(target.configFile)}`);
  }
  const configFile = target.configFile ?? inheritedConfigFile;
  const configPath = configFilePath(configFile);
  const environment = openSSHEnvironment();
  const localUser = environment.user;
  const config = configPath === undefined
    ? undefined
    : evaluateConfigFile(loadConfigFile(configPath, environment.home), { host, user: explicitUser, port: explicitPort, localUser });

  const connectHost = config?.hostname ?? host;
  const port = explicitPort ?? config?.port ?? 22;
  const username = explicitUser ?? config?.user ?? localUser;
  if (username === '') throw new InvalidArgumentError(`${path}.username is not set and the local user name is unknown`);
  const tokens: TokenValues = {
    home: environment.home,
    localUser,
    uid: String(environment.uid),
    localHost: localHostname(),
    host: connectHost,
    originalHost: host,
    port,
    user: username,
    hostKeyAlias: config?.hostKeyAlias,
    proxyJump: config?.proxyJump,
  };

  const { credentials, warnings } = resolveCredentials(target, config, tokens, process.env);
  const hostKey = resolveHostKeyVerification(mergeHostKey(target.hostKey, config, tokens));
  const poolConfig = mergePoolConfig(target.poolConfig, config, path);

  const endpoint = `${username}@${connectHost}:${port}`;
  if (seen.includes(endpoint) || seen.length >= MAX_ROUTE_LENGTH) {
    throw new InvalidArgumentError(`jump hosts loop or nest too deep: ${[...seen, endpoint].join(' -> ')}`);
  }
  const route = resolveRoute(target, config, path, [...seen, endpoint], configFile);

  const { sudoPassword } = target;
  if (sudoPassword !== undefined && (typeof sudoPassword !== 'string' || sudoPassword === '' || /[\r\n\0]/.test(sudoPassword))) {
    throw new InvalidArgumentError(`${path}.sudoPassword must be a non-empty string without line breaks or NUL (the value is not shown)`);
  }

  reportConfigNotices(config, warnings, target);
  return {
    ...(sudoPassword === undefined ? {} : { sudoPassword: new Secret(sudoPassword) }),
    host: connectHost,
    port,
    username,
    endpoint,
    credentials,
    hostKey,
    poolConfig,
    route,
    identity: identityOf(endpoint, credentials, hostKey, route),
  };
}

/**
 * The jump hosts of a target, in dialing order. Like `ssh -J a,b`: the first hop's own
 * ProxyJump (from the config) is followed, the others are reached through the hop before.
 */
function resolveRoute(
  target: SSHTargetOptions,
  config: ResolvedSSHConfig | undefined,
  path: string,
  seen: readonly string[],
  configFile: string | false | undefined,
): NormalizedTarget[] {
  let hops: Array<{ target: SSHTargetOptions; path: string }>;
  if (target.jump === false) return [];
  if (target.jump !== undefined) {
    const list = Array.isArray(target.jump) ? target.jump : [target.jump];
    if (list.length === 0) throw new InvalidArgumentError(`${path}.jump must name at least one jump host, or be false`);
    hops = list.map((hop: string | SSHJumpHost, index: number) => {
      const hopPath = `${path}.jump${Array.isArray(target.jump) ? `[${index}]` : ''}`;
      if (typeof hop === 'string') return { target: specToTarget(parseJumpHost(hop, hopPath)), path: hopPath };
      if (!isPlainObject(hop)) throw new InvalidArgumentError(`${hopPath} must be a host name or a target object, got ${describe(hop)}`);
      for (const key of ['jump', 'pool', 'poolConfig']) {
        if (key in hop) throw new InvalidArgumentError(`${hopPath}.${key} is not allowed on a jump host (list every hop in ${path}.jump instead)`);
      }
      return { target: hop as unknown as SSHTargetOptions, path: hopPath };
    });
  } else if (config?.proxyJump !== undefined) {
    const where = `ProxyJump (${config.origins.get('proxyjump') ?? 'config'})`;
    hops = parseProxyJump(config.proxyJump, where).map((spec) => ({ target: specToTarget(spec), path: where }));
  } else {
    return [];
  }
  const route: NormalizedTarget[] = [];
  for (const [index, hop] of hops.entries()) {
    // Later hops are reached through the earlier ones, whatever their own ProxyJump says.
    const hopTarget = index === 0 ? hop.target : { ...hop.target, jump: false as const };
    const normalized = resolve(hopTarget, hop.path, seen, configFile);
    if (index === 0) route.push(...normalized.route);
    route.push({ ...normalized, route: [] });
  }
  if (route.length > MAX_ROUTE_LENGTH) throw new InvalidArgumentError(`${path}: more than ${MAX_ROUTE_LENGTH} jump hosts`);
  return route;
}

/** A parsed `[user@]host[:port]` as a target. */
function specToTarget(spec: JumpSpec): SSHTargetOptions {
  const target: SSHTargetOptions = { host: spec.host };
  if (spec.username !== undefined) target.username = spec.username;
  if (spec.port !== undefined) target.port = spec.port;
  return target;
}

/** Explicit hostKey fields win one by one over what the config's host-key directives say. */
function mergeHostKey(
  explicit: SSHTargetOptions['hostKey'],
  config: ResolvedSSHConfig | undefined,
  tokens: TokenValues,
): SSHTargetOptions['hostKey'] {
  if (!config) return explicit;
  const fromConfig: HostKeyVerification = {};
  switch (config.strictHostKeyChecking) {
    case 'yes':
    case 'ask':
      fromConfig.policy = 'strict';
      break;
    case 'accept-new':
    case 'no':
      // ssh's `no` also connects to hosts whose key CHANGED; sshpool never does.
      fromConfig.policy = 'accept-new';
      break;
  }
  const where = (keyword: string): string => config.origins.get(keyword) ?? keyword;
  const isNone = (files: readonly string[] | undefined): boolean => files?.length === 1 && files[0]!.toLowerCase() === 'none';
  // `none` reads no file of that kind: no fallback to the defaults, and nothing recorded.
  if (isNone(config.userKnownHostsFiles)) {
    fromConfig.knownHostsFile = false;
  } else if (config.userKnownHostsFiles !== undefined) {
    const userFiles = config.userKnownHostsFiles.map((file) => expandPath(file, tokens, process.env, where('userknownhostsfile')));
    fromConfig.knownHostsFile = userFiles[0]!;
    fromConfig.extraKnownHostsFiles = userFiles.slice(1);
  }
  if (isNone(config.globalKnownHostsFiles)) {
    fromConfig.globalKnownHostsFiles = [];
  } else if (config.globalKnownHostsFiles !== undefined) {
    // ssh expands only `~` here (ssh.c tilde_expand_paths), no tokens.
    fromConfig.globalKnownHostsFiles = config.globalKnownHostsFiles.map((file) => expandTilde(file, tokens.home, where('globalknownhostsfile')));
  }
  if (config.revokedHostKeys !== undefined) fromConfig.revokedHostKeys = expandPath(config.revokedHostKeys, tokens, process.env, where('revokedhostkeys'));
  if (config.hostKeyAlias !== undefined) fromConfig.alias = config.hostKeyAlias;
  if (explicit === undefined) return Object.keys(fromConfig).length > 0 ? fromConfig : undefined;
  if (typeof explicit === 'string') return { ...fromConfig, policy: explicit };
  if (!isPlainObject(explicit)) return explicit;
  // Pinned fingerprints make files irrelevant; keep the config's alias out of the way too.
  return { ...fromConfig, ...explicit };
}

/** ConnectTimeout and ServerAlive* become pool settings, under the target's own poolConfig. */
function mergePoolConfig(explicit: PoolConfig | undefined, config: ResolvedSSHConfig | undefined, path: string): PoolConfig | undefined {
  if (explicit !== undefined) validatePoolConfig(explicit, `${path}.poolConfig`);
  if (!config) return explicit;
  const fromConfig: PoolConfig = {};
  if (config.connectTimeout !== undefined && config.connectTimeout > 0) fromConfig.connectionTimeout = config.connectTimeout * 1000;
  if (config.serverAliveInterval !== undefined) fromConfig.keepAliveInterval = config.serverAliveInterval * 1000;
  if (config.serverAliveCountMax !== undefined && config.serverAliveCountMax > 0) fromConfig.keepAliveCountMax = config.serverAliveCountMax;
  if (Object.keys(fromConfig).length === 0) return explicit;
  const merged = { ...fromConfig, ...explicit };
  validatePoolConfig(merged, `${path}.poolConfig (with ConnectTimeout/ServerAlive* from the ssh config)`);
  return merged;
}

// A handler cannot be hashed: each distinct function gets a number, so that targets with the
// same handler share connections and targets with different ones never do.
const handlerIds = new WeakMap<object, number>();
let nextHandlerId = 1;

function handlerId(handler: object | undefined): string {
  if (handler === undefined) return '';
  let id = handlerIds.get(handler);
  if (id === undefined) handlerIds.set(handler, (id = nextHandlerId++));
  return `keyboard-interactive:${id}`;
}

function identityOf(endpoint: string, credentials: Credentials, hostKey: ResolvedHostKeyVerification, route: readonly NormalizedTarget[]): string {
  const digest = createHash('sha256');
  for (const part of [
    endpoint,
    credentials.privateKey ?? '',
    credentials.passphrase ?? '',
    credentials.password ?? '',
    credentials.agent ?? '',
    handlerId(credentials.onKeyboardInteractive),
    ...(credentials.identities ?? []).flatMap((identity) => [identity.source, identity.publicBlob, identity.privateKey ? '1' : '0']),
    credentials.identitiesOnly ? 'identities-only' : '',
    credentials.forwardAgent ? 'forward-agent' : '',
    JSON.stringify(hostKey),
    ...route.map((hop) => hop.identity),
  ]) {
    // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
    const bytes = typeof part === 'string' ? Buffer.from(part) : part;
    digest.update(`${bytes.length}:`).update(bytes);
  }
  return `${endpoint}\n${digest.digest('hex')}`;
}

// Keywords that only choose among credentials or methods: with a credential given in the
// target itself, they cannot change how sshpool connects to it.
const AUTHENTICATION_KEYWORDS = new Set([
  'certificatefile', 'pkcs11provider', 'securitykeyprovider', 'preferredauthentications', 'pubkeyauthentication',
  'passwordauthentication', 'kbdinteractiveauthentication', 'kbdinteractivedevices', 'challengeresponseauthentication',
  'gssapiauthentication', 'gssapidelegatecredentials', 'gssapikeyexchange', 'gssapiclientidentity', 'gssapiserveridentity',
  'gssapirenewalforceskeyexchange', 'gssapitrustdns', 'hostbasedauthentication', 'hostbasedacceptedalgorithms',
  'hostbasedkeytypes', 'pubkeyacceptedalgorithms', 'pubkeyacceptedkeytypes',
]);

/** Whether what the config says about `keyword` is overruled by the target's own fields. */
function overruledByTarget(keyword: string, target: SSHTargetOptions): boolean {
  if (keyword === 'forwardagent') return target.forwardAgent !== undefined;
  if (AUTHENTICATION_KEYWORDS.has(keyword)) {
    return target.privateKey !== undefined || target.password !== undefined || target.onKeyboardInteractive !== undefined || (target.agent !== undefined && target.agent !== false);
  }
  return false;
}

// Process-wide: one warning per config file and keyword, however many targets and lines use it.
const reported = new Set<string>();

/**
 * Directives sshpool ignores although they could change the connection become one process
 * warning per file and keyword: visible, never a flood. Those the target's own fields
 * overrule are not worth a warning; they stay in `resolveSSHConfig().notices`.
 */
function reportConfigNotices(config: ResolvedSSHConfig | undefined, warnings: readonly string[], target: SSHTargetOptions): void {
  const messages: Array<{ key: string; text: string }> = [];
  for (const notice of config?.notices ?? []) {
    const keyword = notice.keyword.toLowerCase();
    if (notice.kind !== 'unsupported' || overruledByTarget(keyword, target)) continue;
    messages.push({ key: `${notice.file}\0${keyword}`, text: `${notice.file} line ${notice.line}: ${notice.message}` });
  }
  for (const warning of warnings) messages.push({ key: warning, text: warning });
  for (const { key, text } of messages) {
    if (reported.has(key)) continue;
    reported.add(key);
    process.emitWarning(text, { code: 'SSHPOOL_SSH_CONFIG' });
  }
}
