// A pool key's settings are fixed by its first use. A later $.ssh() for the same key with a
// poolConfig that asks for something else still runs (on the key as it is), and the process
// gets one warning per key naming the key and each differing field.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { $, SSHConnectionPool } from '../../src/index.js';
import { EmbeddedSshServer } from '../support/embedded-ssh-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function setup() {
  const server = await new EmbeddedSshServer().start();
  const pool = new SSHConnectionPool();
  cleanups.push(async () => {
    await pool.closeAll();
    await server.stop();
  });
  const target = { host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off' as const, pool };
  const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  const ours = () => warnings.mock.calls.filter((call) => (call[1] as { code?: string } | undefined)?.code === 'SSHPOOL_POOL_CONFIG_IGNORED').map((call) => String(call[0]));
  return { server, pool, target, ours };
}

describe('a later poolConfig for an existing pool key', () => {
  it('warns once, naming the key and the differing fields, and runs on the key as it is', async () => {
    const { pool, target, ours } = await setup();
    await $.ssh({ ...target, poolConfig: { maxConnections: 2, idleTimeout: 5_000 } })`true`;
    const name = `${target.username}@${target.host}:${target.port}`;

    // Same values, or fields left to the key: nothing to say.
    await $.ssh({ ...target, poolConfig: { maxConnections: 2 } })`true`;
    await $.ssh(target)`true`;
    expect(ours()).toEqual([]);

    const later = $.ssh({ ...target, poolConfig: { maxConnections: 4, idleTimeout: 5_000, healthCheck: { enabled: true, interval: 1_000 }, reconnect: { backoff: 'fixed' } } });
    await later`true`;
    await later`true`;
    await $.ssh({ ...target, poolConfig: { maxConnections: 8 } })`true`;
    expect(ours()).toEqual([
      `sshpool: pool key ${name} already runs with other settings, fixed by its first use; this target's poolConfig is ignored for ` +
        "maxConnections (asked 4, in force 2), healthCheck.enabled (asked true, in force false), healthCheck.interval (asked 1000, in force 30000), reconnect.backoff (asked 'fixed', in force 'exponential'). " +
        "Give every target of a key the same poolConfig, or set it once with configureHost() or the pool's options.",
    ]);
    expect(pool.resolveConfig(target).maxConnections, 'the first settings stand').toBe(2);
  });

  it('says nothing for a second credential of the same user@host:port (another pool key)', async () => {
    const { target, ours } = await setup();
    await $.ssh({ ...target, poolConfig: { maxConnections: 2 } })`true`;
    const { privateKey: _key, ...withoutKey } = target;
    await $.ssh({ ...withoutKey, password: 'embedded-password', poolConfig: { maxConnections: 4 } })`true`;
    expect(ours()).toEqual([]);
  });
});
