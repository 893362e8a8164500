// Bookkeeping shared by the tunnel test files: every pool and tunnel a test opens is closed
// after it, tunnels first (closing a pool does not stop a tunnel's local listener).
import { afterEach } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import type { SSHTunnel } from '../../src/index.js';

/** Registers the cleanup for the calling test file; returns how to open a tracked pool and track a tunnel. */
export function closedAfterEach(): {
  newPool: (...args: ConstructorParameters<typeof SSHConnectionPool>) => SSHConnectionPool;
  track: <T extends SSHTunnel>(tunnel: T) => T;
} {
  const pools: SSHConnectionPool[] = [];
  const tunnels: SSHTunnel[] = [];
  afterEach(async () => {
    await Promise.all(tunnels.splice(0).map((tunnel) => tunnel.close()));
    await Promise.all(pools.splice(0).map((pool) => pool.closeAll({ timeout: 1_000 })));
  });
  return {
    newPool: (...args) => {
      const pool = new SSHConnectionPool(...args);
      pools.push(pool);
      return pool;
    },
    track: (tunnel) => {
      tunnels.push(tunnel);
      return tunnel;
    },
  };
}
