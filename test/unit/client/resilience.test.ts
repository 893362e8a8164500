import { afterEach, describe, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../../src/index.js';
import type { PoolConfig, SSHConnectionPoolOptions } from '../../../src/index.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serverAndPool(options: SSHConnectionPoolOptions = {}) {
  const server = await new EmbeddedSshServer().start();
  const pool = new SSHConnectionPool(options);
  cleanups.push(() => server.stop(), () => pool.closeAll());
  const target = (poolConfig?: PoolConfig) => ({
    host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off' as const, pool,
    ...(poolConfig ? { poolConfig } : {}),
  });
  return { server, pool, target };
}

const until = async (condition: () => boolean, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('warm-up', () => {
  it('opens warmUpConnections when the executor is made, before any command', async () => {
    const { server, pool, target } = await serverAndPool();
    $.ssh(target({ warmUpConnections: 2 }));
    await until(() => pool.getStats().idleConnections === 2);
    expect(server.connectionsAccepted).toBe(2);
  });

  it('warmUp(target, n) opens n connections and leaves them idle', async () => {
    const { pool, target } = await serverAndPool();
    await pool.warmUp(target(), 3);
    expect(pool.getStats()).toMatchObject({ idleConnections: 3, activeConnections: 0 });
  });

  it('keeps warm connections past idleTimeout', async () => {
    const { pool, target } = await serverAndPool();
    $.ssh(target({ warmUpConnections: 1, idleTimeout: 50 }));
    await until(() => pool.getStats().idleConnections === 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pool.getStats().idleConnections).toBe(1);
  });
});

describe('maxLifetime', () => {
  it('retires a connection past its lifetime once its channels finish, with reason expired', async () => {
    const { pool, target } = await serverAndPool();
    const ssh = $.ssh(target({ maxLifetime: 200 }));
    const reasons: string[] = [];
    pool.on('connection:closed', (_host, reason) => reasons.push(reason));
    const long = Promise.resolve(ssh`sleep 0.4; echo finished`);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(reasons).toEqual([]);
    expect((await long).stdout).toBe('finished\n');
    await until(() => reasons.includes('expired'));
    await ssh`true`;
    expect(pool.getMetrics().connectionsCreated).toBe(2);
  });
});

describe('health checks', () => {
  it('probes idle connections and reports them healthy', async () => {
    const { pool, target } = await serverAndPool();
    const healthy: string[] = [];
    pool.on('connection:healthy', (host) => healthy.push(host));
    await $.ssh(target({ healthCheck: { enabled: true, interval: 100, timeout: 1_000 } }))`true`;
    await until(() => healthy.length >= 2);
    expect(healthy[0]).toBe('127.0.0.1');
  });

  it('closes a connection whose probe fails, with reason unhealthy', async () => {
    const { pool, target } = await serverAndPool();
    const seen: string[] = [];
    pool.on('connection:unhealthy', (host, error) => seen.push(`unhealthy:${host}:${error.message}`));
    pool.on('connection:closed', (_host, reason) => seen.push(`closed:${reason}`));
    await $.ssh(target({ healthCheck: { enabled: true, interval: 100, timeout: 1_000, command: 'exit 1' }, reconnect: { enabled: false } }))`true`;
    await until(() => seen.includes('closed:unhealthy'));
    expect(seen[0]).toBe('unhealthy:127.0.0.1:health check command ended with exit code 1');
    expect(pool.getStats().totalConnections).toBe(0);
  });

  it('declares a probe that outlives its timeout unhealthy', async () => {
    const { pool, target } = await serverAndPool();
    const errors: string[] = [];
    pool.on('connection:unhealthy', (_host, error) => errors.push(error.message));
    await $.ssh(target({ healthCheck: { enabled: true, interval: 100, timeout: 100, command: 'sleep 5' }, reconnect: { enabled: false } }))`true`;
    await until(() => errors.length > 0);
    // Under load the probe's channel may not even open within 100 ms; either way it timed out.
    expect(errors[0]).toMatch(/^health check timed out after 100 ms/);
  });
});

describe('reconnect', () => {
  it('re-establishes the warm minimum after the server drops every connection', async () => {
    const { server, pool, target } = await serverAndPool();
    const events: string[] = [];
    pool.on('connection:reconnecting', (_host, attempt) => events.push(`reconnecting:${attempt}`));
    pool.on('connection:reconnected', () => events.push('reconnected'));
    $.ssh(target({ warmUpConnections: 1, reconnect: { initialDelay: 20, maxDelay: 100 } }));
    await until(() => pool.getStats().idleConnections === 1);
    server.dropAllConnections();
    await until(() => events.includes('reconnected'));
    expect(events[0]).toBe('reconnecting:1');
    await until(() => pool.getStats().idleConnections === 1);
  });

  it('gives up after maxRetries attempts while the server stays down', async () => {
    const { server, pool, target } = await serverAndPool();
    const attempts: number[] = [];
    pool.on('connection:reconnecting', (_host, attempt) => attempts.push(attempt));
    $.ssh(target({ warmUpConnections: 1, reconnect: { initialDelay: 10, maxDelay: 20, maxRetries: 3 } }));
    await until(() => pool.getStats().idleConnections === 1);
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(attempts).toEqual([1, 2, 3]);
  });
});

describe('global connection cap', () => {
  it('closes an idle connection of another host to make room, never one in use', async () => {
    const { pool, target } = await serverAndPool({ maxTotalConnections: 1 });
    const other = await new EmbeddedSshServer().start();
    cleanups.push(() => other.stop());
    const otherTarget = { host: other.host, port: other.port, username: other.username, privateKey: other.privateKey, hostKey: 'off' as const, pool };
    await $.ssh(target())`true`;
    expect(pool.getStats().totalConnections).toBe(1);
    const closed: string[] = [];
    pool.on('connection:closed', (_host, reason) => closed.push(reason));
    expect((await $.ssh(otherTarget)`echo other`).stdout).toBe('other\n');
    expect(closed).toEqual(['idle']);
    expect(pool.getStats().totalConnections).toBe(1);
  });

  it('makes a command wait for a busy connection elsewhere to finish when the cap is reached', async () => {
    const { pool, target } = await serverAndPool({ maxTotalConnections: 1 });
    const other = await new EmbeddedSshServer().start();
    cleanups.push(() => other.stop());
    const otherTarget = { host: other.host, port: other.port, username: other.username, privateKey: other.privateKey, hostKey: 'off' as const, pool };
    const busy = Promise.resolve($.ssh(target())`sleep 0.3; echo first`);
    await until(() => pool.getStats().activeConnections === 1);
    const second = await $.ssh(otherTarget)`echo second`;
    expect(second.stdout).toBe('second\n');
    expect((await busy).stdout).toBe('first\n');
  });
});
