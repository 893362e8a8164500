// A real database behind a bastion, reached through forward(): PostgreSQL (the machine's own
// package) runs in the private network namespace on its loopback, which only the private
// OpenSSH server there can reach (test/support/private-network.ts). The `pg` client connects
// to the tunnel's local port; the tunnel rides the pooled connection to the private server,
// itself tunnelled through the pooled bastion connection (ProxyJump).
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../src/index.js';
import type { SSHJumpHost, SSHTunnel } from '../../src/index.js';
import { startPrivateNetwork } from '../support/private-network.js';
import type { NamespacedSshd, PrivateNetwork } from '../support/private-network.js';
import { POSTGRES_PORT, startPrivatePostgres } from '../support/private-postgres.js';
import type { PrivatePostgres } from '../support/private-postgres.js';
import { withTimeout } from '../support/with-timeout.js';

let network: PrivateNetwork;
let postgres: PrivatePostgres | undefined;

beforeAll(async () => {
  network = await startPrivateNetwork(1);
  postgres = await startPrivatePostgres(network.privateNamespace);
}, 90_000);

afterAll(() => {
  postgres?.stop();
  network?.remove();
});

function server(sshd: NamespacedSshd): SSHJumpHost {
  return { host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, hostKey: { fingerprints: [sshd.hostKeyFingerprint] }, configFile: false };
}

/** The database through a tunnel over the private server, itself behind the bastion. */
async function databaseTunnel(pool: SSHConnectionPool): Promise<SSHTunnel> {
  return $.ssh({ ...server(network.targets[0]!), jump: server(network.bastion), pool }).forward({ to: { host: '127.0.0.1', port: POSTGRES_PORT } });
}

async function client(tunnel: SSHTunnel): Promise<pg.Client> {
  const db = new pg.Client({ host: tunnel.host, port: tunnel.port, user: 'postgres', database: 'postgres' });
  // A connection that dies between queries reports it here; the next query then fails.
  db.on('error', () => {});
  await db.connect();
  return db;
}

/** One query whose answer is checked: the number back, and the server's md5 of it. */
async function checkedQuery(db: pg.Client, n: number): Promise<void> {
  const { rows } = await db.query<{ n: number; h: string }>('SELECT $1::int AS n, md5($1::text) AS h', [n]);
  expect(rows).toEqual([{ n, h: createHash('md5').update(String(n)).digest('hex') }]);
}

function createdFor(pool: SSHConnectionPool, poolName: () => string | undefined): () => number {
  let created = 0;
  pool.on('connection:created', (_host, _ms, details) => {
    if ((details as { poolName: string }).poolName === poolName()) created++;
  });
  return () => created;
}

describe('PostgreSQL behind a bastion, through forward()', () => {
  it('answers 1,000 queries from 20 concurrent clients, all correct, over at most 2 SSH connections', async () => {
    const pool = new SSHConnectionPool({ maxConnections: 2 });
    const tunnel = await databaseTunnel(pool);
    const targetName = (): string | undefined => pool.poolNameOf({ ...server(network.targets[0]!), jump: server(network.bastion), pool });
    const created = createdFor(pool, targetName);
    try {
      const clients = await Promise.all(Array.from({ length: 20 }, () => client(tunnel)));
      // The server sees every client arrive from its own loopback: through the private server's sshd.
      const { rows } = await clients[0]!.query<{ address: string }>('SELECT host(inet_client_addr()) AS address');
      expect(rows[0]!.address).toBe('127.0.0.1');
      let answered = 0;
      await Promise.all(clients.map(async (db, index) => {
        for (let i = 0; i < 50; i++) {
          await checkedQuery(db, index * 1000 + i);
          answered++;
        }
      }));
      expect(answered).toBe(1_000);
      expect(created()).toBeGreaterThanOrEqual(1);
      expect(created()).toBeLessThanOrEqual(2);
      expect(pool.getStats().hosts[targetName()!]!.totalConnections).toBeLessThanOrEqual(2);
      await Promise.all(clients.map((db) => db.end()));
    } finally {
      await tunnel.close();
      await pool.closeAll({ timeout: 2_000 });
    }
  }, 120_000);

  it('fails the in-flight queries cleanly when the SSH connection dies, and the next ones succeed over a new connection', async () => {
    const pool = new SSHConnectionPool({ maxConnections: 2, reconnect: { initialDelay: 100, maxDelay: 500 } });
    const tunnel = await databaseTunnel(pool);
    const targetName = (): string | undefined => pool.poolNameOf({ ...server(network.targets[0]!), jump: server(network.bastion), pool });
    const created = createdFor(pool, targetName);
    const target = network.targets[0]!;
    try {
      const clients = await Promise.all(Array.from({ length: 20 }, () => client(tunnel)));
      let answered = 0;
      let killed: Promise<void> | undefined;
      const failures: Error[] = [];
      // Each client queries until its connection is cut; the SSH connection dies after 200 answers.
      const runs = clients.map(async (db, index) => {
        for (let i = 0; ; i++) {
          try {
            await checkedQuery(db, index * 1000 + i);
          } catch (error) {
            failures.push(error as Error);
            return;
          }
          if (++answered === 200) {
            target.kill();
            killed = target.start();
          }
        }
      });
      // Every in-flight query settles, well before keepalives (60 s by default) would notice: none hangs.
      await withTimeout(Promise.all(runs), 30_000, () => `the in-flight queries did not settle within 30 s: ${answered} answered, ${failures.length} failed`);
      expect(failures).toHaveLength(20);
      for (const failure of failures) expect(failure.message).toMatch(/terminated|closed|ECONNRESET|not queryable/i);
      await killed;
      // The tunnel still listens; new clients get a new SSH connection.
      const fresh = await Promise.all(Array.from({ length: 20 }, () => client(tunnel)));
      await Promise.all(fresh.map(async (db, index) => {
        for (let i = 0; i < 10; i++) await checkedQuery(db, 50_000 + index * 100 + i);
      }));
      expect(created()).toBeGreaterThanOrEqual(2);
      await Promise.all(fresh.map((db) => db.end()));
    } finally {
      await tunnel.close();
      await pool.closeAll({ timeout: 2_000 });
    }
  }, 120_000);

  it('reaches PostgreSQL\'s UNIX socket through forward({ to: { path } }) (direct-streamlocal@openssh.com)', async () => {
    const pool = new SSHConnectionPool();
    const tunnel = await $.ssh({ ...server(network.targets[0]!), jump: server(network.bastion), pool }).forward({ to: { path: postgres!.socketPath } });
    try {
      const db = await client(tunnel);
      // A UNIX-socket client has no address.
      const { rows } = await db.query<{ address: string | null }>('SELECT inet_client_addr() AS address');
      expect(rows).toEqual([{ address: null }]);
      await checkedQuery(db, 7);
      await db.end();
    } finally {
      await tunnel.close();
      await pool.closeAll({ timeout: 2_000 });
    }
  }, 60_000);
});
