import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/index.js';
import { fingerprintOf, knownHostsName, resolveHostKeyVerification, verifyHostKey } from '../../src/host-key-verifier.js';

/** A syntactically valid SSH public key blob: string type, then opaque key bytes. */
function keyBlob(type = 'ssh-ed25519'): Buffer {
  const name = Buffer.from(type);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  return Buffer.concat([length, name, randomBytes(36)]);
}

function knownHosts(lines: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sshpool-kh-')), 'known_hosts');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const line = (name: string, blob: Buffer, type = 'ssh-ed25519') => `${name} ${type} ${blob.toString('base64')}`;

describe('host-key verification', () => {
  const key = keyBlob();

  it('accepts a key listed for [host]:port and rejects an unknown host under strict', () => {
    const file = knownHosts([line('[10.0.0.5]:2222', key)]);
    const strict = resolveHostKeyVerification({ knownHostsFile: file });
    expect(verifyHostKey(strict, '10.0.0.5', 2222, key).accepted).toBe(true);
    expect(verifyHostKey(strict, '10.0.0.5', 22, key)).toMatchObject({ accepted: false, reason: 'unknown' });
    expect(verifyHostKey(strict, '10.0.0.6', 2222, key)).toMatchObject({ accepted: false, reason: 'unknown' });
  });

  it('rejects a changed key of a known host as a mismatch', () => {
    const file = knownHosts([line('web.example', key)]);
    expect(verifyHostKey(resolveHostKeyVerification({ knownHostsFile: file }), 'web.example', 22, keyBlob())).toMatchObject({ accepted: false, reason: 'mismatch' });
  });

  it('matches hashed entries the way ssh-keygen -H writes them', () => {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update(knownHostsName('db.example', 2200)).digest('base64');
    const file = knownHosts([line(`|1|${salt.toString('base64')}|${hash}`, key)]);
    expect(verifyHostKey(resolveHostKeyVerification({ knownHostsFile: file }), 'db.example', 2200, key).accepted).toBe(true);
  });

  it('honours wildcards, and a negated pattern wins over a positive one', () => {
    const file = knownHosts([line('*.prod.example,!bastion.prod.example', key)]);
    const strict = resolveHostKeyVerification({ knownHostsFile: file });
    expect(verifyHostKey(strict, 'app1.prod.example', 22, key).accepted).toBe(true);
    expect(verifyHostKey(strict, 'bastion.prod.example', 22, key)).toMatchObject({ accepted: false, reason: 'unknown' });
  });

  it('refuses a key marked @revoked even when it is also listed', () => {
    const file = knownHosts([line('web.example', key), `@revoked ${line('*', key)}`]);
    expect(verifyHostKey(resolveHostKeyVerification({ knownHostsFile: file }), 'web.example', 22, key)).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('never accepts through @cert-authority lines', () => {
    const file = knownHosts([`@cert-authority ${line('*', key)}`]);
    expect(verifyHostKey(resolveHostKeyVerification({ knownHostsFile: file }), 'web.example', 22, key).accepted).toBe(false);
  });

  it('accept-new records an unknown host once, then rejects a changed key', () => {
    const file = knownHosts(['# comment']);
    const tofu = resolveHostKeyVerification({ policy: 'accept-new', knownHostsFile: file });
    expect(verifyHostKey(tofu, 'new.example', 2022, key).accepted).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain(line('[new.example]:2022', key));
    expect(verifyHostKey(tofu, 'new.example', 2022, key).accepted).toBe(true);
    expect(readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('[new.example]')).length).toBe(1);
    expect(verifyHostKey(tofu, 'new.example', 2022, keyBlob())).toMatchObject({ accepted: false, reason: 'mismatch' });
  });

  it('with pinned fingerprints ignores known_hosts and accepts only the pins', () => {
    const pinned = resolveHostKeyVerification({ fingerprints: [fingerprintOf(key)], knownHostsFile: '/nonexistent' });
    expect(verifyHostKey(pinned, 'any', 22, key).accepted).toBe(true);
    expect(verifyHostKey(pinned, 'any', 22, keyBlob())).toMatchObject({ accepted: false, reason: 'not-pinned' });
  });

  it('reports the key type and the ssh-keygen style fingerprint', () => {
    const verdict = verifyHostKey(resolveHostKeyVerification('off'), 'h', 22, keyBlob('ecdsa-sha2-nistp256'));
    expect(verdict).toMatchObject({ accepted: true, keyType: 'ecdsa-sha2-nistp256' });
    expect(verdict.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('rejects malformed settings with precise messages', () => {
    expect(() => resolveHostKeyVerification({ fingerprints: ['md5:aa'] })).toThrow(/hostKey\.fingerprints\[0\] must look like/);
    expect(() => resolveHostKeyVerification({ fingerprints: [] })).toThrow(InvalidArgumentError);
    expect(() => resolveHostKeyVerification({ policy: 'trust' as never })).toThrow(/hostKey\.policy must be/);
    expect(() => resolveHostKeyVerification({ file: 'x' } as never)).toThrow(/hostKey\.file is not a known option/);
  });
});
