// File transfers where the server sets the limits: MaxSessions=2 shared by transfers and
// commands, a server without the SFTP subsystem, and a server that dies mid-transfer.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { $, FanOutError, SftpUnavailableError, VerificationError, SSHConnectionPool, TransferConnectionLostError } from '../../src/index.js';
import type { TransferResult } from '../../src/index.js';
import { freePort } from '../support/free-port.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import { withTimeout } from '../support/with-timeout.js';

const HOME = '/home/tester';
const pools: SSHConnectionPool[] = [];

function newPool(options: ConstructorParameters<typeof SSHConnectionPool>[0]): SSHConnectionPool {
  const pool = new SSHConnectionPool(options);
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => withTimeout(pool.closeAll({ timeout: 1_000 }), 20_000, 'closeAll()')));
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

it('MaxSessions=2: 5 transfers and 10 commands in flight at once on one connection all succeed, with correct contents', async () => {
  const server = await startSshd({ config: { MaxSessions: 2 } });
  const pool = newPool({ maxConnections: 1, maxChannelsPerConnection: 10 });
  const ssh = $.ssh(sshdTarget(server, pool));
  const files = Array.from({ length: 5 }, (_, i) => ({ path: `${HOME}/mixed-${i}.bin`, data: randomBytes(512 * 1024 + i) }));
  const work = await withTimeout(Promise.all([
    ...files.map(({ path, data }) => ssh.writeFile(path, data).then((result) => result.bytes)),
    ...Array.from({ length: 10 }, (_, i) => ssh`echo ${`command ${i}`}`.then((result) => result.stdout)),
  ]), 60_000, 'the mixed transfers and commands');
  expect(work).toEqual([...files.map(({ data }) => data.length), ...Array.from({ length: 10 }, (_, i) => `command ${i}\n`)]);
  const read = await Promise.all(files.map(({ path }) => ssh.readFile(path)));
  expect(read.map(sha256)).toEqual(files.map(({ data }) => sha256(data)));
  expect(pool.getStats()).toMatchObject({ totalConnections: 1, pendingRequests: 0, activeConnections: 0 });
  // The idle SFTP channel still holds its session: the other one runs commands, one at a time.
  expect(pool.getStats().openChannels).toBe(1);
  await expect(Promise.all(Array.from({ length: 4 }, () => ssh`true`))).resolves.toHaveLength(4);
}, 120_000);

it('MaxSessions=1 with maxConnections 1: an idle SFTP channel gives its session back to a waiting command', async () => {
  const server = await startSshd({ config: { MaxSessions: 1 } });
  const pool = newPool({ maxConnections: 1, acquireTimeout: 20_000 });
  const ssh = $.ssh(sshdTarget(server, pool));
  await ssh.writeFile(`${HOME}/first`, 'x');
  await expect(withTimeout(ssh`echo after`, 30_000, 'a command after a transfer')).resolves.toMatchObject({ stdout: 'after\n' });
  await expect(ssh.readFile(`${HOME}/first`, 'utf8')).resolves.toBe('x');
}, 120_000);

it('a server without the SFTP subsystem: SftpUnavailableError naming "Subsystem sftp", the channel closed, commands go on', async () => {
  // MaxSessions 1: the command after the refused subsystem runs only if its session channel was closed.
  const server = await startSshd({ config: { Subsystem: 'not-sftp /bin/false', MaxSessions: 1 } });
  const pool = newPool({ maxConnections: 1 });
  const ssh = $.ssh(sshdTarget(server, pool));
  const error = await ssh.writeFile(`${HOME}/x`, 'x').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SftpUnavailableError);
  expect(error).toMatchObject({ code: 'ERR_SSHPOOL_SFTP_UNAVAILABLE', message: expect.stringContaining('Subsystem sftp') });
  await expect(ssh.readFile(`${HOME}/x`)).rejects.toBeInstanceOf(SftpUnavailableError);
  expect(pool.getStats()).toMatchObject({ totalConnections: 1, openChannels: 0 });
  await expect(ssh`echo still fine`).resolves.toMatchObject({ stdout: 'still fine\n' });
}, 60_000);

