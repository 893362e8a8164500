// The code blocks of the README section "Files (SFTP)" run here as written, against a real
// OpenSSH server. Mapped to the test rig: web-1.example.com becomes the server (with its port),
// the user deploy becomes tester, /srv/app a directory in tester's home, and /etc/deploy/ a
// local directory holding the key and known_hosts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import { readmeBlocks, runReadmeBlock } from '../support/readme-blocks.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

let server: SshdServer;
const deploy = mkdtempSync(join(tmpdir(), 'sshpool-readme-files-'));

const rig = (text: string): string =>
  text
    .replaceAll("host: 'web-1.example.com'", `host: '${server.host}', port: ${server.port}`)
    .replaceAll("username: 'deploy'", `username: '${server.username}'`)
    .replaceAll('/srv/app', `/home/${server.username}/app`)
    .replaceAll('/etc/deploy/', `${deploy}/`);

beforeAll(async () => {
  server = await startSshd();
  writeFileSync(join(deploy, 'id_ed25519'), server.privateKey, { mode: 0o600 });
  writeFileSync(join(deploy, 'known_hosts'), `${server.knownHostsLine}\n`);
});

afterAll(async () => {
  await SSHConnectionPool.getInstance().closeAll();
  rmSync(deploy, { recursive: true, force: true });
});

describe('README "Files (SFTP)"', () => {
  const blocks = (): string[] => readmeBlocks('Files (SFTP)').filter((block) => block.lang === 'ts').map((block) => rig(block.code));

  it('writes, reads, uploads with verify and downloads as written', async () => {
    expect(blocks()).toHaveLength(2);
    expect(await runReadmeBlock('files-basics', blocks()[0]!)).toEqual(['8080 1 1048576 1048576']);
  });

  it('copies a directory with progress, and shows the typed errors, as written', async () => {
    const home = `/home/${server.username}`;
    expect(await runReadmeBlock('files-directories', blocks()[1]!)).toEqual(['2 25 true', `ERR_SSHPOOL_REMOTE_NOT_FOUND ${home}/app/missing.txt`, 'true']);
  });
});
