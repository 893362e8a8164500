// The README's Quick start, run as written against OpenSSH. Like a reader's machine, the key is
// ~/.ssh/id_ed25519 and the server is in ~/.ssh/known_hosts of a temporary HOME; only the host
// (127.0.0.1 and the container's port) and the user name are mapped to the test server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import { overrideOpenSSHEnvironment } from '../../src/core/openssh-environment.js';
import { readmeBlocks, runReadmeBlock } from '../support/readme-blocks.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

let server: SshdServer;
const home = mkdtempSync(join(tmpdir(), 'sshpool-readme-home-'));
const saved = { HOME: process.env['HOME'], SSH_AUTH_SOCK: process.env['SSH_AUTH_SOCK'] };

beforeAll(async () => {
  server = await startSshd();
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'id_ed25519'), server.privateKey, { mode: 0o600 });
  writeFileSync(join(home, '.ssh', 'known_hosts'), `${server.knownHostsLine}\n`);
  // The example's homedir() reads $HOME; sshpool's ~ is the password database's home, overridden.
  process.env['HOME'] = home;
  overrideOpenSSHEnvironment({ home, globalKnownHostsFiles: [] });
  delete process.env['SSH_AUTH_SOCK'];
});

afterAll(async () => {
  await SSHConnectionPool.getInstance().closeAll();
  overrideOpenSSHEnvironment(undefined);
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(home, { recursive: true, force: true });
});

describe('README: Quick start', () => {
  it('runs as written and prints what its comments say', async () => {
    const [block, ...others] = readmeBlocks('Quick start').filter((b) => b.lang === 'ts');
    expect(others, 'one code block').toEqual([]);
    const code = block!.code
      .replace("host: 'server.example.com',", `host: '127.0.0.1', port: ${server.port},`)
      .replace("username: 'deploy',", `username: '${server.username}',`);
    expect(code, 'the rig found the lines it maps').toContain(`port: ${server.port}`);

    const printed = await runReadmeBlock('quick-start', code);
    expect(printed).toHaveLength(4);
    expect(printed[0]).toMatch(/^Linux \S+ 0 \d+\.\d ms$/);
    expect(printed[1]).toMatch(/^drwx\S* .* \/tmp\/quick start$/);
    expect(printed[2]).toMatch(/activeConnections: 0,.*idleConnections: 1,/s);
    expect(printed[3]).toMatch(/connectionsCreated: 1,.*connectionsReused: 3,/s);
    expect(SSHConnectionPool.getInstance().getStats().totalConnections, 'closeAll() at the end').toBe(0);
  });
});
