// sshpool exactly as its README shows it: $.ssh(target) on the global pool, default poolConfig.
import type { BenchHost } from '../bench-host.js';
import type { Contender } from '../contender.js';
import { loadSshpool } from '../sshpool-module.js';

export async function openSshpool(hosts: readonly BenchHost[]): Promise<Contender> {
  const { $, SSHConnectionPool } = await loadSshpool();
  const executors = hosts.map((host) =>
    $.ssh({
      host: host.host,
      port: host.port,
      username: host.username,
      privateKey: host.privateKey,
      hostKey: { fingerprints: [host.hostKeyFingerprint] },
    }),
  );
  return {
    async run(host, command) {
      const result = await executors[host]!`${$.raw(command)}`;
      return result.stdout;
    },
    close: () => SSHConnectionPool.getInstance().closeAll(),
  };
}
