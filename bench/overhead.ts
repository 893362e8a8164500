// npm run bench — what OpenTelemetry costs sshpool, in commands per second.
//
// The same workload (sequential `true` commands, then the same number again with several in
// flight) runs through a fresh pool in three set-ups, in interleaved rounds:
//   (a) no SDK: sshpool talks to the OpenTelemetry API's no-op providers;
//   (b) SDK, no-op exporters: sdk-node with a BatchSpanProcessor and a 1 s metric reader
//       whose exporters discard everything (the cost of making spans and aggregating metrics);
//   (c) full pipeline: setupTelemetry() from sshpool/otel with OTLP/HTTP (protobuf) traces
//       and metrics (1 s interval) sent to a local sink, plus the Prometheus endpoint scraped
//       every second;
//   (d) as (c), with the pool's `telemetry: { acquireSpans: 'non-reused' }`: no
//       ssh.pool.acquire span for the (usual) acquires that reuse a connection.
// Machines are noisy: each set-up's result is the median of its rounds, and the ratios to
// (a) are also given as the median of per-round ratios (each round runs a, b and c back to
// back, in rotating order).
//
// The SSH server, the OTLP sink and the scraper run in a child process (bench/remote.ts),
// so the measured process is the client alone. SSHPOOL_BENCH_SSHD=1 uses OpenSSH in a
// Docker container instead of the in-process server.
//
// Options: --smoke (tiny, for CI), --rounds N, --commands N (per phase), --concurrency N.
// Environment: SSHPOOL_BENCH_MAX_OVERHEAD (fail above this % for (c); default: report only).
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { $, SSHConnectionPool } from '../src/index.js';
import type { SSHTarget } from '../src/index.js';
import { setupTelemetry } from '../src/otel/index.js';
import type { RemoteCpu, RemoteReady, RemoteReport, ToRemote } from './remote.js';
import { freePort } from '../test/support/free-port.js';

type Variant = 'a' | 'b' | 'c' | 'd';
const VARIANTS: readonly Variant[] = ['a', 'b', 'c', 'd'];
const LABELS: Record<Variant, string> = {
  a: '(a) no SDK',
  b: '(b) SDK, no-op exporters',
  c: '(c) full pipeline (OTLP + Prometheus)',
  d: "(d) = (c), acquireSpans 'non-reused'",
};

interface Options {
  rounds: number;
  commands: number;
  concurrency: number;
  warmUp: number;
}

