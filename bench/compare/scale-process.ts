// Memory and scale measurements for one client (sshpool, plain ssh2 or node-ssh), in a process of its
// own started with --expose-gc. Started by memory-and-scale.ts; answers one request.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { SSHConnectionPool } from '../../src/index.js';
import type { BenchHost } from './bench-host.js';
import { openNodeSsh } from './contenders/node-ssh.js';
import { connectSsh2, execSsh2 } from './contenders/ssh2-exec.js';
import type { Ssh2Client } from './contenders/ssh2-exec.js';
import { loadSshpool, sshpoolTarget } from './sshpool-module.js';
import { summarize } from './stats.js';

const { $, SSHConnectionPool: Pool } = await loadSshpool();

export type ScaleClient = 'sshpool' | 'ssh2' | 'node-ssh';

export type ScaleRequest = (
  /** Opens `connections` connections to hosts[0] and lets them sit idle. */
  | { readonly type: 'idle'; readonly client: ScaleClient; readonly host: BenchHost; readonly connections: number }
  /** One connection per host (first command), then `rounds` more commands per host. */
  | { readonly type: 'hosts'; readonly client: ScaleClient; readonly hosts: readonly BenchHost[]; readonly rounds: number; readonly concurrency: number }
) & {
  /**
   * A host outside the measured ones: one connection to it and one command, closed before the
   * baseline, so that what the first connection of a process initialises once (crypto,
   * ssh2's and sshpool's lazy state, ~16 MiB) is not charged to the measured connections.
   */
  readonly warmUpHost: BenchHost;
};

export interface Memory {
  /** V8 heap in use plus memory held outside it (Buffers), after a full GC. */
  readonly heap: number;
  readonly rss: number;
}

export interface ScaleResult {
  readonly baseline: Memory;
  readonly loaded: Memory;
  readonly connections: number;
  /** For 'hosts': the first command per host (connect included) and the later ones. */
  readonly connectPhase?: { readonly ms: number; readonly cpuMicrosPerHost: number; readonly failed: number };
  readonly commandPhase?: {
    readonly commands: number;
    readonly failed: number;
    readonly perSecond: number;
    readonly cpuMicrosPerCommand: number;
    readonly p50: number;
    readonly p99: number;
    readonly loopP99: number;
  };
}

/**
 * Memory per idle connection is read this long after the connections' last use, for every client
 * alike: sshpool gives an unused spare session back 1 to 2 s after it opened.
 */
const IDLE_AFTER_MS = 2_500;
const idle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, IDLE_AFTER_MS));

const gc = (globalThis as { gc?: () => void }).gc;
function memory(): Memory {
  if (!gc) throw new Error('scale-process needs --expose-gc');
  // Twice: the first pass may only queue finalizers that free more.
  gc();
  gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed + usage.external, rss: usage.rss };
}

interface Client {
  open(hosts: readonly BenchHost[], perHost: number): Promise<void>;
  run(host: number, command: string): Promise<string>;
  close(): Promise<void>;
}

function sshpoolClient(): Client {
  let pool: SSHConnectionPool | undefined;
  let executors: Array<ReturnType<typeof $.ssh>> = [];
  return {
    async open(hosts, perHost) {
      // Defaults, except that the idle measurement needs room for its connections, and that no
      // connection may idle out before memory is read: 2,000 hosts took longer to connect than
      // the default 60 s idleTimeout on a busy machine, and the first hosts were gone by then.
      pool = new Pool({ idleTimeout: 0, ...(perHost > 1 ? { maxConnections: perHost } : {}) });
      executors = hosts.map((host) => $.ssh({ ...sshpoolTarget(host), pool }));
      if (perHost > 1) await pool.warmUp(sshpoolTarget(hosts[0]!), perHost);
    },
    async run(host, command) {
      return (await executors[host]!`${$.raw(command)}`).stdout;
    },
    close: () => pool?.closeAll() ?? Promise.resolve(),
  };
}

