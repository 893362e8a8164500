/** One SSH server as the contenders see it: where it is and how to log in and trust it. */
export interface BenchHost {
  readonly host: string;
  /** The port the client dials: the server's own, or the delay proxy's in the WAN profile. */
  readonly port: number;
  readonly username: string;
  /** OpenSSH-format client key (a throw-away test key). */
  readonly privateKey: string;
  /** 'SHA256:...' of the server's host key, for ssh2-based clients that pin it. */
  readonly hostKeyFingerprint: string;
  /** 'ssh-ed25519 AAAA...' of the server's host key, for OpenSSH's known_hosts. */
  readonly hostPublicKey: string;
}

/** The same host reached through another port (the delay proxy in front of it). */
export function viaPort(host: BenchHost, port: number): BenchHost {
  return { ...host, port };
}
