// sshpool exactly as its README shows it: $.ssh(target) on the global pool, default poolConfig;
// and the same with spare channels off, to measure what they bring.
import type { BenchHost } from '../bench-host.js';
import type { Contender, WorkloadHints } from '../contender.js';
import { loadSshpool, sshpoolTarget } from '../sshpool-module.js';

export function openSshpool(hosts: readonly BenchHost[], hints: WorkloadHints): Promise<Contender> {
  return open(hosts, hints, {});
}

/** The same with `spareChannels: false`: every command opens its own channel (two round trips). */
export function openSshpoolWithoutSpares(hosts: readonly BenchHost[], hints: WorkloadHints): Promise<Contender> {
  return open(hosts, hints, { spareChannels: false });
}

async function open(hosts: readonly BenchHost[], hints: WorkloadHints, poolConfig: { spareChannels?: boolean }): Promise<Contender> {
  const { $, SSHConnectionPool, DEFAULT_MAX_BUFFER } = await loadSshpool();
  // Output beyond the default cap is asked for per command, as the README tells users to.
  const wanted = (hints.outputBytes ?? 0) + 4096;
  const maxBuffer = wanted > DEFAULT_MAX_BUFFER ? wanted : undefined;
  const executors = hosts.map((host) => $.ssh({ ...sshpoolTarget(host), ...(Object.keys(poolConfig).length > 0 ? { poolConfig } : {}) }));
  return {
    async run(host, command) {
      const call = executors[host]!`${$.raw(command)}`;
      const result = await (maxBuffer === undefined ? call : call.maxBuffer(maxBuffer));
      return result.stdout;
    },
    close: () => SSHConnectionPool.getInstance().closeAll(),
  };
}