function ssh2Client(): Client {
  let clients: Ssh2Client[][] = [];
  let hostList: readonly BenchHost[] = [];
  return {
    async open(hosts, perHost) {
      hostList = hosts;
      clients = hosts.map(() => []);
      if (perHost > 1) clients[0] = await Promise.all(Array.from({ length: perHost }, () => connectSsh2(hosts[0]!, { noDelay: true })));
    },
    async run(host, command) {
      // Lazily, one connection per host: the first command connects.
      if (clients[host]!.length === 0) clients[host]!.push(await connectSsh2(hostList[host]!, { noDelay: true }));
      return execSsh2(clients[host]![0]!, command);
    },
    async close() {
      for (const client of clients.flat()) client.end();
    },
  };
}

/** node-ssh as its README shows it (contenders/node-ssh.ts): one NodeSSH per host, connected by its first command. */
function nodeSshClient(): Client {
  let contender: Awaited<ReturnType<typeof openNodeSsh>> | undefined;
  return {
    async open(hosts, perHost) {
      if (perHost === 1) {
        contender = await openNodeSsh(hosts);
        return;
      }
      // The idle measurement: one NodeSSH per connection, `perHost` of them to hosts[0].
      contender = await openNodeSsh(Array.from({ length: perHost }, () => hosts[0]!));
      await Promise.all(Array.from({ length: perHost }, (_, i) => contender!.run(i, 'true')));
    },
    run: (host, command) => contender!.run(host, command),
    close: () => contender?.close() ?? Promise.resolve(),
  };
}

const CLIENT_FACTORIES: Record<ScaleClient, () => Client> = { sshpool: sshpoolClient, ssh2: ssh2Client, 'node-ssh': nodeSshClient };

async function forEachHost(count: number, concurrency: number, work: (host: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await work(next++);
  }));
}

async function handle(request: ScaleRequest): Promise<ScaleResult> {
  const warm = CLIENT_FACTORIES[request.client]();
  await warm.open([request.warmUpHost], 1);
  await warm.run(0, 'true');
  await warm.close();
  const client = CLIENT_FACTORIES[request.client]();
  const baseline = memory();
  if (request.type === 'idle') {
    await client.open([request.host], request.connections);
    await idle();
    const loaded = memory();
    await client.close();
    return { baseline, loaded, connections: request.connections };
  }

  const hosts = request.hosts;
  await client.open(hosts, 1);
  let connectFailed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await forEachHost(hosts.length, request.concurrency, async (host) => {
    const output = await client.run(host, 'echo ready').catch(() => '');
    if (output.trim() !== 'ready') connectFailed++;
  });
  const connectMs = performance.now() - t0;
  const connectCpu = process.cpuUsage(cpu0);
  await idle();
  const loaded = memory();

  const latencies: number[] = [];
  let failed = 0;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const cpu1 = process.cpuUsage();
  loop.enable();
  const t1 = performance.now();
  let serial = 0;
  await forEachHost(hosts.length * request.rounds, request.concurrency, async (job) => {
    const token = `s${serial++}`;
    const begin = performance.now();
    const output = await client.run(job % hosts.length, `echo ${token}`).catch(() => '');
    if (output.trim() === token) latencies.push(performance.now() - begin);
    else failed++;
  });
  const elapsed = performance.now() - t1;
  loop.disable();
  const cpu = process.cpuUsage(cpu1);
  await client.close();
  const commands = hosts.length * request.rounds;
  const summary = summarize(latencies);
  return {
    baseline,
    loaded,
    connections: hosts.length,
    connectPhase: { ms: connectMs, cpuMicrosPerHost: (connectCpu.user + connectCpu.system) / hosts.length, failed: connectFailed },
    commandPhase: {
      commands,
      failed,
      perSecond: (commands - failed) / (elapsed / 1000),
      cpuMicrosPerCommand: (cpu.user + cpu.system) / commands,
      p50: summary.p50,
      p99: summary.p99,
      loopP99: loop.percentile(99) / 1e6,
    },
  };
}

process.on('disconnect', () => process.exit(0));
process.once('message', (request: ScaleRequest) => {
  handle(request).then(
    (result) => process.send!({ type: 'result', result }, () => process.exit(0)),
    (error: unknown) => process.send!({ type: 'error', message: error instanceof Error ? error.message : String(error) }, () => process.exit(1)),
  );
});
