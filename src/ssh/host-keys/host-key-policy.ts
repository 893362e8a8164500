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
   * known_hosts file to read (and, with `accept-new`, append to).
   * @default '~/.ssh/known_hosts'
   */
  knownHostsFile?: string;
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
}
