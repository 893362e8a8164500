import { describe, expect, it } from 'vitest';
import { $, DEFAULT_POOL_CONFIG, InvalidArgumentError, SSHConnectionPool } from '../../../src/index.js';
import { resolvePoolConfig } from '../../../src/config/pool-config.js';

const target = { host: 'example.test', username: 'deploy', password: 'pw', hostKey: 'off' as const };

describe('configuration validation', () => {
  it('rejects an unknown option and names it with the known ones', () => {
    expect(() => new SSHConnectionPool({ maxConnection: 3 } as never)).toThrow(/options\.maxConnection is not a known option \(known: maxConnections/);
  });

  it('rejects impossible values with the path and the value', () => {
    expect(() => new SSHConnectionPool({ maxConnections: 0 })).toThrow('options.maxConnections must be an integer from 1 to 10000, got 0');
    expect(() => new SSHConnectionPool({ idleTimeout: -5 })).toThrow(InvalidArgumentError);
    expect(() => new SSHConnectionPool({ reconnect: { backoff: 'random' as never } })).toThrow(/options\.reconnect\.backoff must be one of/);
    expect(() => new SSHConnectionPool({ warmUpConnections: 5, maxConnections: 2 })).toThrow(/cannot exceed/);
  });

  it('validates targets when the executor is made, before any connection', () => {
    expect(() => $.ssh({ ...target, port: 70000 })).toThrow('target.port must be an integer from 1 to 65535, got 70000');
    expect(() => $.ssh({ host: 'h', username: 'u' } as never)).toThrow(/needs a credential/);
    expect(() => $.ssh({ ...target, hostKey: 'maybe' as never })).toThrow(/hostKey must be 'strict', 'accept-new' or 'off'/);
    expect(() => $.ssh({ ...target, poolConfig: { maxConnections: 'ten' as never } })).toThrow(/target\.poolConfig\.maxConnections/);
    expect(() => $.ssh({ ...target, colour: 'red' } as never)).toThrow(/target\.colour is not a known option/);
  });

  it('never puts a secret in a validation message', () => {
    try {
      $.ssh({ ...target, password: 42 as never });
    } catch (error) {
      expect((error as Error).message).not.toContain('42');
    }
  });

  it('resolves explicit poolConfig over host rules over defaults, merging nested objects', () => {
    const resolved = resolvePoolConfig({ maxConnections: 3, healthCheck: { enabled: true } }, { maxConnections: 7 }, { healthCheck: { interval: 99 } });
    expect(resolved.maxConnections).toBe(7);
    expect(resolved.healthCheck).toEqual({ ...DEFAULT_POOL_CONFIG.healthCheck, enabled: true, interval: 99 });
  });

  it('applies the most recent matching configureHost rule by glob or RegExp', async () => {
    const pool = new SSHConnectionPool({ maxConnections: 2 });
    pool.configureHost('*.prod.test', { maxConnections: 4 });
    pool.configureHost(/^db\d+\.prod\.test$/, { maxConnections: 6 });
    expect(() => pool.configureHost('', {})).toThrow(InvalidArgumentError);
    expect(() => pool.configureHost('*', { bogus: 1 } as never)).toThrow(InvalidArgumentError);
    await pool.closeAll();
  });
});
