/** How the server's host key is checked. */
export type HostKeyPolicy = 'strict' | 'accept-new' | 'off';

/** Host-key verification settings. The same policy applies to every reconnect. */
export interface HostKeyVerification {
  /**
   * `strict`: the key must already be in the known-hosts file (or the pinned list).
   * `accept-new`: an unknown host is trusted and recorded; a changed key is still rejected.
   * `off`: no check at all (test rigs only).
   * @default 'strict'
   */
  policy?: HostKeyPolicy;
  /**
   * known_hosts file to read (and, with `accept-new`, append to); `false` for none (OpenSSH's
   * `UserKnownHostsFile none`: only the global files are read, and `accept-new` records
   * nothing, so it refuses unknown hosts).
   * @default '~/.ssh/known_hosts' (and `~/.ssh/known_hosts2`, read only), in the home directory of the password database
   */
  knownHostsFile?: string | false;
  /**
   * Pinned fingerprints (`SHA256:<base64>` as `ssh-keygen -lf` prints them). When given, the
   * server's key must match one of them and the known-hosts file is not consulted.
   */
  fingerprints?: readonly string[];
  /**
   * Name to look the key up under instead of `host` / `[host]:port`, as OpenSSH's
   * `HostKeyAlias`: for hosts reached by changing names or through tunnels.
   * @default undefined (the host name and port)
   */
  alias?: string;
  /**
   * Further known-hosts files to read, never written (OpenSSH's second and later
   * `UserKnownHostsFile` entries and `GlobalKnownHostsFile`).
   * @default []
   */
  extraKnownHostsFiles?: readonly string[];
  /**
   * System-wide known-hosts files, read after the others, never written (OpenSSH's
   * `GlobalKnownHostsFile`). A host known with another key in any file is a changed host.
   * @default ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']
   */
  globalKnownHostsFiles?: readonly string[];
  /**
   * Revoked host keys (OpenSSH's `RevokedHostKeys`): a KRL made by `ssh-keygen -k`, or a list
   * of public keys, one per line. A key it lists is refused under every policy but `off`; a
   * file that cannot be read or understood refuses every key, as in ssh.
   * @default undefined (none)
   */
  revokedHostKeys?: string;
}
