// A pool-wide OpenSSH client config against OpenSSH: an isolated pool's `configFile` and the
// global pool's `$.configFile` bring a bare alias to the server (HostName, Port, User,
// IdentityFile, UserKnownHostsFile from the file) with nothing else in the target.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../src/index.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'sshpool-pool-config-file-'));
let server: SshdServer;
let configFile: string;
const pools: SSHConnectionPool[] = [];

beforeAll(async () => {
  server = await startSshd();
  writeFileSync(join(dir, 'id_ed25519'), server.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'known_hosts'), `${server.knownHostsLine}\n`);
  configFile = join(dir, 'config');
  writeFileSync(
    configFile,
    `Host web\n  HostName ${server.host}\n  Port ${server.port}\n  User ${server.username}\n` +
      `  IdentityFile ${join(dir, 'id_ed25519')}\n  UserKnownHostsFile ${join(dir, 'known_hosts')}\n`,
  );
});

afterAll(async () => {
  $.configFile = undefined;
  await Promise.all([...pools, SSHConnectionPool.getInstance()].map((pool) => pool.closeAll()));
  rmSync(dir, { recursive: true, force: true });
});

describe('pool-wide configFile against OpenSSH', () => {
  it('an isolated pool resolves a bare alias through its file', async () => {
    const pool = new SSHConnectionPool({ configFile });
    pools.push(pool);
    const result = await $.ssh({ host: 'web', pool })`echo $USER $SSH_CONNECTION`;
    expect(result.stdout.trim().split(' ')).toEqual([server.username, expect.anything(), expect.anything(), expect.anything(), String(server.port)]);
    expect(Object.keys(pool.getStats().hosts)).toEqual([`${server.username}@${server.host}:${server.port}`]);
  });

  it('$.configFile does the same for the global pool', async () => {
    $.configFile = configFile;
    const result = await $.ssh('web')`whoami`;
    expect(result.stdout.trim()).toBe(server.username);
  });
});
