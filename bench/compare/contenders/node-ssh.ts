// node-ssh as its README shows it: one NodeSSH per host, connect() once, execCommand() for each
// command; concurrent commands share that one connection.
import { NodeSSH } from 'node-ssh';
import type { BenchHost } from '../bench-host.js';
import type { Contender } from '../contender.js';
import { pinnedConnectConfig } from './ssh2-exec.js';

export async function openNodeSsh(hosts: readonly BenchHost[]): Promise<Contender> {
  const connections: Array<Promise<NodeSSH> | undefined> = hosts.map(() => undefined);
  const connect = (index: number): Promise<NodeSSH> => {
    const host = hosts[index]!;
    const opening = new NodeSSH()
      .connect(pinnedConnectConfig(host))
      // A failed connect is retried by the next command instead of failing every later one.
      .catch((error: unknown) => {
        connections[index] = undefined;
        throw error;
      });
    connections[index] = opening;
    return opening;
  };
  return {
    async run(host, command) {
      const ssh = await (connections[host] ?? connect(host));
      const result = await ssh.execCommand(command);
      if (result.code !== 0) throw new Error(`exit status ${result.code}: ${result.stderr.slice(0, 200)}`);
      return result.stdout;
    },
    async close() {
      await Promise.allSettled(connections.map(async (connection) => (await connection)?.dispose()));
    },
  };
}
