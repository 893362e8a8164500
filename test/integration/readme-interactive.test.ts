// The code blocks of the README section "Interactive commands" run here as written, against
// OpenSSH test servers. Mapped to the rig: web-1.example.com and vpn-gw.example.com become the
// containers (the second one logs in through PAM only), deploy becomes the image's sudo-user,
// and /etc/deploy/ a directory holding the key, known_hosts and a one-time code.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import { readmeBlocks, runReadmeBlock } from '../support/readme-blocks.js';
import { startSshd, SUDO_USERS, TEST_PASSWORD } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

const SECTION = 'Interactive commands: sudo, terminals, prompts, second factors';
let web: SshdServer;
let gateway: SshdServer;
const deploy = mkdtempSync(join(tmpdir(), 'sshpool-readme-interactive-'));

const rig = (text: string): string =>
  text
    .replaceAll("host: 'web-1.example.com'", `host: '${web.host}', port: ${web.port}`)
    .replaceAll("host: 'vpn-gw.example.com'", `host: '${gateway.host}', port: ${gateway.port}`)
    .replaceAll("username: 'deploy'", `username: '${SUDO_USERS.password.username}'`)
    .replaceAll('/etc/deploy/', `${deploy}/`);

beforeAll(async () => {
  [web, gateway] = await Promise.all([
    startSshd(),
    startSshd({ config: { UsePAM: 'yes', KbdInteractiveAuthentication: 'yes', PasswordAuthentication: 'no', PubkeyAuthentication: 'no' } }),
  ]);
  writeFileSync(join(deploy, 'id_ed25519'), web.privateKey, { mode: 0o600 });
  writeFileSync(join(deploy, 'known_hosts'), `${web.knownHostsLine}\n${gateway.knownHostsLine}\n`);
  writeFileSync(join(deploy, 'otp'), '123456\n');
  process.env['SUDO_PASSWORD'] = SUDO_USERS.password.password;
  process.env['LOGIN_PASSWORD'] = TEST_PASSWORD;
}, 60_000);

afterAll(async () => {
  await SSHConnectionPool.getInstance().closeAll();
  delete process.env['SUDO_PASSWORD'];
  delete process.env['LOGIN_PASSWORD'];
  rmSync(deploy, { recursive: true, force: true });
});

describe(`README "${SECTION}"`, () => {
  const blocks = (): string[] => readmeBlocks(SECTION).filter((block) => block.lang === 'ts').map((block) => block.code);

  it('sudo with the target password, stdin after it, and a wrong password as SudoPasswordError', async () => {
    expect(blocks()).toHaveLength(3);
    expect(await runReadmeBlock('interactive-sudo', rig(blocks()[0]!))).toEqual(['ERR_SSHPOOL_SUDO_PASSWORD wrong', 'root 6']);
  });

  it('a terminal of the size asked for, and a prompt answered', async () => {
    expect(await runReadmeBlock('interactive-pty', rig(blocks()[1]!))).toEqual(['40 120 | Continue? [y/N] reply: y']);
  });

  it('a keyboard-interactive login through PAM', async () => {
    expect(await runReadmeBlock('interactive-kbd', rig(blocks()[2]!))).toEqual(['tester']);
  });
});
