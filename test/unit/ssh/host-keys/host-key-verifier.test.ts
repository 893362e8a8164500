import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../src/index.js';
import {
  describeRejection,
  fingerprintOf,
  knownHostsName,
  preferredHostKeyAlgorithms,
  resolveHostKeyVerification,
  SSH2_DEFAULT_HOST_KEY_ALGORITHMS,
  verifyHostKey,
} from '../../../../src/ssh/host-keys/host-key-verifier.js';
import { keyBlob, knownHostsLine } from '../../../support/ssh-key-blobs.js';

// Every file this test writes lives under one folder, removed when the file's tests end.
const scratch = mkdtempSync(join(tmpdir(), 'sshpool-kh-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function knownHosts(lines: string[]): string {
  const file = join(mkdtempSync(join(scratch, 'kh-')), 'known_hosts');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const line = (name: string, blob: Buffer, type?: string) => knownHostsLine(name, blob, type);

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

  // Regression: an impostor presenting only a key type not yet recorded was accepted and appended.
  it('accept-new refuses a known host presenting a key of a type not recorded for it, and appends nothing', () => {
    const ecdsa = keyBlob('ecdsa-sha2-nistp256');
    const file = knownHosts([line('[db.example]:2200', ecdsa)]);
    const before = readFileSync(file, 'utf8');
    const tofu = resolveHostKeyVerification({ policy: 'accept-new', knownHostsFile: file });
    expect(verifyHostKey(tofu, 'db.example', 2200, keyBlob('ssh-ed25519'))).toMatchObject({ accepted: false, reason: 'mismatch' });
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('matches host names case-insensitively, hashed entries included, as ssh lowercases the name', () => {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[web.example]:2222').digest('base64');
    const file = knownHosts([line(`|1|${salt.toString('base64')}|${hash}`, key), line('DB.Example', key)]);
    const strict = resolveHostKeyVerification({ knownHostsFile: file });
    expect(verifyHostKey(strict, 'Web.EXAMPLE', 2222, key).accepted).toBe(true);
    expect(verifyHostKey(strict, 'db.example', 22, key).accepted).toBe(true);
  });

  it('accepts a key recorded under the bare host name for another port, as ssh does', () => {
    const file = knownHosts([line('web.example', key)]);
    const strict = resolveHostKeyVerification({ knownHostsFile: file });
    expect(verifyHostKey(strict, 'web.example', 2222, key).accepted).toBe(true);
    expect(verifyHostKey(strict, 'web.example', 2222, keyBlob())).toMatchObject({ accepted: false, reason: 'unknown' });
  });

  it('skips lines OpenSSH would skip: corrupt base64, a type name that differs from the key, unknown markers', () => {
    const ed = line('web.example', key);
    const file = knownHosts([
      ed.slice(0, -6),
      line('web.example', key, 'ecdsa-sha2-nistp256'),
      `@trusted ${ed}`,
      `@revoked @revoked ${ed}`,
    ]);
    const tofu = resolveHostKeyVerification({ policy: 'accept-new', knownHostsFile: file });
    expect(verifyHostKey(resolveHostKeyVerification({ knownHostsFile: file }), 'web.example', 22, key)).toMatchObject({ accepted: false, reason: 'unknown' });
    expect(verifyHostKey(tofu, 'web.example', 22, key).accepted).toBe(true);
  });

  it('appends on a line of its own when the file does not end with a newline', () => {
    const other = line('other.example', keyBlob());
    const file = knownHosts([]);
    writeFileSync(file, other);
    const tofu = resolveHostKeyVerification({ policy: 'accept-new', knownHostsFile: file });
    expect(verifyHostKey(tofu, 'new.example', 22, key).accepted).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(`${other}\n${line('new.example', key)}\n`);
  });

  it('records the host name in lowercase, as ssh does', () => {
    const file = join(mkdtempSync(join(scratch, 'kh-')), 'known_hosts');
    verifyHostKey(resolveHostKeyVerification({ policy: 'accept-new', knownHostsFile: file }), 'New.Example', 22, key);
    expect(readFileSync(file, 'utf8')).toBe(`${line('new.example', key)}\n`);
  });

  // Regression: a directory as knownHostsFile surfaced as a transient error and was retried.
  it('rejects permanently, naming the problem, when knownHostsFile is a directory', () => {
    const dir = mkdtempSync(join(scratch, 'kh-dir-'));
    mkdirSync(join(dir, 'known_hosts'));
    const verification = resolveHostKeyVerification({ policy: 'accept-new', knownHostsFile: join(dir, 'known_hosts') });
    const verdict = verifyHostKey(verification, 'web.example', 22, key);
    expect(verdict).toMatchObject({ accepted: false, reason: 'unknown' });
    expect(describeRejection('web.example', 22, verdict, verification)).toMatch(/known_hosts is a directory, not a known_hosts file/);
  });

  it('names the line and the recorded key types when a key has changed', () => {
    const file = knownHosts(['# first', line('web.example', keyBlob('ecdsa-sha2-nistp256'))]);
    const verification = resolveHostKeyVerification({ knownHostsFile: file });
    const verdict = verifyHostKey(verification, 'web.example', 22, key);
    expect(describeRejection('web.example', 22, verdict, verification)).toContain(`(recorded: ecdsa-sha2-nistp256) in ${file}:2`);
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

  it('rejects malformed settings with precise messages, never echoing the rejected text', () => {
    const secret = 'hunter2-is-my-password';
    const error = (() => {
      try {
        resolveHostKeyVerification({ fingerprints: [secret] });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/got a string of 22 characters/);
    expect(error?.message).not.toContain(secret);
    expect(() => resolveHostKeyVerification({ fingerprints: ['md5:aa'] })).toThrow(/hostKey\.fingerprints\[0\] must look like/);
    expect(() => resolveHostKeyVerification({ fingerprints: [] })).toThrow(InvalidArgumentError);
    expect(() => resolveHostKeyVerification({ policy: 'trust' as never })).toThrow(/hostKey\.policy must be/);
    expect(() => resolveHostKeyVerification({ file: 'x' } as never)).toThrow(/hostKey\.file is not a known option/);
  });
});

describe('host key algorithm order', () => {
  const known = (lines: string[]) => resolveHostKeyVerification({ knownHostsFile: knownHosts(lines) });

  it('is the same default list ssh2 itself offers', () => {
    const constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as { DEFAULT_SERVER_HOST_KEY: string[] };
    expect([...SSH2_DEFAULT_HOST_KEY_ALGORITHMS]).toEqual(constants.DEFAULT_SERVER_HOST_KEY);
  });

  it("leaves ssh2's default when nothing is recorded for the host, or known_hosts is not used", () => {
    expect(preferredHostKeyAlgorithms(known([line('other.example', keyBlob())]), 'web.example', 22)).toBeUndefined();
    expect(preferredHostKeyAlgorithms(resolveHostKeyVerification('off'), 'web.example', 22)).toBeUndefined();
    expect(preferredHostKeyAlgorithms(resolveHostKeyVerification({ fingerprints: [fingerprintOf(keyBlob())] }), 'web.example', 22)).toBeUndefined();
  });

  it('keeps the default order when the most preferred type (ed25519) is recorded', () => {
    const order = preferredHostKeyAlgorithms(known([line('web.example', keyBlob('ecdsa-sha2-nistp256')), line('web.example', keyBlob())]), 'web.example', 22);
    expect(order).toEqual([...SSH2_DEFAULT_HOST_KEY_ALGORITHMS]);
  });

  // Regression: a host known only by its ecdsa key negotiated ed25519 and was reported as CHANGED.
  it('puts the recorded ecdsa curve first when only an ecdsa key is recorded', () => {
    const order = preferredHostKeyAlgorithms(known([line('[web.example]:2222', keyBlob('ecdsa-sha2-nistp384'))]), 'web.example', 2222);
    expect(order).toEqual(['ecdsa-sha2-nistp384', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it('puts every RSA signature algorithm first when an RSA key is recorded', () => {
    const order = preferredHostKeyAlgorithms(known([line('web.example', keyBlob('ssh-rsa'))]), 'web.example', 22);
    expect(order?.slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it('ignores revoked and cert-authority lines, and lines for other names', () => {
    const ecdsa = keyBlob('ecdsa-sha2-nistp256');
    const order = preferredHostKeyAlgorithms(
      known([`@revoked ${line('web.example', ecdsa)}`, `@cert-authority ${line('web.example', ecdsa)}`, line('web.example', ecdsa)]),
      'web.example',
      2222,
    );
    expect(order).toBeUndefined();
  });
});
