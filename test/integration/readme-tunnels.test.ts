// The code blocks of the README section "Tunnels" run here as written, against a bastion and
// private OpenSSH servers in network namespaces (test/support/private-network.ts), with
// PostgreSQL on the private servers' loopback (test/support/private-postgres.ts). Mapped to the
// test rig: bastion.example.com and 10.0.0.1x become the namespaces' addresses, the user ops
// becomes root, /etc/deploy/ a directory holding the key and known_hosts, and the local port
// 3000 a free one. The servers share this machine's filesystem: the remote UNIX socket goes in
// that directory too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import { startPrivateNetwork } from '../support/private-network.js';
import type { PrivateNetwork } from '../support/private-network.js';
import { startPrivatePostgres } from '../support/private-postgres.js';
import type { PrivatePostgres } from '../support/private-postgres.js';
import { freePort } from '../support/free-port.js';
import { readmeBlocks, runReadmeBlock } from '../support/readme-blocks.js';

let network: PrivateNetwork;
let postgres: PrivatePostgres | undefined;
const deploy = mkdtempSync(join(tmpdir(), 'sshpool-readme-tunnels-'));

let localPort = 0;
const rig = (text: string): string =>
  text
    .replace(/\b3000\b/g, String(localPort))
    .replaceAll('bastion.example.com', network.bastion.host)
    .replaceAll('10.0.0.', network.privatePrefix)
    .replaceAll("'ops'", "'root'")
    .replaceAll('/tmp/deploy-api.sock', join(deploy, 'api.sock'))
    .replaceAll('/etc/deploy/', `${deploy}/`);

beforeAll(async () => {
  network = await startPrivateNetwork(2);
  localPort = await freePort();
  postgres = await startPrivatePostgres(network.privateNamespace);
  writeFileSync(join(deploy, 'ops_key'), network.bastion.privateKey, { mode: 0o600 });
  writeFileSync(join(deploy, 'known_hosts'), [network.bastion, ...network.targets].map((server) => server.knownHostsLine).join('\n') + '\n');
}, 90_000);

afterAll(async () => {
  await SSHConnectionPool.getInstance().closeAll();
  postgres?.stop();
  network?.remove();
  rmSync(deploy, { recursive: true, force: true });
});

describe('README "Tunnels"', () => {
  const blocks = (): string[] => readmeBlocks('Tunnels').filter((block) => block.lang === 'ts').map((block) => block.code);

  it('queries PostgreSQL behind the bastion through forward(), as written', async () => {
    expect(blocks()).toHaveLength(4);
    expect(await runReadmeBlock('tunnels-forward', rig(blocks()[0]!))).toEqual(['42']);
  });

  it('forwards a server port back to a local service with forwardRemote(), as written', async () => {
    expect(await runReadmeBlock('tunnels-remote', rig(blocks()[2]!))).toEqual(['HELLO']);
  });

  it('forwards a UNIX socket on the server back to a local service with forwardRemote(), as written', async () => {
    expect(await runReadmeBlock('tunnels-remote-socket', rig(blocks()[3]!))).toEqual(['healthy']);
  });

  it('reaches a server\'s sshd through socks(), as written', async () => {
    expect(await runReadmeBlock('tunnels-socks', rig(blocks()[1]!))).toEqual(['connected', 'SSH']);
  });
});
