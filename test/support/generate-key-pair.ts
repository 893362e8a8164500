import ssh2 from 'ssh2';

/**
 * An ed25519 key pair in OpenSSH format that ssh2 itself can parse back.
 * Regression: ssh2's generateKeyPairSync emits a public key its own parser rejects
 * ("Malformed OpenSSH public key") about once in 200 calls, which made random tests flaky.
 */
export function generateKeyPair(comment?: string): { private: string; public: string } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', comment ? { comment } : undefined);
    if (!(ssh2.utils.parseKey(pair.public) instanceof Error) && !(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new Error('could not generate a parseable ed25519 key pair');
}