it('a server killed mid-transfer: TransferConnectionLostError, no hang, and the pool recovers when it is back', async () => {
  const server = await startSshd();
  const pool = newPool({ maxConnections: 1 });
  const ssh = $.ssh(sshdTarget(server, pool));
  await ssh.writeFile(`${HOME}/warm`, 'x');
  let killed: Promise<void> | undefined;
  const endless = new Readable({
    read() {
      setTimeout(() => this.push(Buffer.alloc(64 * 1024)), 2);
    },
  });
  const upload = ssh.upload(endless, `${HOME}/never-finished`, {
    onProgress: ({ transferred }) => {
      if (transferred > 1024 * 1024) killed ??= server.kill();
    },
  });
  const error = await withTimeout(upload.catch((e: unknown) => e), 60_000, 'the upload on a killed server');
  expect(error).toBeInstanceOf(TransferConnectionLostError);
  await killed;
  await server.start();
  await expect(withTimeout(ssh.readFile(`${HOME}/warm`, 'utf8'), 60_000, 'a transfer after the restart')).resolves.toBe('x');
  // The atomic upload never reached its target name, and its temporary file, which the lost
  // channel could not remove, went with the transfer after the restart.
  const listing = (await ssh`ls -A ${HOME}`).stdout;
  expect(listing).not.toMatch(/^never-finished$/m);
  expect(listing).not.toMatch(/sshpool-tmp/);
}, 120_000);

it('group.all.upload puts a file on every host, with per-host results; a host that is down fails alone', async () => {
  const first = await startSshd();
  const second = await startSshd({ hostKey: first.hostKey, authorizedKeys: [first.publicKey] });
  const down = await freePort();
  const pool = newPool({ maxRetries: 0 });
  const group = $.ssh({
    hosts: [first, second].map((server) => ({ host: server.host, port: server.port })).concat([{ host: '127.0.0.1', port: down }]),
    username: first.username,
    privateKey: first.privateKey,
    hostKey: { fingerprints: [first.hostKeyFingerprint] },
    pool,
  });
  const data = randomBytes(100_000);
  const error = await group.all.upload(data, `${HOME}/everywhere.bin`).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FanOutError);
  const { results, failures } = error as FanOutError<TransferResult>;
  expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
  expect(results[0]).toMatchObject({ host: `127.0.0.1:${first.port}`, value: { files: 1, bytes: data.length } });
  expect(failures.map((failure) => failure.host)).toEqual([`127.0.0.1:${down}`]);
  for (const server of [first, second]) {
    const back = await $.ssh({ host: server.host, port: server.port, username: first.username, privateKey: first.privateKey, hostKey: { fingerprints: [first.hostKeyFingerprint] }, pool }).readFile(`${HOME}/everywhere.bin`);
    expect(sha256(back)).toBe(sha256(data));
  }
}, 120_000);

it('verify: sha256 — a remote checksum that differs is VerificationError, and the atomic upload leaves the target as it was', async () => {
  const server = await startSshd();
  // A sha256sum ahead of the real one on the login's PATH, which answers with the wrong sum.
  const fake = 'printf "%064d  %s\\n" 0 "$2"';
  const pool = newPool({ maxConnections: 1 });
  const ssh = $.ssh(sshdTarget(server, pool));
  const bin = (await ssh`echo $PATH`).stdout.trim().split(':')[0]!;
  const installed = await server.exec(['sh', '-c', `mkdir -p ${bin} && printf '#!/bin/sh\\n%s\\n' '${fake}' > ${bin}/sha256sum && chmod 755 ${bin}/sha256sum`]);
  expect(installed.exitCode, installed.stderr).toBe(0);
  await expect(ssh`sha256sum -- x`).resolves.toMatchObject({ stdout: `${'0'.repeat(64)}  x\n` });
  await ssh.writeFile(`${HOME}/verified`, 'old');
  const error = await ssh.writeFile(`${HOME}/verified`, 'new', { verify: 'sha256' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(VerificationError);
  expect(error).toMatchObject({ code: 'ERR_SSHPOOL_VERIFY_MISMATCH', actual: '0'.repeat(64), expected: sha256(Buffer.from('new')) });
  await expect(ssh.readFile(`${HOME}/verified`, 'utf8')).resolves.toBe('old');
  await expect(ssh`ls -A ${HOME}`).resolves.toMatchObject({ stdout: expect.not.stringMatching(/sshpool-tmp/) });
}, 60_000);

it('a script that transfers files and never calls closeAll() exits by itself: the idle SFTP channel does not hold the process', async () => {
  const server = await startSshd();
  const target = { ...sshdTarget(server, undefined), poolConfig: { idleTimeout: 60_000 } };
  const root = join(import.meta.dirname, '..', '..');
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/integration/faults/fixtures/lifetime-script.ts')], {
    cwd: root,
    env: { ...process.env, SSHPOOL_LIFETIME_MODE: 'transfer', SSHPOOL_LIFETIME_TARGET: JSON.stringify(target) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await withTimeout(new Promise<number | null>((resolve) => child.once('exit', resolve)), 50_000, 'the script to exit').finally(() => child.kill('SIGKILL'));
  expect(code, stderr).toBe(0);
  expect(stdout).toBe('read over sftp\n');
  // Node and tsx start-up take most of it; an idle connection would add 60 s.
  expect(performance.now() - started).toBeLessThan(40_000);
}, 90_000);
