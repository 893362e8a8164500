// The public face of config resolution: which file, and what it says about one host.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import { openSSHEnvironment } from '../../core/openssh-environment.js';
import { describe } from '../../core/validation.js';
import { loadConfigFile } from './config-file.js';
import { evaluateConfigFile } from './evaluate-config.js';
import type { ResolvedSSHConfig } from './evaluate-config.js';
import { expandTilde } from './ssh-tokens.js';

export interface ResolveSSHConfigOptions {
  /**
   * Config file to read; `false` reads none.
   * @default '~/.ssh/config' (no error when it does not exist)
   */
  configFile?: string | false;
  /** User given explicitly, as `ssh -l`: wins over `User`, and `Match user` sees it. */
  user?: string;
  /** Port given explicitly, as `ssh -p`. */
  port?: number;
}

/** The local user name, as ssh takes it from the password database. */
export function localUserName(): string {
  return openSSHEnvironment().user;
}

/** Which file `configFile` means: undefined when none is to be read. */
export function configFilePath(configFile: string | false | undefined): string | undefined {
  if (configFile === false) return undefined;
  if (configFile === undefined) {
    // The password database's home, as ssh: $HOME may name another user's (sudo -E).
    const path = join(openSSHEnvironment().home, '.ssh', 'config');
    return existsSync(path) ? path : undefined;
  }
  if (typeof configFile !== 'string' || configFile === '') {
    throw new InvalidArgumentError(`configFile must be a file path or false, got ${describe(configFile)}`);
  }
  return expandTilde(configFile, openSSHEnvironment().home, 'configFile');
}

/**
 * What an OpenSSH client config says about `host`, read the way ssh(1) reads it: `Host` and
 * `Match` blocks, first value wins, `Include`. Undefined when no config file is read.
 * Throws `SSHConfigError` for a malformed file or an applicable directive sshpool refuses.
 */
export function resolveSSHConfig(host: string, options: ResolveSSHConfigOptions = {}): ResolvedSSHConfig | undefined {
  const path = configFilePath(options.configFile);
  if (path === undefined) return undefined;
  const file = loadConfigFile(path, openSSHEnvironment().home);
  return evaluateConfigFile(file, { host, user: options.user, port: options.port, localUser: localUserName() });
}
