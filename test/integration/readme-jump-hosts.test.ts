// The code blocks of the README section "Jump hosts" run here as written, against a bastion and
// private OpenSSH servers in network namespaces (test/support/private-network.ts). Mapped to
// the test rig: bastion.example.com and 10.0.0.1x become the namespaces' addresses, the user
// ops becomes root, and /etc/deploy/ a directory holding the key, known_hosts and ssh config.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import { startPrivateNetwork } from '../support/private-network.js';
import { readmeBlocks, runReadmeBlock } from '../support/readme-blocks.js';
import type { PrivateNetwork } from '../support/private-network.js';


let network: PrivateNetwork;
const deploy = mkdtempSync(join(tmpdir(), 'sshpool-readme-deploy-'));

const rig = (text: string): string =>
  text
    .replaceAll('bastion.example.com', network.bastion.host)
    .replaceAll('10.0.0.', network.privatePrefix)
    .replaceAll("'ops'", "'root'")
    .replaceAll('ops@', 'root@')
    .replace(/\bUser ops\b/g, 'User root')
    .replaceAll('/etc/deploy/', `${deploy}/`);

beforeAll(async () => {
  network = await startPrivateNetwork(3);
  writeFileSync(join(deploy, 'ops_key'), network.bastion.privateKey, { mode: 0o600 });
  writeFileSync(join(deploy, 'known_hosts'), [network.bastion, ...network.targets].map((server) => server.knownHostsLine).join('\n') + '\n');
  const config = readmeBlocks('Jump hosts').find((block) => block.lang === '')!.code;
  writeFileSync(join(deploy, 'ssh_config'), rig(config));
}, 60_000);

afterAll(async () => {
  await SSHConnectionPool.getInstance().closeAll();
  network?.remove();
  rmSync(deploy, { recursive: true, force: true });
});

function runBlock(name: string, code: string): Promise<string[]> {
  return runReadmeBlock(name, rig(code));
}

describe('README "Jump hosts"', () => {
  it('runs the explicit route as written: three private hosts over one bastion connection', async () => {
    const blocks = readmeBlocks('Jump hosts').filter((block) => block.lang === 'ts');
    expect(blocks).toHaveLength(2);
    expect(await runBlock('jump-explicit', blocks[0]!.code)).toEqual(['6 1 3']);
  });

  it('runs the ProxyJump route from the config file as written, arriving from the bastion', async () => {
    const blocks = readmeBlocks('Jump hosts').filter((block) => block.lang === 'ts');
    expect(await runBlock('jump-config', blocks[1]!.code)).toEqual([network.bastionInnerAddress]);
  });
});