function parseOptions(argv: readonly string[]): Options {
  const smoke = argv.includes('--smoke');
  const options: Options = smoke
    ? { rounds: 2, commands: 40, concurrency: 4, warmUp: 10 }
    : { rounds: 11, commands: 300, concurrency: 4, warmUp: 40 };
  for (const [flag, key] of [['--rounds', 'rounds'], ['--commands', 'commands'], ['--concurrency', 'concurrency']] as const) {
    const at = argv.indexOf(flag);
    if (at === -1) continue;
    const value = Number(argv[at + 1]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} takes a positive integer`);
    options[key] = value;
  }
  return options;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};


/** The child process with the server side of everything. */
class Remote {
  readonly #child: ChildProcess;
  readonly #pending: Array<(message: RemoteReady | RemoteReport | RemoteCpu) => void> = [];

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (message: RemoteReady | RemoteReport | RemoteCpu) => this.#pending.shift()?.(message));
  }

  static async start(withSsh: boolean): Promise<{ remote: Remote; ready: RemoteReady }> {
    const script = fileURLToPath(new URL('./remote.ts', import.meta.url));
    // fork() keeps this process's execArgv: the tsx loader comes along.
    const child = fork(script, withSsh ? ['--ssh'] : [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const remote = new Remote(child);
    const ready = await new Promise<RemoteReady>((resolve, reject) => {
      remote.#pending.push((message) => resolve(message as RemoteReady));
      child.once('exit', (code) => reject(new Error(`bench/remote.ts exited with code ${code} before it was ready`)));
    });
    return { remote, ready };
  }

  send(message: ToRemote): void {
    this.#child.send(message);
  }

  /** CPU µs the remote side (server and the commands it ran) has used so far. */
  cpu(): Promise<number> {
    return new Promise((resolve) => {
      this.#pending.push((message) => resolve((message as RemoteCpu).micros));
      this.send({ type: 'cpu' });
    });
  }

  report(): Promise<RemoteReport> {
    return new Promise((resolve) => {
      this.#pending.push((message) => resolve(message as RemoteReport));
      this.send({ type: 'report' });
    });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.send({ type: 'exit' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

const noopSpanExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};
const noopMetricExporter: PushMetricExporter = {
  export: (_metrics, done) => done({ code: 0 }),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/** Sets a variant up; returns how to tear it down. */
async function setUp(variant: Variant, remote: Remote, otlpUrl: string): Promise<() => Promise<void>> {
  if (variant === 'a') return () => Promise.resolve();
  // (c) and (d) differ in the pool's settings only.
  if (variant === 'b') {
    const sdk = new NodeSDK({
      serviceName: 'sshpool-bench',
      spanProcessors: [new BatchSpanProcessor({ exporter: noopSpanExporter })],
      metricReaders: [new PeriodicExportingMetricReader({ exporter: noopMetricExporter, exportIntervalMillis: 1_000 })],
      logRecordProcessors: [],
    });
    sdk.start();
    return async () => {
      await sdk.shutdown();
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
    };
  }
  const telemetry = await setupTelemetry({
    serviceName: 'sshpool-bench',
    otlpEndpoint: otlpUrl,
    prometheus: { port: await freePort() },
    metricExportIntervalMs: 1_000,
  });
  remote.send({ type: 'scrape', url: telemetry.prometheusUrl! });
  return async () => {
    remote.send({ type: 'stop-scrape' });
    await telemetry.shutdown();
  };
}

interface RoundResult {
  /** Commands per second. */
  readonly rate: number;
  /** This process's CPU time (user + system) per command, in µs. */
  readonly cpuPerCommand: number;
  /** The remote side's CPU per command in µs (in-process server only; NaN with OpenSSH). */
  readonly remoteCpuPerCommand: number;
}

/** One timed run of the workload on a fresh pool. */
async function runRound(target: SSHTarget, options: Options, variant: Variant, remote: Remote | undefined): Promise<RoundResult> {
  // A new pool per round: tracers and instruments bind to the providers registered now.
  const pool = new SSHConnectionPool({
    maxConnections: 2,
    maxChannelsPerConnection: 4,
    ...(variant === 'd' ? { telemetry: { acquireSpans: 'non-reused' as const } } : {}),
  });
  const ssh = $.ssh({ ...target, pool });
  try {
    // Open the connections first: connect time is not what is measured.
    await Promise.all(Array.from({ length: options.warmUp }, () => ssh`true`));
    const remoteBefore = remote ? await remote.cpu() : Number.NaN;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < options.commands; i++) await ssh`true`;
    let next = 0;
    await Promise.all(Array.from({ length: options.concurrency }, async () => {
      while (next++ < options.commands) await ssh`true`;
    }));
    const cpu = process.cpuUsage(cpuBefore);
    const elapsed = performance.now() - started;
    const remoteAfter = remote ? await remote.cpu() : Number.NaN;
    const total = 2 * options.commands;
    return {
      rate: total / (elapsed / 1000),
      cpuPerCommand: (cpu.user + cpu.system) / total,
      remoteCpuPerCommand: (remoteAfter - remoteBefore) / total,
    };
  } finally {
    await pool.closeAll();
  }
}

async function openSshTarget(): Promise<{ target: SSHTarget; stop: () => Promise<void> }> {
  if (!process.env['DOCKER_HOST'] && existsSync('/var/run/docker.sock')) process.env['DOCKER_HOST'] = 'unix:///var/run/docker.sock';
  const root = fileURLToPath(new URL('..', import.meta.url));
  const build = spawnSync('bash', ['scripts/build-sshd-image.sh'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('building the sshd image failed (scripts/build-sshd-image.sh)');
  const { startSshd } = await import('../test/support/sshd.js');
  const server = await startSshd();
  return {
    target: {
      host: server.host,
      port: server.port,
      username: server.username,
      privateKey: server.privateKey,
      hostKey: { fingerprints: [server.hostKeyFingerprint] },
    },
    stop: () => server.remove(),
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const useSshd = process.env['SSHPOOL_BENCH_SSHD'] === '1';
  const { remote, ready } = await Remote.start(!useSshd);
  let stopSshd: (() => Promise<void>) | undefined;
  try {
    let target: SSHTarget;
    if (useSshd) {
      const sshd = await openSshTarget();
      target = sshd.target;
      stopSshd = sshd.stop;
    } else {
      const ssh = ready.ssh!;
      target = { host: ssh.host, port: ssh.port, username: ssh.username, password: ssh.password, hostKey: { fingerprints: [ssh.fingerprint] } };
    }

    const server = useSshd ? 'OpenSSH in a container' : 'in-process SSH server (ssh2) in a child process';
    process.stdout.write(
      `sshpool overhead benchmark: ${options.rounds} rounds × ${VARIANTS.length} set-ups; per round ${options.commands} sequential + ` +
        `${options.commands} with ${options.concurrency} in flight, \`true\` on ${server}; Node ${process.version}\n\n`,
    );

    // One untimed pass through every set-up first: JIT compilation and the first SDK start-ups
    // would otherwise weigh on whichever set-up happens to run first.
    for (const variant of VARIANTS) {
      const tearDown = await setUp(variant, remote, ready.otlpUrl);
      try {
        await runRound(target, { ...options, commands: Math.ceil(options.commands / 2) }, variant, undefined);
      } finally {
        await tearDown();
      }
    }

    const results: Record<Variant, number[]> = { a: [], b: [], c: [], d: [] };
    const cpu: Record<Variant, number[]> = { a: [], b: [], c: [], d: [] };
    const remoteCpu: Record<Variant, number[]> = { a: [], b: [], c: [], d: [] };
    for (let round = 0; round < options.rounds; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
      const line: string[] = [];
      for (const variant of order) {
        const tearDown = await setUp(variant, remote, ready.otlpUrl);
        try {
          const result = await runRound(target, options, variant, useSshd ? undefined : remote);
          results[variant].push(result.rate);
          cpu[variant].push(result.cpuPerCommand);
          remoteCpu[variant].push(result.remoteCpuPerCommand);
          line.push(`${variant} ${result.rate.toFixed(0)}/s ${result.cpuPerCommand.toFixed(0)} µs`);
        } finally {
          await tearDown();
        }
      }
      process.stdout.write(`round ${round + 1}: ${line.join('  ')}\n`);
    }

    const baseCpu = median(cpu.a);
    const pairedRatio = (values: Record<Variant, number[]>, variant: Variant): number =>
      median(values[variant].map((value, i) => value / values.a[i]!));
    process.stdout.write(
      `\n${'set-up'.padEnd(40)}${'cmd/s'.padStart(8)}${'vs (a)'.padStart(8)}` +
        `${'client CPU µs/cmd'.padStart(19)}${'vs (a)'.padStart(8)}\n`,
    );
    for (const variant of VARIANTS) {
      process.stdout.write(
        `${LABELS[variant].padEnd(40)}${median(results[variant]).toFixed(1).padStart(8)}${pairedRatio(results, variant).toFixed(3).padStart(8)}` +
          `${median(cpu[variant]).toFixed(0).padStart(19)}${pairedRatio(cpu, variant).toFixed(3).padStart(8)}\n`,
      );
    }
    const overhead = (1 - pairedRatio(results, 'c')) * 100;
    const extraCpu = median(cpu.c.map((value, i) => value - cpu.a[i]!));
    process.stdout.write(
      `\nmedians of ${options.rounds} rounds; "vs (a)" is the median of per-round ratios to (a), measured in the same round.\n` +
        `full pipeline: throughput cost ${overhead.toFixed(1)} % (target < 5 %; negative means it measured faster, i.e. within noise); ` +
        `${((pairedRatio(cpu, 'c') - 1) * 100).toFixed(1)} % more client CPU per command (+${extraCpu.toFixed(0)} µs)\n`,
    );
    if (!useSshd) {
      // Throughput on a busy machine swings with everything else running on it; CPU time per
      // command does much less. When client and server share the CPUs, the extra client CPU
      // is what the pipeline takes from throughput.
      const bound = median(cpu.a.map((value, i) => (cpu.c[i]! - value) / (value + remoteCpu.a[i]!)));
      process.stdout.write(
        `remote side (server + commands): ${median(remoteCpu.a).toFixed(0)} µs CPU per command; ` +
          `CPU-bound estimate of the full pipeline's throughput cost: ${(bound * 100).toFixed(1)} %\n`,
      );
    }

    const report = await remote.report();
    const traces = report.otlpRequests['/v1/traces'] ?? 0;
    const metricPushes = report.otlpRequests['/v1/metrics'] ?? 0;
    process.stdout.write(
      `(c) and (d) delivered: ${traces} OTLP trace requests (${((report.otlpBytes['/v1/traces'] ?? 0) / 1024).toFixed(0)} KiB), ` +
        `${metricPushes} metric requests, ${report.scrapes} Prometheus scrapes (${report.scrapeErrors} failed)\n`,
    );
    if (traces === 0 || metricPushes === 0) {
      process.stderr.write('bench failed: the full pipeline exported nothing\n');
      return 1;
    }
    const limit = Number(process.env['SSHPOOL_BENCH_MAX_OVERHEAD'] ?? '');
    if (Number.isFinite(limit) && limit > 0 && overhead > limit) {
      process.stderr.write(`bench failed: overhead ${overhead.toFixed(1)} % is above SSHPOOL_BENCH_MAX_OVERHEAD=${limit}\n`);
      return 1;
    }
    return 0;
  } finally {
    await stopSshd?.();
    await remote.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
