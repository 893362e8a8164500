import { createHash } from 'node:crypto';

/** 'SHA256:<base64>' of a host key blob, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}
