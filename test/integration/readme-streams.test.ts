// The README's "Streams" examples, run as written against OpenSSH. Like a reader's machine, the
// key is ~/.ssh/id_ed25519 and the server is in ~/.ssh/known_hosts of a temporary HOME; only the
// host (127.0.0.1 and the container's port) and the user name are mapped to the test server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import { overrideOpenSSHEnvironment } from '../../src/core/openssh-environment.js';
import { generateKeyPair } from '../support/generate-key-pair.js';
import { readmeBlocks, runReadmeBlock } from '../support/readme-blocks.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

let server: SshdServer;
let second: SshdServer;
const client = generateKeyPair('sshpool-readme-streams');
const home = mkdtempSync(join(tmpdir(), 'sshpool-readme-home-'));
const saved = { HOME: process.env['HOME'], SSH_AUTH_SOCK: process.env['SSH_AUTH_SOCK'] };

beforeAll(async () => {
  [server, second] = await Promise.all([startSshd({ authorizedKeys: [client.public] }), startSshd({ authorizedKeys: [client.public] })]);
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'id_ed25519'), client.private, { mode: 0o600 });
  writeFileSync(join(home, '.ssh', 'known_hosts'), `${server.knownHostsLine}\n${second.knownHostsLine}\n`);
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

const blocks = readmeBlocks('Streams').filter((b) => b.lang === 'ts');

/** The block with the test server's address and user in place of the README's. */
function mapped(index: number): string {
  const code = blocks[index]!.code.replace(
    "$.ssh({ host: 'server.example.com', username: 'deploy' })",
    `$.ssh({ host: '127.0.0.1', port: ${server.port}, username: '${server.username}' })`,
  );
  expect(code, 'the rig found the line it maps').toContain(`port: ${server.port}`);
  return code;
}

describe('README: Streams', () => {
  it('has four examples', () => {
    expect(blocks).toHaveLength(4);
  });

  it('lines as they arrive, and a break that stops the remote tail', async () => {
    const printed = await runReadmeBlock('streams-lines', mapped(0));
    expect(printed).toEqual(['100000', '1', '2', '3', 'false']);
    // The kill reaches the server a moment after the loop ends: wait for it, with a deadline.
    const tails = async (): Promise<string[]> => {
      const { stdout } = await server.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done']);
      return stdout.split('\n').filter((line) => line.includes('/tmp/app.log'));
    };
    const deadline = performance.now() + 15_000;
    let left = await tails();
    while (left.length > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      left = await tails();
    }
    expect(left).toEqual([]);
  }, 60_000);

  it('pipe() into a file, and cmd.stdout through pipeline()', async () => {
    const printed = await runReadmeBlock('streams-pipe', mapped(1));
    expect(printed).toEqual(['true true { stdout: true, stderr: false }', '64 0']);
  }, 60_000);

  it('a fan-out\'s lines tagged with their host, and its summary', async () => {
    const code = blocks[3]!.code.replace(
      "$.ssh({ hosts: ['web-1.example.com', 'web-2.example.com'], username: 'deploy' })",
      `$.ssh({ hosts: [{ host: '127.0.0.1', port: ${server.port} }, { host: '127.0.0.1', port: ${second.port} }], username: '${server.username}' })`,
    );
    expect(code, 'the rig found the line it maps').toContain(`port: ${second.port}`);
    const printed = await runReadmeBlock('streams-fan-out', code);
    expect(printed.slice(0, 2).sort()).toEqual([`127.0.0.1:${server.port} stdout: restarted`, `127.0.0.1:${second.port} stdout: restarted`].sort());
    expect(printed.slice(2)).toEqual(['6', '2 hosts: 2 succeeded, 0 failed, 0 unreachable']);
  }, 60_000);

  it('stdin from a file stream and from an async generator, and a failure thrown from the loop', async () => {
    const printed = await runReadmeBlock('streams-stdin', mapped(2));
    expect(printed).toEqual(['64', '3', 'partial', '3']);
  }, 60_000);
});
