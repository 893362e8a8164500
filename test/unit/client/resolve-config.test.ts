// Per-host policy made visible: pool.resolveConfig(target) and the settings each member of a
// host group runs with. Nothing here connects.
import { describe, expect, it } from 'vitest';
import { $, DEFAULT_POOL_CONFIG, SSHConnectionPool } from '../../../src/index.js';

const credentials = { username: 'deploy', password: 'not-used', hostKey: 'off' as const };

describe('pool.resolveConfig(target)', () => {
  it('gives the pool defaults when nothing else applies', () => {
    const pool = new SSHConnectionPool({ maxConnections: 3 });
    expect(pool.resolveConfig({ host: 'app-1', ...credentials })).toEqual({ ...DEFAULT_POOL_CONFIG, maxConnections: 3 });
  });

  it('a matching configureHost rule wins over the defaults, the most recent rule first', () => {
    const pool = new SSHConnectionPool({ maxConnections: 3 })
      .configureHost('db-*', { maxConnections: 2, acquireTimeout: 1_000 })
      .configureHost(/^db-primary/, { maxConnections: 8 });
    expect(pool.resolveConfig({ host: 'db-replica', ...credentials })).toMatchObject({ maxConnections: 2, acquireTimeout: 1_000 });
    expect(pool.resolveConfig({ host: 'db-primary', ...credentials })).toMatchObject({ maxConnections: 8, acquireTimeout: 30_000 });
    expect(pool.resolveConfig({ host: 'web-1', ...credentials })).toMatchObject({ maxConnections: 3 });
  });

  it("the target's own poolConfig wins over rules, field by field", () => {
    const pool = new SSHConnectionPool().configureHost('db-*', { maxConnections: 2, idleTimeout: 5_000 });
    const config = pool.resolveConfig({ host: 'db-1', ...credentials, poolConfig: { maxConnections: 6, healthCheck: { enabled: true } } });
    expect(config).toMatchObject({ maxConnections: 6, idleTimeout: 5_000, healthCheck: { enabled: true, interval: 30_000 } });
  });

  it('returns a copy: changing it changes nothing', () => {
    const pool = new SSHConnectionPool();
    const target = { host: 'app-1', ...credentials };
    const config = pool.resolveConfig(target) as { maxConnections: number };
    config.maxConnections = 99;
    expect(pool.resolveConfig(target).maxConnections).toBe(DEFAULT_POOL_CONFIG.maxConnections);
  });

  it('rejects an invalid target with the same message as $.ssh()', () => {
    expect(() => new SSHConnectionPool().resolveConfig({ host: '', ...credentials })).toThrow('target.host must be a host name, address or config alias, got an empty string');
  });
});

describe('host group members take their settings from the rules', () => {
  it('each member resolves through configureHost unless the group sets poolConfig', () => {
    const pool = new SSHConnectionPool().configureHost('db-*', { maxConnections: 2 }).configureHost('web-*', { maxConnections: 7 });
    const group = $.ssh({ hosts: ['db-1', 'web-1', 'cache-1'], ...credentials, pool });
    expect(group.members().map((m) => [m.host, m.config.maxConnections])).toEqual([
      ['db-1:22', 2],
      ['web-1:22', 7],
      ['cache-1:22', DEFAULT_POOL_CONFIG.maxConnections],
    ]);
    const pinned = $.ssh({ hosts: ['db-1', 'web-1'], ...credentials, pool, poolConfig: { maxConnections: 1 } });
    expect(pinned.members().map((m) => m.config.maxConnections)).toEqual([1, 1]);
  });

  it('names each member by the pool name its commands will use', () => {
    const group = $.ssh({ hosts: ['db-1', { host: 'db-2', port: 2222 }], ...credentials, pool: new SSHConnectionPool() });
    expect(group.members().map((m) => [m.host, m.poolName, m.state])).toEqual([
      ['db-1:22', 'deploy@db-1:22', 'up'],
      ['db-2:2222', 'deploy@db-2:2222', 'up'],
    ]);
  });
});
