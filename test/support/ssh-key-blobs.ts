// Public key blobs in SSH wire format, for known_hosts tests that need valid keys of
// several types without a server.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An mpint: big-endian, with a zero byte in front when the top bit is set. */
function sshMpint(bytes: Buffer): Buffer {
  return sshString(bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

export type TestKeyType = 'ssh-ed25519' | 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384' | 'ssh-rsa';

/** A fresh, valid public key blob of the given type. */
export function keyBlob(type: TestKeyType = 'ssh-ed25519'): Buffer {
  switch (type) {
    case 'ssh-ed25519':
      return Buffer.concat([sshString(type), sshString(randomBytes(32))]);
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384': {
      const curve = type.slice('ecdsa-sha2-'.length);
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: curve === 'nistp256' ? 'P-256' : 'P-384' });
      const jwk = publicKey.export({ format: 'jwk' });
      const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
      return Buffer.concat([sshString(type), sshString(curve), sshString(point)]);
    }
    case 'ssh-rsa': {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const jwk = publicKey.export({ format: 'jwk' });
      return Buffer.concat([sshString(type), sshMpint(Buffer.from(jwk.e!, 'base64url')), sshMpint(Buffer.from(jwk.n!, 'base64url'))]);
    }
  }
}

/** A known_hosts line: `<hosts> <type> <base64>`. */
export function knownHostsLine(hosts: string, blob: Buffer, typeName?: string): string {
  const type = typeName ?? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');
  return `${hosts} ${type} ${blob.toString('base64')}`;
}
