// Every key format ssh2 reads works, with and without passphrase; everything else fails
// before anything is sent, with a PrivateKeyError that says what is wrong and how to fix it,
// never an ssh2 stack trace or a hang.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { $, PrivateKeyError } from '../../../../src/index.js';

const KEYS = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'keys');
const PASSPHRASE = 'sshpool-test';
const key = (name: string): Buffer => readFileSync(join(KEYS, name));

function failure(run: () => unknown): PrivateKeyError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PrivateKeyError);
    return error as PrivateKeyError;
  }
  throw new Error('expected a PrivateKeyError');
}

const target = (privateKey: Buffer, passphrase?: string) => ({
  host: '127.0.0.1',
  username: 'u',
  configFile: false as const,
  privateKey,
  ...(passphrase === undefined ? {} : { passphrase }),
});

describe('private key formats', () => {
  const readable: Array<[string, boolean]> = [
    ['openssh_ed25519', false],
    ['openssh_ed25519_encrypted', true],
    ['openssh_rsa_encrypted', true],
    ['pem_rsa', false],
    ['pem_rsa_encrypted', true],
    ['pem_ecdsa_encrypted', true],
    ['ppk2_rsa.ppk', false],
    ['ppk2_rsa_encrypted.ppk', true],
  ];

  for (const [name, encrypted] of readable) {
    it(`accepts ${name}${encrypted ? ' with its passphrase' : ''}`, () => {
      expect(() => $.ssh(target(key(name), encrypted ? PASSPHRASE : undefined))).not.toThrow();
    });
  }

  it('ignores a passphrase given for an unencrypted key (ssh2 alone would reject an unencrypted PPK)', () => {
    expect(() => $.ssh(target(key('ppk2_rsa.ppk'), 'not needed'))).not.toThrow();
  });

  for (const [name] of readable.filter(([, encrypted]) => encrypted)) {
    it(`names a missing passphrase for ${name}`, () => {
      const error = failure(() => $.ssh(target(key(name))));
      expect(error).toMatchObject({ code: 'ERR_SSHPOOL_PRIVATE_KEY', reason: 'passphrase-required', source: 'target.privateKey' });
      expect(error.message).toBe('target.privateKey is encrypted and no passphrase was given (set passphrase on the target)');
    });

    it(`names a wrong passphrase for ${name}, without echoing it`, () => {
      const error = failure(() => $.ssh(target(key(name), 'Wr0ng-Secret-Passphrase')));
      expect(error.reason).toBe('wrong-passphrase');
      expect(error.message).not.toContain('Wr0ng-Secret-Passphrase');
      expect(String(error.stack)).not.toContain('node_modules/ssh2');
    });
  }

  const unreadable: Array<[string, RegExp]> = [
    ['ppk3_ed25519.ppk', /PPK version 3 keys are not supported by ssh2; convert it: puttygen/],
    ['ppk2_ed25519.ppk', /PPK version 2 only for RSA keys/],
    ['pkcs8_rsa', /PKCS#8 keys \("BEGIN PRIVATE KEY"\) are not supported by ssh2; rewrite it in OpenSSH format: ssh-keygen -p -f KEY/],
    ['openssh_ed25519.pub', /is a public key|not a private key/],
  ];
  for (const [name, message] of unreadable) {
    it(`refuses ${name} as unsupported-format with a way forward`, () => {
      const error = failure(() => $.ssh(target(key(name))));
      expect(error.reason).toBe('unsupported-format');
      expect(error.message).toMatch(message);
    });
  }
});
