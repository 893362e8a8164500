// Whether ssh2's optional native crypto binding is loaded in this Node: with it, ssh2 encrypts
// and decrypts each packet in C++; without it (not built, or built against another Node's
// headers), it makes several Node crypto calls per packet. Every ssh2-based contender shares the
// answer, but the comparisons with OpenSSH's tools depend on it, so each bench prints it.
import { createRequire } from 'node:module';

export function ssh2BindingStatus(): string {
  try {
    const crypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean };
    return crypto.bindingAvailable ? 'ssh2 native crypto binding loaded' : 'ssh2 native crypto binding NOT loaded (per-packet JavaScript crypto path)';
  } catch {
    return 'ssh2 native crypto binding: unknown';
  }
}
