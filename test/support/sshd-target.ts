import type { SSHConnectionPool, SSHTarget } from '../../src/index.js';

/** What a test SSH server (an OpenSSH container or the embedded server) tells its clients. */
export interface TestSshServer {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  readonly hostKeyFingerprint: string;
}

/** A target for a test SSH server: key auth, its host key pinned, on the given pool. */
export function sshdTarget(sshd: TestSshServer, pool: SSHConnectionPool | undefined, extra: Partial<SSHTarget> = {}): SSHTarget {
  return {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    hostKey: { fingerprints: [sshd.hostKeyFingerprint] },
    ...(pool ? { pool } : {}),
    ...extra,
  };
}
