// What users write without a pool: connect, exec, disconnect, with ssh2's defaults.
import type { BenchHost } from '../bench-host.js';
import type { Contender } from '../contender.js';
import { connectSsh2, execSsh2 } from './ssh2-exec.js';

export async function openSsh2PerCommand(hosts: readonly BenchHost[]): Promise<Contender> {
  return {
    async run(host, command) {
      const client = await connectSsh2(hosts[host]!, { noDelay: false });
      client.on('error', () => {});
      try {
        return await execSsh2(client, command);
      } finally {
        client.end();
      }
    },
    close: () => Promise.resolve(),
  };
}
