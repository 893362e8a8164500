// File transfers over the pooled SFTP channel, against a real OpenSSH server: round trips with
// sha256 compared, awkward names, empty files and directories, atomic overwrites, typed errors
// for a non-root login, one SFTP channel per connection reused, and no SFTP handle left open
// on the server after failures and aborts.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  $,
  InvalidArgumentError,
  LocalFileNotFoundError,
  PermissionDeniedError,
  RemoteFileNotFoundError,
  SSHConnectionPool,
  TransferAbortedError,
  TransferError,
  TransferTimeoutError,
  WriteFailedError,
} from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { until } from '../support/until.js';
import { withTimeout } from '../support/with-timeout.js';

const MiB = 1024 * 1024;
/** The round trip's size: 24 MiB by default; SSHPOOL_TRANSFER_TEST_MIB=1024 for the 1 GiB one (minutes on a busy machine). */
const ROUND_TRIP_MIB = Number(process.env['SSHPOOL_TRANSFER_TEST_MIB'] ?? 24);

let server: SshdServer;
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;
let local: string;
/** The test user's home on the server: every remote path below is under it. */
const HOME = '/home/tester';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The sftp-server processes on the server (one per SFTP channel), found in /proc (the image has no pgrep). */
const SFTP_SERVERS = 'for d in /proc/[0-9]*; do [ "$(cat $d/comm 2>/dev/null)" = sftp-server ] && echo $d; done';

/** Open file descriptors of each sftp-server process on the server (its handles, plus stdio); at least one must run. */
async function sftpServerFds(): Promise<number[]> {
  const { stdout } = await server.exec(['sh', '-c', `for d in $(${SFTP_SERVERS}); do ls $d/fd | wc -l; done`]);
  const counts = stdout.split('\n').filter(Boolean).map(Number);
  expect(counts.length, 'sftp-server processes running').toBeGreaterThan(0);
  return counts;
}

async function sftpServerCount(): Promise<number> {
  const { stdout } = await server.exec(['sh', '-c', SFTP_SERVERS]);
  return stdout.split('\n').filter(Boolean).length;
}

/** Names in a remote directory, hidden ones included (temporary files of atomic writes start with a dot). */
async function remoteNames(dir: string): Promise<string[]> {
  const { stdout } = await server.exec(['ls', '-A', dir]);
  return stdout.split('\n').filter(Boolean).sort();
}

/** A Readable that yields `total` bytes in 64 KiB pieces, slowly enough that a transfer is still running when a test stops it. */
function slowSource(total: number, pauseMs: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const piece = Math.min(64 * 1024, total - sent);
      sent += piece;
      setTimeout(() => this.push(Buffer.alloc(piece, 1)), pauseMs);
    },
  });
}

beforeAll(async () => {
  server = await startSshd();
  pool = new SSHConnectionPool({ maxConnections: 2 });
  ssh = $.ssh(sshdTarget(server, pool));
  local = mkdtempSync(join(tmpdir(), 'sshpool-transfers-'));
});

afterAll(async () => {
  await withTimeout(pool.closeAll(), 20_000, 'closeAll()');
  rmSync(local, { recursive: true, force: true });
});

