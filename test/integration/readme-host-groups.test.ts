// The README's "Host groups" examples, run against three OpenSSH servers. Each test holds one
// README block verbatim (after its setup lines); the first test checks that every block of the
// section is in this file, so the README cannot drift from code that runs. Only host lists and
// user names differ (the servers are 127.0.0.1:<port>, user tester), and the comparison
// ignores them. Like a reader's machine, the servers' keys are in ~/.ssh/known_hosts (a
// temporary home directory), so the examples use the default strict host-key policy.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, FanOutError, NoHostAvailableError, SSHConnectionPool } from '../../src/index.js';
import { overrideOpenSSHEnvironment } from '../../src/core/openssh-environment.js';
import { freePort } from '../support/free-port.js';
import { generateKeyPair } from '../support/generate-key-pair.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

const client = generateKeyPair('sshpool-readme-client');
const hostKey = generateKeyPair('sshpool-readme-host').private;
const privateKey = client.private;
let servers: SshdServer[];
let webHosts: Array<{ host: string; port: number }>;
let deadPort: number;
let home: string | undefined;

beforeAll(async () => {
  servers = await Promise.all([0, 1, 2].map(() => startSshd({ hostKey, authorizedKeys: [client.public] })));
  webHosts = servers.map((server) => ({ host: server.host, port: server.port }));
  deadPort = await freePort();
  home = mkdtempSync(join(tmpdir(), 'sshpool-readme-home-'));
  mkdirSync(join(home, '.ssh'));
  const keyPart = servers[0]!.knownHostsLine.split(' ').slice(1).join(' ');
  const lines = [...servers.map((server) => server.knownHostsLine), `[127.0.0.1]:${deadPort} ${keyPart}`];
  writeFileSync(join(home, '.ssh', 'known_hosts'), `${lines.join('\n')}\n`);
  overrideOpenSSHEnvironment({ home, globalKnownHostsFiles: [] });
});
afterAll(async () => {
  await SSHConnectionPool.getInstance().closeAll();
  overrideOpenSSHEnvironment(undefined);
  if (home) rmSync(home, { recursive: true, force: true });
});

