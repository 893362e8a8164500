// Which credentials a target authenticates with. Explicit fields win; the config's
// IdentityFile and IdentityAgent apply unless an explicit privateKey / agent replaces them; and
// a target that names no credential at all gets what ssh would use: the default key files
// (~/.ssh/id_ed25519, ...) and the agent at $SSH_AUTH_SOCK.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthCredentials } from '../ssh/auth/auth-methods.js';
import { InvalidArgumentError, PrivateKeyError } from '../core/errors.js';
import { loadIdentityFile, parsePrivateKey } from '../ssh/auth/private-key.js';
import type { IdentityKey } from '../ssh/auth/private-key.js';
import type { ResolvedSSHConfig } from './openssh/evaluate-config.js';
import { expandPath } from './openssh/ssh-tokens.js';
import type { TokenValues } from './openssh/ssh-tokens.js';
import type { SSHTargetOptions } from './types.js';

// The files ssh tries when the config names none (ssh -G lists the same), minus the types
// ssh2 cannot sign with (security keys, XMSS).
const DEFAULT_IDENTITY_FILES = ['id_rsa', 'id_ecdsa', 'id_ed25519', 'id_dsa'];

export interface ResolvedCredentials {
  readonly credentials: AuthCredentials & {
    readonly privateKey?: string | Buffer;
    readonly passphrase?: string;
    readonly password?: string;
    readonly agent?: string;
  };
  /** Problems worth a warning: a configured key file missing or unusable. */
  readonly warnings: readonly string[];
}

