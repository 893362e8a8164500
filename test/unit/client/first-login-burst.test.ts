// A cold burst against a pool key with no connection yet: its connections run TCP and key
// exchange side by side, but only one offers credentials until a login was answered.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { $, AuthenticationError, ConnectTimeoutError, SSHConnectionPool } from '../../../src/index.js';
import type { PoolConfig, SSHTarget } from '../../../src/index.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import type { EmbeddedServerOptions } from '../../support/embedded-ssh-server.js';
import { until } from '../../support/until.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(serverOptions: EmbeddedServerOptions, poolConfig: PoolConfig = {}) {
  const server = await new EmbeddedSshServer(serverOptions).start();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const pool = new SSHConnectionPool({ tracerProvider });
  cleanups.push(() => server.stop(), () => pool.closeAll());
  const failedOpens: Error[] = [];
  pool.on('connection:failed', (_host, error) => failedOpens.push(error));
  const target: SSHTarget = {
    host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool,
    poolConfig: { maxChannelsPerConnection: 2, ...poolConfig },
  };
  return { server, pool, target, exporter, failedOpens };
}

/** Each connection's first credential offer, in arrival order. */
function firstOffers(server: EmbeddedSshServer) {
  const seen = new Set<number>();
  return server.authRequests.filter((request) => !seen.has(request.connection) && seen.add(request.connection));
}