/** A stand-in for `console` that keeps what the examples print. */
function capture() {
  const lines: string[] = [];
  return { lines, console: { log: (...args: unknown[]) => lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')) } };
}

const label = (port: number) => `127.0.0.1:${port}`;

describe('README: Host groups', () => {
  it('every example of the section is in this file', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Host groups\n'), readme.indexOf('\n## Spans and metrics\n'));
    const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => normalize(match[1]!));
    expect(blocks.length).toBe(9);
    const source = normalize(readFileSync(fileURLToPath(import.meta.url), 'utf8'));
    for (const block of blocks) expect(source, 'a README block is not in the test file').toContain(block);
  });

  it('one command, one host', async () => {
    const { console, lines } = capture();
    const web = $.ssh({
      hosts: [...webHosts],
      username: 'tester',
      privateKey,
      strategy: 'least-used',
    });

    const result = await web`uname -r`;
    console.log(result.host, result.stdout.trim()); // result.host is the member that ran it: 'web-2.internal:22'

    expect(lines).toHaveLength(1);
    expect(webHosts.map((h) => label(h.port))).toContain(lines[0]!.split(' ')[0]);
  });

  it('a retryable command', async () => {
    const web = $.ssh({ hosts: [...webHosts], username: 'tester', privateKey });

    await web`cat /etc/hostname`.retryable();
  });

  it('no host left: NoHostAvailableError lists every member', async () => {
    const { console, lines } = capture();
    const web = $.ssh({ hosts: [{ host: '127.0.0.1', port: deadPort }], username: 'tester', privateKey });

    try {
      await web`cat /etc/hostname`;
    } catch (error) {
      if (!(error instanceof NoHostAvailableError)) throw error;
      for (const { host, error: cause } of error.failures) console.log(host, cause.name, cause.message);
    }

    expect(lines).toEqual([expect.stringMatching(new RegExp(`^${label(deadPort)} ConnectError `))]);
  });

  it('circuit breaker: a failover group reports its primary down, then back', async () => {
    const { console, lines } = capture();
    const replica = webHosts[0]!;

    const db = $.ssh({ hosts: [{ host: '127.0.0.1', port: deadPort }, replica], username: 'tester', privateKey, strategy: 'failover' });
    db.on('host:down', (host, error) => console.log(`${host} is down: ${error.message}`));
    db.on('host:up', (host) => console.log(`${host} is back`));

    expect((await db`true`).host, 'the replica took the command').toBe(label(webHosts[0]!.port));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^${label(deadPort)} is down: `))]);
    // The primary starts: the probe after the default 5 s cool-down finds it.
    await startSshd({ port: deadPort, hostKey, authorizedKeys: [client.public] });
    const deadline = Date.now() + 20_000;
    while (lines.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines[1]).toBe(`${label(deadPort)} is back`);
    expect((await db`true`).host).toBe(label(deadPort));
  });

  it('fan-out: every host, in host order', async () => {
    const { console, lines } = capture();
    const web = $.ssh({ hosts: [...webHosts], username: 'tester', privateKey });

    const results = await web.all`uname -r`.concurrency(2);
    for (const entry of results) {
      console.log(entry.host, entry.status === 'fulfilled' ? entry.value.stdout.trim() : entry.reason.message);
    }

    expect(lines.map((line) => line.split(' ')[0])).toEqual(webHosts.map((h) => label(h.port)));
  });

  it('fan-out: a partial failure keeps the successes', async () => {
    const { console, lines } = capture();
    const web = $.ssh({ hosts: [...webHosts], username: 'tester', privateKey });
    await servers[0]!.exec(['touch', '/etc/app.conf']);

    try {
      await web.all`test -f /etc/app.conf`;
    } catch (error) {
      if (!(error instanceof FanOutError)) throw error;
      console.log(`${error.failures.length} of ${error.results.length} hosts lack the file`);
      for (const { host, error: cause } of error.failures) console.log(host, cause.message);
    }

    expect(lines[0]).toBe('2 of 3 hosts lack the file');
    expect(lines.slice(1).map((line) => line.split(' ')[0])).toEqual([label(webHosts[1]!.port), label(webHosts[2]!.port)]);
  });

  it('fan-out: progress by async iteration and by callback', async () => {
    const { console, lines } = capture();
    const web = $.ssh({ hosts: [...webHosts], username: 'tester', privateKey });

    for await (const { result, done, total } of web.all`date +%s`.progress()) {
      console.log(`${done}/${total} ${result.host}: ${result.status}`);
    }
    await web.all`uname -r`.onProgress(({ done, total }) => console.log(`${done}/${total}`)).nothrow();

    expect(lines.slice(0, 3).map((line) => line.split(' ')[0])).toEqual(['1/3', '2/3', '3/3']);
    expect(lines.slice(0, 3).every((line) => line.endsWith(': fulfilled'))).toBe(true);
    expect(lines.slice(3)).toEqual(['1/3', '2/3', '3/3']);
  });

  it('per-host settings from configureHost rules', () => {
    const { console, lines } = capture();

    const pool = new SSHConnectionPool().configureHost('db-*', { maxConnections: 2 });
    const mixed = $.ssh({ hosts: ['db-1', 'web-1'], username: 'deploy', privateKey, pool });
    console.log(pool.resolveConfig({ host: 'db-1', username: 'deploy', privateKey }).maxConnections); // 2
    console.log(mixed.members().map((member) => member.config.maxConnections)); // [ 2, 10 ]

    expect(lines).toEqual(['2', '[2,10]']);
  });
});

/** Code without what legitimately differs: imports, host lists, user names, blank lines, indentation. */
function normalize(code: string): string {
  return code
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('import '))
    .join('\n')
    .replace(/hosts: \[[^\]]*\]/g, 'hosts: [...]')
    .replace(/username: '[^']*'/g, "username: '...'");
}
