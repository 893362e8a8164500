// The README's spare-channels example, run as written against OpenSSH. Like a reader's machine,
// the key is ~/.ssh/id_ed25519 and the server is in ~/.ssh/known_hosts of a temporary HOME; only
// the host (127.0.0.1 and the container's port) and the user name are mapped to the test server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  overrideOpenSSHEnvironment(undefined);
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(home, { recursive: true, force: true });
});

describe('README: Spare channels', () => {
  it('runs as written: commands after the first run on spares, and none with spareChannels false', async () => {
    const [block, ...others] = readmeBlocks('Spare channels: one round trip per command').filter((b) => b.lang === 'ts');
    expect(others, 'one code block').toEqual([]);
    const code = block!.code
      .replace("host: 'server.example.com',", `host: '127.0.0.1', port: ${server.port},`)
      .replace("username: 'deploy',", `username: '${server.username}',`);
    expect(code, 'the rig found the lines it maps').toContain(`port: ${server.port}`);
    const printed = await runReadmeBlock('spare-channels', code);
    expect(printed).toEqual(['[ false, true, true ]', '[ false, false, false ]']);
  });
});