describe('first login of a cold burst', () => {
  it('runs the key exchanges side by side and offers the other connections\' credentials only after the first login succeeded', async () => {
    const { server, target, exporter } = await setup({ authDelayMs: 300 });
    const ssh = $.ssh(target);
    // 6 commands at 2 channels per connection: three connections.
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => ssh`sleep 0.2; echo ${i}`));
    expect(results.map((result) => result.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
    expect(server.connectionsAccepted).toBe(3);

    const offers = firstOffers(server);
    expect(offers).toHaveLength(3);
    const [first, ...others] = offers;
    const firstLogin = server.authRequests.filter((request) => request.connection === first!.connection);
    // Side by side: the other two had finished their key exchange while the first one logged in.
    expect(firstLogin.at(-1)!.keyExchangesThen).toBe(3);
    for (const other of others) {
      // Every request of the first connection (a key query, then the signed request) came before.
      expect(other.at).toBeGreaterThan(firstLogin.at(-1)!.at);
      // The waiting connections had their key exchange done before they offered anything.
      expect(other.keyExchangesThen).toBe(3);
    }

    const connects = exporter.getFinishedSpans().filter((span) => span.name === 'ssh.connect');
    const waited = connects.filter((span) => span.events.some((event) => event.name === 'ssh.connect.login_turn'));
    expect(connects).toHaveLength(3);
    expect(waited).toHaveLength(2);
    for (const span of waited) {
      expect(span.events.map((event) => event.name)).toEqual([
        'ssh.connect.tcp_connected', 'ssh.connect.host_key_verified', 'ssh.connect.key_exchanged', 'ssh.connect.login_turn', 'ssh.connect.authenticated',
      ]);
    }
  });

  it('costs the server one password offer when the password is wrong; the other connections end without offering it', async () => {
    const { server, pool, target, failedOpens } = await setup({});
    const ssh = $.ssh({ ...target, privateKey: undefined, password: 'not-the-password' });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => ssh`true`.then(() => undefined, (error: unknown) => error)));
    for (const outcome of outcomes) {
      expect(outcome).toBeInstanceOf(AuthenticationError);
      expect((outcome as Error).message).not.toMatch(/Not logging in/);
    }
    await until(() => failedOpens.length === 3, 5_000, 'three failed opens');
    expect(server.connectionsAccepted).toBe(3);
    expect(new Set(server.authRequests.map((request) => request.connection)).size).toBe(1);
    expect(server.authRequests.filter((request) => request.method === 'password')).toHaveLength(1);
    const unoffered = failedOpens.filter((error) => /Not logging in/.test(error.message));
    expect(unoffered).toHaveLength(2);
    for (const error of unoffered) expect(error).toBeInstanceOf(AuthenticationError);
    expect(pool.getMetrics().connectionsFailed).toBe(3);
    expect(pool.getStats().totalConnections).toBe(0);
  });

  it('hands the login to a waiting connection when the first one is lost during its login, and every command runs', async () => {
    const { server, target } = await setup({ authDelayMs: 300 });
    const ssh = $.ssh(target);
    const running = Promise.all(Array.from({ length: 4 }, (_, i) => ssh`echo ${i}`));
    await until(() => server.authRequests.length > 0, 5_000, 'a first credential offer');
    const lost = server.authRequests[0]!.connection;
    const droppedAt = performance.now();
    const acceptedBeforeDrop = server.connectionsAccepted;
    server.dropConnection(lost);
    const results = await running;
    expect(results.map((result) => result.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n']);
    const offers = firstOffers(server);
    expect(offers[0]!.connection).toBe(lost);
    // The next offer came after the loss, from a connection that had been waiting with its key
    // exchange done (not from the lost open's retry, which starts after a backoff).
    expect(offers[1]!.at).toBeGreaterThan(droppedAt);
    expect(offers[1]!.connection).toBeLessThan(acceptedBeforeDrop);
  });

  it('opens one connection at a time to a server that accepts TCP but never speaks SSH (frozen), however many commands wait', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const pool = new SSHConnectionPool();
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }, () => pool.closeAll());
    const ssh = $.ssh({
      host: '127.0.0.1', port: (silent.address() as AddressInfo).port, username: 'tester', password: 'unused', hostKey: 'off', pool,
      poolConfig: { maxChannelsPerConnection: 2, connectionTimeout: 300, maxRetries: 0 },
    });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => ssh`true`.then(() => undefined, (error: unknown) => error)));
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(ConnectTimeoutError);
    expect(sockets).toHaveLength(1);
  });

  it('records a new host key once under accept-new, though the burst\'s key exchanges ran side by side', async () => {
    const { server, target } = await setup({ authDelayMs: 200 });
    const dir = mkdtempSync(join(tmpdir(), 'sshpool-first-login-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const knownHostsFile = join(dir, 'known_hosts');
    const ssh = $.ssh({ ...target, hostKey: { policy: 'accept-new', knownHostsFile, extraKnownHostsFiles: [], globalKnownHostsFiles: [] } });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => ssh`echo ${i}`));
    expect(results.map((result) => result.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
    expect(server.connectionsAccepted).toBe(3);
    const lines = readFileSync(knownHostsFile, 'utf8').split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`[127.0.0.1]:${server.port} ssh-ed25519 `);
  });

  it('gives up opens still waiting for a place at the connect gate once the first login was refused: one password offer in all', async () => {
    const { server, pool, target } = await setup({}, { maxConcurrentConnects: 1 });
    const ssh = $.ssh({ ...target, privateKey: undefined, password: 'not-the-password' });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => ssh`true`.then(() => undefined, (error: unknown) => error)));
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(AuthenticationError);
    // closeAll() waits for the opens under way: the ones queued behind the first at the gate
    // would otherwise each have logged in, in turn.
    await pool.closeAll();
    expect(server.authRequests.filter((request) => request.method === 'password')).toHaveLength(1);
    expect(server.connectionsAccepted).toBe(1);
  });

  it('does not count the wait for the first login against the waiting connections\' connectionTimeout', async () => {
    // Each login takes two answers of 300 ms (a key query, then the signed request): the first
    // one is done at about 600 ms, the others' own logins take 600 ms after that. With the wait
    // counted, they would time out at 900 ms.
    const { server, target, failedOpens } = await setup({ authDelayMs: 300 }, { connectionTimeout: 900 });
    const ssh = $.ssh(target);
    // Long enough that the waiting connections are still opening, and still needed, at 900 ms.
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => ssh`sleep 1; echo ${i}`));
    expect(results.map((result) => result.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
    expect(server.connectionsAccepted).toBe(3);
    expect(failedOpens).toEqual([]);
  });
});
