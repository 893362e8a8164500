// The code blocks of the README sections "Using ~/.ssh/config" and "Agents and keys" run here
// as written, against a real sshd, a real ssh-agent and a home directory made for them.
// Mapped to the test rig: the config's port 2222 becomes the server's port, and the example
// user names (deploy, ops) become the server's test user.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import { overrideOpenSSHEnvironment } from '../../src/core/openssh-environment.js';
import { readmeBlocks, runReadmeBlock } from '../support/readme-blocks.js';
import { startSshAgent } from '../support/ssh-agent.js';
import type { TestAgent } from '../support/ssh-agent.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURE_KEYS = join(ROOT, 'test', 'fixtures', 'keys');

let server: SshdServer;
let agent: TestAgent;
const home = mkdtempSync(join(tmpdir(), 'sshpool-readme-home-'));
const saved = { HOME: process.env['HOME'], SSH_AUTH_SOCK: process.env['SSH_AUTH_SOCK'], DEPLOY_KEY_PASSPHRASE: process.env['DEPLOY_KEY_PASSPHRASE'] };

const rig = (text: string): string =>
  text.replaceAll('2222', String(server.port)).replace(/\bUser deploy\b/g, `User ${server.username}`).replaceAll("'ops@web-1'", `'${server.username}@web-1'`);

beforeAll(async () => {
  const deployKey = readFileSync(join(FIXTURE_KEYS, 'openssh_ed25519_encrypted.pub'), 'utf8').trim();
  server = await startSshd({ authorizedKeys: [deployKey] });
  const ssh = join(home, '.ssh');
  mkdirSync(ssh, { mode: 0o700 });
  // The README's IdentityFile: an encrypted key, whose decrypted copy the agent holds.
  copyFileSync(join(FIXTURE_KEYS, 'openssh_ed25519_encrypted'), join(ssh, 'deploy_ed25519'));
  copyFileSync(join(FIXTURE_KEYS, 'openssh_ed25519_encrypted.pub'), join(ssh, 'deploy_ed25519.pub'));
  chmodSync(join(ssh, 'deploy_ed25519'), 0o600);
  const decrypted = join(home, 'decrypted');
  copyFileSync(join(ssh, 'deploy_ed25519'), decrypted);
  chmodSync(decrypted, 0o600);
  execFileSync('ssh-keygen', ['-q', '-p', '-P', 'sshpool-test', '-N', '', '-f', decrypted]);
  agent = await startSshAgent();
  agent.add(decrypted);
  const config = readmeBlocks('Using ~/.ssh/config').find((block) => block.lang === '')!.code;
  writeFileSync(join(ssh, 'config'), rig(config));
  writeFileSync(join(ssh, 'known_hosts'), `${server.knownHostsLine}\n`);
  // sshpool takes ~ from the password database, as ssh; the examples' own homedir() reads $HOME.
  overrideOpenSSHEnvironment({ home, globalKnownHostsFiles: [] });
  process.env['HOME'] = home;
  process.env['SSH_AUTH_SOCK'] = agent.socket;
  process.env['DEPLOY_KEY_PASSPHRASE'] = 'sshpool-test';
});

afterAll(async () => {
  await SSHConnectionPool.getInstance().closeAll();
  overrideOpenSSHEnvironment(undefined);
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await agent?.stop();
  rmSync(home, { recursive: true, force: true });
});

function runBlock(name: string, code: string): Promise<string[]> {
  return runReadmeBlock(name, rig(code), { quiet: true });
}

describe('README examples', () => {
  it('"Using ~/.ssh/config" runs as written and resolves web-1 from the file', async () => {
    const blocks = readmeBlocks('Using ~/.ssh/config').filter((block) => block.lang === 'ts');
    expect(blocks).toHaveLength(1);
    const printed = await runBlock('ssh-config', blocks[0]!.code);
    expect(printed).toEqual([`127.0.0.1 ${server.port} ${server.username} [ '~/.ssh/deploy_ed25519' ]`]);
  });

  it('"Agents and keys" runs as written: agent, encrypted key, typed errors, forwarding', async () => {
    const blocks = readmeBlocks('Agents and keys').filter((block) => block.lang === 'ts');
    expect(blocks).toHaveLength(2);
    const printed = await runBlock('agents-keys', blocks[0]!.code);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^Authentication failed for nobody-here@127\.0\.0\.1:\d+: the server accepted none of the offered credentials \(tried password; .*deploy_ed25519 skipped: encrypted, no passphrase, and not in the agent\)$/);
    await runBlock('forwarding', `${blocks[1]!.code}\nif (r.stdout !== 'forwarded\\n') throw new Error('not forwarded: ' + JSON.stringify(r.stdout));\n`);
  });
});