describe('single files', () => {
  it('writeFile then readFile gives the same bytes back, as a Buffer or a string', async () => {
    const data = randomBytes(300_000);
    await expect(ssh.writeFile(`${HOME}/round-trip.bin`, data)).resolves.toMatchObject({ files: 1, bytes: data.length });
    const back = await ssh.readFile(`${HOME}/round-trip.bin`);
    expect(sha256(back)).toBe(sha256(data));
    await ssh.writeFile(`${HOME}/hello.txt`, 'héllo\n');
    await expect(ssh.readFile(`${HOME}/hello.txt`, 'utf8')).resolves.toBe('héllo\n');
  });

  it(`upload and download of a ${ROUND_TRIP_MIB} MiB file keep its sha256, which verify: sha256 checks on the server too`, async () => {
    const source = join(local, 'big.bin');
    const hash = createHash('sha256');
    const file = await open(source, 'w');
    for (let written = 0; written < ROUND_TRIP_MIB * MiB; written += 8 * MiB) {
      const piece = randomBytes(8 * MiB);
      hash.update(piece);
      await file.write(piece);
    }
    await file.close();
    const data = { length: ROUND_TRIP_MIB * MiB };
    const digest = hash.digest('hex');
    const up = await ssh.upload(source, `${HOME}/big.bin`, { verify: 'sha256' });
    expect(up).toMatchObject({ files: 1, bytes: data.length });
    expect(up.duration).toBeGreaterThan(0);
    const { stdout } = await ssh`sha256sum ${`${HOME}/big.bin`}`;
    expect(stdout.slice(0, 64)).toBe(digest);
    const target = join(local, 'big-back.bin');
    await expect(ssh.download(`${HOME}/big.bin`, target, { verify: 'sha256' })).resolves.toMatchObject({ files: 1, bytes: data.length });
    const back = createHash('sha256');
    for await (const chunk of createReadStream(target)) back.update(chunk as Buffer);
    expect(back.digest('hex')).toBe(digest);
    await rm(source);
    await rm(target);
    await ssh`rm -f ${`${HOME}/big.bin`}`;
  }, Math.max(120_000, ROUND_TRIP_MIB * 1_000));

  it('uploads from a Readable and downloads into a Writable, which is ended', async () => {
    await ssh.upload(Readable.from([Buffer.from('one '), Buffer.from('two '), Buffer.from('three')]), `${HOME}/streamed.txt`);
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => sink.on('end', resolve));
    await ssh.download(`${HOME}/streamed.txt`, sink);
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe('one two three');
  });

  it('names with spaces, quotes, unicode and a leading dash arrive as given', async () => {
    const names = ['with space.txt', `it's "quoted".txt`, 'ünï cödé ✓.txt', '-leading-dash.txt', '$(touch pwned).txt'];
    await ssh`mkdir -p ${`${HOME}/names`}`;
    for (const name of names) await ssh.writeFile(`${HOME}/names/${name}`, name, { verify: 'sha256' });
    expect(await remoteNames(`${HOME}/names`)).toEqual([...names].sort());
    for (const name of names) await expect(ssh.readFile(`${HOME}/names/${name}`, 'utf8')).resolves.toBe(name);
    await expect(ssh`test -e ${`${HOME}/pwned`}`.nothrow()).resolves.toMatchObject({ exitCode: 1 });
  });

  it('an empty file goes both ways', async () => {
    await expect(ssh.writeFile(`${HOME}/empty`, Buffer.alloc(0))).resolves.toMatchObject({ files: 1, bytes: 0 });
    await expect(ssh.readFile(`${HOME}/empty`)).resolves.toEqual(Buffer.alloc(0));
    const target = join(local, 'empty');
    await ssh.download(`${HOME}/empty`, target);
    expect((await stat(target)).size).toBe(0);
  });

  it('an existing file is replaced atomically: its mode is kept, no temporary file is left', async () => {
    await ssh`mkdir -p ${`${HOME}/replace`} && printf old > ${`${HOME}/replace/config`} && chmod 640 ${`${HOME}/replace/config`}`;
    await ssh.writeFile(`${HOME}/replace/config`, 'new');
    await expect(ssh`stat -c %a ${`${HOME}/replace/config`}`).resolves.toMatchObject({ stdout: '640\n' });
    await expect(ssh.readFile(`${HOME}/replace/config`, 'utf8')).resolves.toBe('new');
    expect(await remoteNames(`${HOME}/replace`)).toEqual(['config']);
  });

  it('mode sets the permission bits; a new file is 0644 by default', async () => {
    await ssh.writeFile(`${HOME}/secret`, 'x', { mode: 0o600 });
    await ssh.writeFile(`${HOME}/plain`, 'x');
    await expect(ssh`stat -c %a ${`${HOME}/secret`} ${`${HOME}/plain`}`).resolves.toMatchObject({ stdout: '600\n644\n' });
  });

  it('preserve copies the mode and modification time both ways', async () => {
    const source = join(local, 'preserved.sh');
    await writeFile(source, '#!/bin/sh\n');
    await chmod(source, 0o751);
    const { utimes } = await import('node:fs/promises');
    await utimes(source, 1_600_000_000, 1_600_000_000);
    await ssh.upload(source, `${HOME}/preserved.sh`, { preserve: true });
    await expect(ssh`stat -c '%a %Y' ${`${HOME}/preserved.sh`}`).resolves.toMatchObject({ stdout: '751 1600000000\n' });
    const back = join(local, 'preserved-back.sh');
    await ssh.download(`${HOME}/preserved.sh`, back, { preserve: true });
    const stats = await stat(back);
    expect([stats.mode & 0o7777, Math.round(stats.mtimeMs / 1000)]).toEqual([0o751, 1_600_000_000]);
  });
});