export function resolveCredentials(
  target: SSHTargetOptions,
  config: ResolvedSSHConfig | undefined,
  tokens: TokenValues,
  env: NodeJS.ProcessEnv,
): ResolvedCredentials {
  const warnings: string[] = [];
  const skipped: string[] = [];
  const explicitAny = target.privateKey !== undefined || target.password !== undefined || target.onKeyboardInteractive !== undefined ||
    (target.agent !== undefined && target.agent !== false);
  if (target.onKeyboardInteractive !== undefined && typeof target.onKeyboardInteractive !== 'function') {
    throw new InvalidArgumentError('target.onKeyboardInteractive must be a function (prompts) => answers');
  }

  if (target.privateKey !== undefined) {
    if (typeof target.privateKey !== 'string' && !Buffer.isBuffer(target.privateKey)) {
      throw new InvalidArgumentError('target.privateKey must be the key text (string or Buffer)');
    }
    if (target.privateKey.length === 0) throw new InvalidArgumentError('target.privateKey is empty');
  }
  if (target.passphrase !== undefined && typeof target.passphrase !== 'string') throw new InvalidArgumentError('target.passphrase must be a string');
  if (target.password !== undefined && typeof target.password !== 'string') throw new InvalidArgumentError('target.password must be a string');
  if (target.forwardAgent !== undefined && typeof target.forwardAgent !== 'boolean') throw new InvalidArgumentError('target.forwardAgent must be a boolean');

  // Keys: the explicit one replaces the config's IdentityFiles.
  let identities: IdentityKey[] = [];
  let firstKeyError: PrivateKeyError | undefined;
  if (target.privateKey !== undefined) {
    identities = [parsePrivateKey(target.privateKey, target.passphrase, 'target.privateKey')];
  } else {
    const configured = (config?.identityFiles ?? []).filter((file) => file.toLowerCase() !== 'none');
    const where = config?.origins.get('identityfile') ?? 'IdentityFile';
    const files = configured.length > 0 || (config?.identityFiles.length ?? 0) > 0
      ? configured.map((file) => ({ path: expandPath(file, tokens, env, where), configured: true }))
      : explicitAny
        ? []
        : DEFAULT_IDENTITY_FILES.map((name) => ({ path: join(tokens.home, '.ssh', name), configured: false })).filter((file) => existsSync(file.path));
    for (const file of files) {
      if (!existsSync(file.path)) {
        warnings.push(`IdentityFile ${file.path} does not exist (${where})`);
        skipped.push(`${file.path} skipped: no such file`);
        continue;
      }
      try {
        identities.push(loadIdentityFile(file.path, target.passphrase));
      } catch (error) {
        if (!(error instanceof PrivateKeyError)) throw error;
        firstKeyError ??= error;
        skipped.push(`${file.path} skipped: ${error.reason}`);
        if (file.configured || error.reason !== 'unsupported-format') warnings.push(error.message);
      }
    }
  }
  if (target.passphrase !== undefined && target.privateKey === undefined && identities.length === 0 && firstKeyError === undefined) {
    throw new InvalidArgumentError('target.passphrase is given but there is no key to decrypt (no privateKey, no IdentityFile)');
  }

  // Agent: explicit, else the config's IdentityAgent, else $SSH_AUTH_SOCK when nothing was given.
  let agent: string | undefined;
  if (target.agent === true) {
    agent = env['SSH_AUTH_SOCK'];
    if (!agent) throw new InvalidArgumentError('target.agent is true but SSH_AUTH_SOCK is not set');
  } else if (typeof target.agent === 'string') {
    if (target.agent === '') throw new InvalidArgumentError('target.agent must be an agent socket path, true or false');
    agent = target.agent;
  } else if (target.agent !== undefined && target.agent !== false) {
    throw new InvalidArgumentError('target.agent must be an agent socket path, true or false');
  } else if (target.agent === undefined) {
    const configured = config?.identityAgent;
    if (configured !== undefined) agent = identityAgentPath(configured, tokens, env, config?.origins.get('identityagent') ?? 'IdentityAgent');
    else if (!explicitAny) agent = env['SSH_AUTH_SOCK'] || undefined;
  }

  const identitiesOnly = config?.identitiesOnly ?? false;
  if (identities.length === 0 && agent === undefined && target.password === undefined && target.onKeyboardInteractive === undefined) {
    if (firstKeyError) throw firstKeyError;
    const looked = config?.identityFiles.length ? 'the configured IdentityFiles' : '~/.ssh/id_rsa, id_ecdsa, id_ed25519, id_dsa';
    throw new InvalidArgumentError(
      `the target needs a credential: privateKey, password or agent (no key found in ${looked}, and no agent: SSH_AUTH_SOCK is not set)`,
    );
  }
  if (target.forwardAgent === true && agent === undefined) {
    throw new InvalidArgumentError('target.forwardAgent needs an agent: set target.agent, or run with SSH_AUTH_SOCK set');
  }

  const credentials: { -readonly [K in keyof ResolvedCredentials['credentials']]: ResolvedCredentials['credentials'][K] } = { identities };
  if (target.privateKey !== undefined) credentials.privateKey = target.privateKey;
  if (target.passphrase !== undefined) credentials.passphrase = target.passphrase;
  if (target.password !== undefined) credentials.password = target.password;
  if (target.onKeyboardInteractive !== undefined) credentials.onKeyboardInteractive = target.onKeyboardInteractive;
  if (agent !== undefined) credentials.agent = agent;
  if (identitiesOnly) credentials.identitiesOnly = true;
  if (target.forwardAgent === true) credentials.forwardAgent = true;
  if (skipped.length > 0) credentials.skipped = skipped;
  return { credentials, warnings };
}

/** IdentityAgent: `none`, `SSH_AUTH_SOCK`, `$VAR`, or a path with tokens. */
function identityAgentPath(value: string, tokens: TokenValues, env: NodeJS.ProcessEnv, where: string): string | undefined {
  if (value.toLowerCase() === 'none') return undefined;
  if (value === 'SSH_AUTH_SOCK') return env['SSH_AUTH_SOCK'] || undefined;
  if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(value)) return env[value.slice(1)] || undefined;
  return expandPath(value, tokens, env, where);
}
