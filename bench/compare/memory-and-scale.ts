// Memory and scale: what one idle connection costs, and how cost grows from 1 to 50 to 500
// hosts, for sshpool (defaults) and plain ssh2 (one connection per host, no pool). The
// servers are the in-process SSH server (embedded-fleet-process.ts): 500 OpenSSH
// containers would not fit this machine.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchHost } from './bench-host.js';
import type { ScaleClient, ScaleRequest, ScaleResult } from './scale-process.js';

interface Options {
  readonly smoke: boolean;
  readonly parts: ReadonlyArray<'memory' | 'scale'>;
  readonly out: (text?: string) => void;
}

const CLIENTS: readonly ScaleClient[] = ['sshpool', 'ssh2', 'node-ssh'];
const CLIENT_LABELS: Record<ScaleClient, string> = { sshpool: 'sshpool (defaults)', ssh2: 'plain ssh2, one connection per host', 'node-ssh': 'node-ssh, one NodeSSH per host' };

async function startEmbeddedFleet(count: number): Promise<{ hosts: BenchHost[]; child: ChildProcess }> {
  const child = fork(fileURLToPath(new URL('./embedded-fleet-process.ts', import.meta.url)), [String(count)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const hosts = await new Promise<BenchHost[]>((resolve, reject) => {
    child.once('message', (message: { hosts: BenchHost[] }) => resolve(message.hosts));
    child.once('exit', (code) => reject(new Error(`the embedded SSH servers exited with code ${code}`)));
  });
  return { hosts, child };
}

function measure(request: ScaleRequest): Promise<ScaleResult> {
  const child = fork(fileURLToPath(new URL('./scale-process.ts', import.meta.url)), [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, '--expose-gc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { type: 'result'; result: ScaleResult } | { type: 'error'; message: string }) => {
      if (message.type === 'result') resolve(message.result);
      else reject(new Error(message.message));
    });
    child.once('exit', (code) => reject(new Error(`scale measurement exited with code ${code} without a result`)));
    child.send(request);
  });
}

const kib = (bytes: number): string => (bytes / 1024).toFixed(1);
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

export async function runMemoryAndScale(options: Options): Promise<void> {
  const { out } = options;
  // SSHPOOL_BENCH_SCALE_HOSTS=1,50,500 picks other host counts (the full run goes to 2,000).
  const given = process.env['SSHPOOL_BENCH_SCALE_HOSTS']?.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const hostCounts = options.smoke ? [1, 4] : given && given.length > 0 ? given : [1, 50, 500, 1000, 2000];
  const idleConnections = options.smoke ? 5 : 100;
  const fleet = await startEmbeddedFleet((options.parts.includes('scale') ? Math.max(...hostCounts) : 1) + 1);
  const warmUpHost = fleet.hosts.at(-1)!;
  try {
    if (options.parts.includes('memory')) {
      out(`### Memory per idle connection (${idleConnections} connections to one host, after a full GC)`);
      out();
      out('| client | heap + external per connection KiB | RSS per connection KiB |');
      out('| --- | ---: | ---: |');
      for (const client of CLIENTS) {
        try {
          const r = await measure({ type: 'idle', client, host: fleet.hosts[0]!, connections: idleConnections, warmUpHost });
          out(`| ${CLIENT_LABELS[client]} | ${kib((r.loaded.heap - r.baseline.heap) / r.connections)} | ${kib((r.loaded.rss - r.baseline.rss) / r.connections)} |`);
        } catch (error) {
          out(`| ${CLIENT_LABELS[client]} | failed: ${error instanceof Error ? error.message : String(error)} | |`);
        }
      }
      out();
    }
    if (options.parts.includes('scale')) {
      const rounds = options.smoke ? 1 : 4;
      const concurrency = 50;
      out(`### Growth with the number of hosts (one connection per host, then ${rounds} commands per host, ${concurrency} in flight; in-process SSH servers)`);
      out();
      out('| hosts | client | connect phase s | CPU ms per new host | heap MiB held | heap KiB per host | RSS KiB per host | cmd/s | CPU µs/cmd | p50 ms | p99 ms | loop p99 ms | failed |');
      out('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      const perHost: Record<ScaleClient, Array<{ hosts: number; heap: number }>> = { sshpool: [], ssh2: [], 'node-ssh': [] };
      for (const count of hostCounts) {
        for (const client of CLIENTS) {
          try {
            const r = await measure({ type: 'hosts', client, hosts: fleet.hosts.slice(0, count), rounds, concurrency, warmUpHost });
            const heap = r.loaded.heap - r.baseline.heap;
            perHost[client].push({ hosts: count, heap });
            const c = r.connectPhase!;
            const p = r.commandPhase!;
            out(
              `| ${count} | ${CLIENT_LABELS[client]} | ${(c.ms / 1000).toFixed(2)} | ${(c.cpuMicrosPerHost / 1000).toFixed(1)} | ${mib(heap)} | ` +
                `${kib(heap / count)} | ${kib((r.loaded.rss - r.baseline.rss) / count)} | ${p.perSecond.toFixed(0)} | ${p.cpuMicrosPerCommand.toFixed(0)} | ` +
                `${p.p50.toFixed(1)} | ${p.p99.toFixed(1)} | ${p.loopP99.toFixed(1)} | ${c.failed + p.failed} |`,
            );
          } catch (error) {
            out(`| ${count} | ${CLIENT_LABELS[client]} | failed: ${error instanceof Error ? error.message : String(error)} |`);
          }
        }
      }
      out();
      for (const client of CLIENTS) {
        const points = perHost[client];
        const growth = points.slice(1).map((p, i) => `${points[i]!.hosts}→${p.hosts}: ${kib((p.heap - points[i]!.heap) / (p.hosts - points[i]!.hosts))} KiB/host`);
        if (growth.length > 0) out(`- ${CLIENT_LABELS[client]}: heap growth per added host (one connection each) ${growth.join(', ')}`);
      }
      const ratios = perHost.sshpool.flatMap((p) => {
        const base = perHost.ssh2.find((q) => q.hosts === p.hosts);
        return base && base.heap > 0 ? [`${p.hosts}: ${(p.heap / base.heap).toFixed(2)}×`] : [];
      });
      if (ratios.length > 0) out(`- sshpool's heap + external per host ÷ plain ssh2's: ${ratios.join(', ')}`);
      out();
    }
  } finally {
    fleet.child.disconnect();
  }
}
