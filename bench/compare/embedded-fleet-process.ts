// Many in-process SSH servers (ssh2's, as in the unit tests), one port each, in a process
// of their own: the 500-host end of the scale measurements, which would need 500 OpenSSH
// containers otherwise. Sends { type: 'ready', hosts } and runs until disconnected.
import { EmbeddedSshServer } from '../../test/support/embedded-ssh-server.js';
import type { BenchHost } from './bench-host.js';

const count = Number(process.argv[2] ?? 1);
const servers: EmbeddedSshServer[] = [];
for (let i = 0; i < count; i++) servers.push(await new EmbeddedSshServer({ username: 'bench' }).start());

const hosts: BenchHost[] = servers.map((server) => ({
  host: server.host,
  port: server.port,
  username: server.username,
  privateKey: server.privateKey,
  hostKeyFingerprint: server.hostKeyFingerprint,
  hostPublicKey: `ssh-ed25519 ${server.hostPublicKey.toString('base64')}`,
}));

process.on('disconnect', () => {
  void Promise.allSettled(servers.map((server) => server.stop())).then(() => process.exit(0));
});
process.send!({ type: 'ready', hosts });