describe('directories', () => {
  it('recursive upload and download copy a tree, empty directories and followed file symlinks included', async () => {
    const tree = join(local, 'tree');
    await mkdir(join(tree, 'a', 'b'), { recursive: true });
    await mkdir(join(tree, 'empty'));
    await writeFile(join(tree, 'top.txt'), 'top');
    await writeFile(join(tree, 'a', 'b', 'deep.txt'), 'deep');
    await symlink(join(tree, 'top.txt'), join(tree, 'link-to-top'));
    await symlink(join(tree, 'a'), join(tree, 'link-to-dir'));
    const up = await ssh.upload(tree, `${HOME}/tree`, { recursive: true });
    expect(up).toMatchObject({ files: 3, bytes: 10 });
    expect(await remoteNames(`${HOME}/tree`)).toEqual(['a', 'empty', 'link-to-top', 'top.txt']);
    expect(await remoteNames(`${HOME}/tree/empty`)).toEqual([]);
    await expect(ssh`test -f ${`${HOME}/tree/link-to-top`} && ! test -L ${`${HOME}/tree/link-to-top`} && cat ${`${HOME}/tree/a/b/deep.txt`}`).resolves.toMatchObject({ stdout: 'deep' });
    const back = join(local, 'tree-back');
    await expect(ssh.download(`${HOME}/tree`, back, { recursive: true })).resolves.toMatchObject({ files: 3, bytes: 10 });
    expect((await readdir(back)).sort()).toEqual(['a', 'empty', 'link-to-top', 'top.txt']);
    await expect(readFile(join(back, 'a', 'b', 'deep.txt'), 'utf8')).resolves.toBe('deep');
    expect((await lstat(join(back, 'link-to-top'))).isFile()).toBe(true);
  });

  it('a directory without recursive is refused with a precise message', async () => {
    await expect(ssh.upload(local, `${HOME}/nope`)).rejects.toThrow(/is a directory: pass \{ recursive: true \}/);
    await expect(ssh.download(HOME, join(local, 'nope'))).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('errors for a non-root login', () => {
  it('a missing remote file is RemoteFileNotFoundError', async () => {
    const error = await ssh.readFile(`${HOME}/does-not-exist`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFileNotFoundError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_REMOTE_NOT_FOUND', operation: 'read', path: `${HOME}/does-not-exist` });
  });

  it('a download into a full local disk (/dev/full) is WriteFailedError, and leaves no SFTP handle open', async () => {
    await ssh`head -c 8388608 /dev/zero > ${`${HOME}/for-a-full-disk.bin`}`;
    const baseline = await sftpServerFds();
    const error = await ssh.download(`${HOME}/for-a-full-disk.bin`, '/dev/full').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteFailedError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_WRITE_FAILED', operation: 'download' });
    expect(await sftpServerFds()).toEqual(baseline);
  });

  it('a missing local file is LocalFileNotFoundError, before any slot is taken', async () => {
    const error = await ssh.upload(join(local, 'missing'), `${HOME}/x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalFileNotFoundError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_LOCAL_NOT_FOUND', path: join(local, 'missing') });
  });

  it('writing where the login may not, or reading what it may not, is PermissionDeniedError and leaves nothing behind', async () => {
    await expect(ssh.writeFile('/etc/sshpool-denied', 'x')).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(ssh.writeFile('/etc/sshpool-denied', 'x', { atomic: false })).rejects.toMatchObject({ code: 'ERR_SSHPOOL_PERMISSION_DENIED' });
    await expect(ssh.readFile('/etc/shadow')).rejects.toBeInstanceOf(PermissionDeniedError);
    await ssh`mkdir -p ${`${HOME}/locked`} && printf keep > ${`${HOME}/locked/file`} && chmod 555 ${`${HOME}/locked`}`;
    await expect(ssh.writeFile(`${HOME}/locked/file`, 'overwrite')).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(await remoteNames(`${HOME}/locked`)).toEqual(['file']);
    await expect(ssh.readFile(`${HOME}/locked/file`, 'utf8')).resolves.toBe('keep');
  });
});

describe('the pooled SFTP channel', () => {
  it('one SFTP channel per connection is opened when first needed, reused, and counted in openChannels while idle', async () => {
    const fresh = new SSHConnectionPool({ maxConnections: 1 });
    try {
      const one = $.ssh(sshdTarget(server, fresh));
      await one`true`;
      expect(fresh.getStats().openChannels).toBe(0);
      const before = await sftpServerCount();
      for (let i = 0; i < 5; i++) await one.writeFile(`${HOME}/reuse-${i}`, `${i}`);
      expect(fresh.getStats()).toMatchObject({ totalConnections: 1, openChannels: 1, activeConnections: 0 });
      expect(await sftpServerCount()).toBe(before + 1);
      await fresh.closeIdleConnections();
      expect(fresh.getStats()).toMatchObject({ totalConnections: 0, openChannels: 0 });
    } finally {
      await fresh.closeAll();
    }
  });

  it('transfers that fail with their remote file open leave no SFTP handle open and no temporary file', async () => {
    const fresh = new SSHConnectionPool({ maxConnections: 1 });
    try {
      const one = $.ssh(sshdTarget(server, fresh));
      await one`mkdir -p ${`${HOME}/failing`}`;
      await one.writeFile(`${HOME}/failing/source`, randomBytes(256 * 1024));
      const baseline = await sftpServerFds();
      // Each fails after its handle is open: a source that breaks mid-upload, a target that breaks mid-download.
      const broken = (): Readable => new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024));
          this.destroy(new Error('source broke'));
        },
      });
      const refusing = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done(new Error('target broke')) });
      const failures = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0
        ? one.upload(broken(), `${HOME}/failing/target-${i}`)
        : one.download(`${HOME}/failing/source`, refusing())).then(() => 'resolved', (e: unknown) => (e as Error).message)));
      expect(failures.filter((message) => !/broke/.test(message))).toEqual([]);
      expect(await sftpServerFds()).toEqual(baseline);
      expect(await remoteNames(`${HOME}/failing`)).toEqual(['source']);
    } finally {
      await fresh.closeAll();
    }
  }, 120_000);
});

describe('stopping a transfer', () => {
  it('an abort mid-upload rejects with TransferAbortedError, leaves no file at the target and no handle open', async () => {
    const fresh = new SSHConnectionPool({ maxConnections: 1 });
    const one = $.ssh(sshdTarget(server, fresh));
    await one.writeFile(`${HOME}/abort-warm`, 'x');
    const baseline = await sftpServerFds();
    await one`mkdir -p ${`${HOME}/aborted`}`;
    const controller = new AbortController();
    const upload = one.upload(slowSource(64 * MiB, 5), `${HOME}/aborted/target`, {
      signal: controller.signal,
      onProgress: ({ transferred }) => {
        if (transferred > 512 * 1024) controller.abort();
      },
    });
    const error = await withTimeout(upload.catch((e: unknown) => e), 30_000, 'the aborted upload');
    expect(error).toBeInstanceOf(TransferAbortedError);
    expect(await remoteNames(`${HOME}/aborted`)).toEqual([]);
    expect(await sftpServerFds()).toEqual(baseline);
    await fresh.closeAll();
  }, 60_000);

  it('a timeout mid-download rejects with TransferTimeoutError and the next transfer works', async () => {
    await ssh`head -c 200000000 /dev/zero > ${`${HOME}/large.bin`}`;
    const target = join(local, 'timed-out.bin');
    const error = await ssh.download(`${HOME}/large.bin`, target, { timeout: 300, atomic: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferTimeoutError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_TRANSFER_TIMEOUT', timeoutMs: 300 });
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(local)).filter((name) => name.includes('sshpool-tmp'))).toEqual([]);
    await ssh.writeFile(`${HOME}/after-timeout.txt`, 'still fine');
    await expect(ssh.readFile(`${HOME}/after-timeout.txt`, 'utf8')).resolves.toBe('still fine');
  }, 60_000);

  it('a Writable destroyed mid-download (its reader went away) fails the download at once, with no handle left open', async () => {
    const fresh = new SSHConnectionPool({ maxConnections: 1 });
    try {
      const one = $.ssh(sshdTarget(server, fresh));
      await one`head -c 67108864 /dev/zero > ${`${HOME}/abandoned.bin`}`;
      await one.writeFile(`${HOME}/abandon-warm`, 'x');
      const baseline = await sftpServerFds();
      const reader = new PassThrough({ highWaterMark: 64 * 1024 });
      let read = 0;
      reader.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= 1024 * 1024) reader.destroy();
      });
      const error = await withTimeout(one.download(`${HOME}/abandoned.bin`, reader).catch((e: unknown) => e), 30_000, 'the abandoned download');
      expect(error).toBeInstanceOf(TransferError);
      expect((error as TransferError).message).toMatch(/destroyed/);
      expect(await sftpServerFds()).toEqual(baseline);
      await expect(one.readFile(`${HOME}/abandon-warm`, 'utf8')).resolves.toBe('x');
    } finally {
      await fresh.closeAll();
    }
  }, 60_000);

  it('closeAll() stops a running transfer after its drain timeout: TransferAbortedError, no file at the target', async () => {
    const closing = new SSHConnectionPool({ maxConnections: 1 });
    const one = $.ssh(sshdTarget(server, closing));
    await one`mkdir -p ${`${HOME}/closed-pool`}`;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const upload = one.upload(slowSource(64 * MiB, 5), `${HOME}/closed-pool/target`, { onProgress: () => started() }).catch((e: unknown) => e);
    await withTimeout(running, 30_000, 'the upload to start');
    await withTimeout(closing.closeAll({ timeout: 100 }), 30_000, 'closeAll()');
    const error = await withTimeout(upload, 30_000, 'the stopped upload');
    expect(error).toBeInstanceOf(TransferAbortedError);
    expect((error as Error).message).toMatch(/the pool closed/);
    expect(await remoteNames(`${HOME}/closed-pool`)).not.toContain('target');
  }, 60_000);
});
