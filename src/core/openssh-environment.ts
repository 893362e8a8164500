// What ssh(1) takes from the local system rather than from its options: the account it runs as
// (name, uid and home from the password database, never $HOME: under `sudo -E` $HOME is another
// user's) and the system-wide known_hosts files.
import { userInfo } from 'node:os';

export interface OpenSSHEnvironment {
  /** Local user name (`%u`, `Match localuser`, the default remote user). */
  readonly user: string;
  /** Local user id (`%i`; the owner a config file may have besides root). */
  readonly uid: number;
  /** Home directory from the password database (`~`, `%d`). */
  readonly home: string;
  /** GlobalKnownHostsFile's default. */
  readonly globalKnownHostsFiles: readonly string[];
}

const SYSTEM_KNOWN_HOSTS_FILES: readonly string[] = Object.freeze(['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);

let override: Partial<OpenSSHEnvironment> | undefined;

/** The environment as ssh would see it now. */
export function openSSHEnvironment(): OpenSSHEnvironment {
  const account = passwdEntry();
  return {
    user: override?.user ?? account.user,
    uid: override?.uid ?? account.uid,
    home: override?.home ?? account.home,
    globalKnownHostsFiles: override?.globalKnownHostsFiles ?? SYSTEM_KNOWN_HOSTS_FILES,
  };
}

/**
 * Replaces parts of the environment for this process, or restores it (undefined). Not part of
 * the package's exports: it lets tests use a made-up home and system files without touching
 * the machine's own.
 */
export function overrideOpenSSHEnvironment(parts: Partial<OpenSSHEnvironment> | undefined): void {
  override = parts === undefined ? undefined : { ...parts };
}

function passwdEntry(): { user: string; uid: number; home: string } {
  try {
    const info = userInfo();
    return { user: info.username, uid: info.uid, home: info.homedir };
  } catch {
    // No password database entry (a container running under an arbitrary uid): as ssh, which
    // refuses to run then, nothing from a home directory can be trusted.
    return { user: process.env['USER'] ?? process.env['LOGNAME'] ?? '', uid: process.getuid?.() ?? -1, home: '/nonexistent' };
  }
}
