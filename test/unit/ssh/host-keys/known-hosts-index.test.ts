// known_hosts files are read once per change and indexed by name: a changed file is read
// again (even at the same size), a large hashed file is searched ahead of the handshake, and
// every answer is the one a full read of the file gives.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareHostKeyVerification, resolveHostKeyVerification, verifyHostKey } from '../../../../src/ssh/host-keys/host-key-verifier.js';
import { keyBlob, knownHostsLine } from '../../../support/ssh-key-blobs.js';

const dir = mkdtempSync(join(tmpdir(), 'sshpool-kh-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hashed = (name: string): string => {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
};

describe('known_hosts index', () => {
  it('reads a file again when it changes, even to another key of the same length', () => {
    const file = join(dir, 'changing');
    const [first, second] = [keyBlob(), keyBlob()];
    writeFileSync(file, `${knownHostsLine('web.example', first)}\n`);
    const policy = resolveHostKeyVerification({ knownHostsFile: file, globalKnownHostsFiles: [] });
    expect(verifyHostKey(policy, 'web.example', 22, first).accepted).toBe(true);
    writeFileSync(file, `${knownHostsLine('web.example', second)}\n`);
    // Same size, and an mtime that may not have moved: the ctime and inode still tell.
    utimesSync(file, new Date(0), new Date(0));
    expect(verifyHostKey(policy, 'web.example', 22, first)).toMatchObject({ accepted: false, reason: 'mismatch' });
    expect(verifyHostKey(policy, 'web.example', 22, second).accepted).toBe(true);
  });

  it('finds the last line of a 20,000-line hashed file after preparing, and the same without', async () => {
    const [key, other] = [keyBlob(), keyBlob()];
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(knownHostsLine(hashed(`[10.2.${i >> 8}.${i & 255}]:2222`), i === 19_999 ? key : other));
    const file = join(dir, 'large');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const policy = resolveHostKeyVerification({ knownHostsFile: file, globalKnownHostsFiles: [] });
    const last = { host: '10.2.78.31', port: 2222 };
    await prepareHostKeyVerification(policy, last.host, last.port);
    expect(verifyHostKey(policy, last.host, last.port, key).accepted).toBe(true);
    expect(verifyHostKey(policy, last.host, last.port, keyBlob())).toMatchObject({ accepted: false, reason: 'mismatch', line: 20_000 });
    // Not prepared: the synchronous lookup hashes what it must itself.
    expect(verifyHostKey(policy, '10.2.0.0', 2222, keyBlob())).toMatchObject({ accepted: false, reason: 'mismatch', line: 1 });
    expect(verifyHostKey(policy, '10.9.9.9', 2222, key)).toMatchObject({ accepted: false, reason: 'unknown' });
  });
});
