// sshpool exactly as its README shows it: $.ssh(target) on the global pool, default poolConfig.
import type { BenchHost } from '../bench-host.js';
import type { Contender, WorkloadHints } from '../contender.js';
import { loadSshpool, sshpoolTarget } from '../sshpool-module.js';

export async function openSshpool(hosts: readonly BenchHost[], hints: WorkloadHints): Promise<Contender> {
  const { $, SSHConnectionPool, DEFAULT_MAX_BUFFER } = await loadSshpool();
  // Output beyond the default cap is asked for per command, as the README tells users to.
  const wanted = (hints.outputBytes ?? 0) + 4096;
  const maxBuffer = wanted > DEFAULT_MAX_BUFFER ? wanted : undefined;
  const executors = hosts.map((host) => $.ssh(sshpoolTarget(host)));
  return {
    async run(host, command) {
      const call = executors[host]!`${$.raw(command)}`;
      const result = await (maxBuffer === undefined ? call : call.maxBuffer(maxBuffer));
      return result.stdout;
    },
    close: () => SSHConnectionPool.getInstance().closeAll(),
  };
}
