import type { SSHConnectionPool, SSHTarget } from '../../src/index.js';
import type { SshdServer } from './sshd.js';

/** A target for a test sshd: key auth, its host key pinned, on the given pool. */
export function sshdTarget(sshd: SshdServer, pool: SSHConnectionPool | undefined, extra: Partial<SSHTarget> = {}): SSHTarget {
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
