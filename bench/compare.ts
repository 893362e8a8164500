// npm run bench — sshpool against what users would otherwise pick, workload by workload,
// every contender measured in the same run, each in a process of its own.
//
//   npm run bench                              everything (about half an hour on 2 cores)
//   npm run bench -- --only sequential,cpu     the host pool's latency and CPU targets only
//   npm run bench -- --only wan --contenders sshpool,ceiling
//   npm run bench -- --rounds 3                each workload 3 times, median rows (a busy machine)
//   npm run bench:smoke                        tiny sizes, no timing assertions (CI)
//
// Selections for --only: workload names (sequential, c10, c100, fleet, large-output,
// cold-burst, cold-burst-maxstartups-3, wan-<name>), groups (lan, wan), and cpu, instructions, memory, scale, tunnels, overhead.
// --contenders: sshpool, sshpool-no-spares, ssh2-per-command, ceiling, ceiling-cold (cold workloads only),
// xec, node-ssh, openssh-mux.
// --json FILE writes every measurement for later comparison.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchHost } from './compare/bench-host.js';
import { viaPort } from './compare/bench-host.js';
import type { ContenderId } from './compare/contender.js';
import { CONTENDER_IDS, CONTENDER_LABELS } from './compare/contender.js';
import { SSH_BINARY } from './compare/contenders/openssh-mux.js';
import { DelayProxy } from './compare/delay-proxy.js';
import { OpenSshFleet } from './compare/openssh-fleet.js';
import type { WorkloadRun } from './compare/protocol.js';
import type { Measured } from './compare/report.js';
import { cpuPerCommandOf, rateOf, ratioMatrix, workloadTable } from './compare/report.js';
import { runContender } from './compare/run-contender.js';
import type { Outcome } from './compare/run-contender.js';
import { ssh2BindingStatus } from './compare/ssh2-binding.js';
import { median } from './compare/stats.js';
import type { WorkloadDef } from './compare/workloads.js';
import { FULL_SIZES, SMOKE_SIZES, WAN_DELAY_MS, workloadsFor } from './compare/workloads.js';
import { runMemoryAndScale } from './compare/memory-and-scale.js';
import { runTunnels } from './compare/tunnels.js';
import { callgrindAvailable, instructionsSection } from './compare/count-instructions.js';
import type { InstructionCount } from './compare/count-instructions.js';
import { distIsStale, FROM_SOURCE, REPO_ROOT } from './compare/sshpool-module.js';

/** Set on SIGINT/SIGTERM: what fails while the servers go away is no news. */
let interrupting = false;
const EXTRA_SECTIONS = ['cpu', 'instructions', 'memory', 'scale', 'tunnels', 'overhead'] as const;

interface Options {
  readonly smoke: boolean;
  readonly only: ReadonlySet<string> | undefined;
  readonly contenders: readonly ContenderId[];
  readonly fleet: number | undefined;
  readonly cpuRounds: number;
  /** Times each workload runs (rotating the contenders' order); rows show the median round. */
  readonly rounds: number;
  readonly json: string | undefined;
  /** From the sizes, unless --contenders names the contenders explicitly. */
  readonly allContendersOn: readonly string[] | 'all';
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    return at === -1 ? undefined : argv[at + 1];
  };
  const list = (flag: string): string[] | undefined => value(flag)?.split(',').map((s) => s.trim()).filter(Boolean);
  const smoke = argv.includes('--smoke');
  const contenders = (list('--contenders') ?? [...CONTENDER_IDS]) as ContenderId[];
  for (const id of contenders) if (!CONTENDER_IDS.includes(id)) throw new Error(`unknown contender ${id}; known: ${CONTENDER_IDS.join(', ')}`);
  const only = list('--only');
  const known = new Set([...workloadsFor(FULL_SIZES).map((w) => w.name), 'lan', 'wan', ...EXTRA_SECTIONS]);
  for (const name of only ?? []) if (!known.has(name)) throw new Error(`unknown selection ${name}; known: ${[...known].join(', ')}`);
  for (const flag of ['--rounds', '--cpu-rounds', '--fleet']) {
    const given = value(flag);
    if (given !== undefined && !(Number.isInteger(Number(given)) && Number(given) >= 1)) throw new Error(`${flag} takes a positive integer`);
  }
  const fleet = value('--fleet');
  const rounds = value('--cpu-rounds');
  return {
    smoke,
    only: only ? new Set(only) : undefined,
    contenders,
    fleet: fleet === undefined ? undefined : Number(fleet),
    cpuRounds: rounds === undefined ? (smoke ? 1 : 7) : Number(rounds),
    rounds: Number(value('--rounds') ?? 1),
    json: value('--json'),
    allContendersOn: list('--contenders') || !smoke ? 'all' : SMOKE_SIZES.allContendersOn,
  };
}

const selected = (options: Options, name: string, wan = false): boolean =>
  !options.only || options.only.has(name) || options.only.has(wan ? 'wan' : 'lan');

const out = (text = ''): void => {
  process.stdout.write(`${text}\n`);
};

function machine(): string {
  const cpu = cpus();
  return (
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}; ` +
    `load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${ssh2BindingStatus()}`
  );
}

/** The round with the median throughput, or the first failed one if any round failed outright. */
function representative(outcomes: readonly Outcome[]): Outcome {
  const failed = outcomes.find((o) => o.kind !== 'ok');
  if (failed) return failed;
  const sorted = [...outcomes].sort((a, b) => rateOf(a) - rateOf(b));
  return sorted[(sorted.length - 1) >> 1]!;
}

class Bench {
  readonly #options: Options;
  readonly #fleet: OpenSshFleet;
  readonly #proxies = new Map<number, DelayProxy>();
  readonly results: Record<string, Array<{ contender: ContenderId; outcome: Outcome }>> = {};
  cpuSummary: unknown;

  constructor(options: Options, fleet: OpenSshFleet) {
    this.#options = options;
    this.#fleet = fleet;
  }

  get contenders(): ContenderId[] {
    return this.#options.contenders.filter((id) => id !== 'openssh-mux' || existsSync(SSH_BINARY));
  }

  #contendersFor(def: WorkloadDef): ContenderId[] {
    // The cold ceiling differs from the ceiling only where the clock starts cold.
    const contenders = this.contenders.filter((id) => id !== 'ceiling-cold' || def.warmUpPerHost === 0);
    const all = this.#options.allContendersOn;
    if (all === 'all' || all.includes(def.name.replace(/^wan-/, '')) && !def.wan) return contenders;
    return contenders.filter((id) => id === 'sshpool' || id === 'ceiling' || id === 'ceiling-cold');
  }

  /** The fleet indexes a workload runs on: its own server when it names an sshd config. */
  async #indexesFor(def: WorkloadDef): Promise<number[]> {
    if (def.sshdConfig) return [await this.#fleet.dedicated(def.sshdConfig)];
    return Array.from({ length: def.hosts }, (_, i) => i);
  }

  async #hostsFor(indexes: readonly number[], wan: boolean): Promise<BenchHost[]> {
    const hosts = indexes.map((i) => this.#fleet.hosts[i]!);
    if (!wan) return hosts;
    return Promise.all(
      hosts.map(async (host, n) => {
        const i = indexes[n]!;
        let proxy = this.#proxies.get(i);
        if (!proxy) {
          proxy = await DelayProxy.start(host, WAN_DELAY_MS);
          this.#proxies.set(i, proxy);
        }
        return viaPort(host, proxy.port);
      }),
    );
  }

  async measure(contender: ContenderId, def: WorkloadDef): Promise<Outcome> {
    const smoke = this.#options.smoke;
    const indexes = await this.#indexesFor(def);
    const workload: WorkloadRun = {
      hosts: await this.#hostsFor(indexes, def.wan),
      commandsPerHost: def.commandsPerHost,
      perHostConcurrency: def.perHostConcurrency,
      warmUpPerHost: def.warmUpPerHost,
      outputBytes: def.outputBytes,
      commandTimeoutMs: smoke ? 30_000 : 60_000,
      deadlineMs: smoke ? 45_000 : 60_000,
    };
    const counter = { settledCount: () => this.#fleet.settledCount(indexes) };
    return runContender(contender, workload, counter, workload.deadlineMs + workload.commandTimeoutMs + 60_000);
  }

  async workload(def: WorkloadDef): Promise<void> {
    out(`### ${def.title}`);
    out();
    const ids = this.#contendersFor(def);
    const rounds = new Map<ContenderId, Outcome[]>(ids.map((id) => [id, []]));
    for (let round = 0; round < this.#options.rounds; round++) {
      // Rotating order: a machine that gets busier during a round weighs on everyone in turn.
      for (const id of ids.map((_, i) => ids[(i + round) % ids.length]!)) {
        const started = performance.now();
        rounds.get(id)!.push(await this.measure(id, def));
        process.stderr.write(`  ${def.name}: ${CONTENDER_LABELS[id]} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
      }
    }
    // Each contender's row is its median round by throughput; a crash in any round shows.
    const rows: Measured[] = ids.map((id) => ({ id, outcome: representative(rounds.get(id)!) }));
    this.results[def.name] = ids.flatMap((id) => rounds.get(id)!.map((outcome) => ({ contender: id, outcome })));
    out(workloadTable(rows, def.outputBytes));
    if (this.#options.rounds > 1) {
      out();
      out(`Rows are each contender's median of ${this.#options.rounds} rounds by cmd/s; all rounds: ` +
        ids.map((id) => `${id} ${rounds.get(id)!.map((o) => (o.kind === 'ok' ? rateOf(o).toFixed(1) : 'failed')).join('/')}`).join('; '));
    }
    const matrix = ratioMatrix(rows);
    if (matrix) {
      out();
      out(matrix);
    }
    out();
  }

  /**
   * The host pool's own targets: on a reused connection, sshpool's sequential latency and
   * client CPU per command against the hand-tuned driver, as the median of paired rounds.
   */
  async cpu(): Promise<void> {
    const sizes = this.#options.smoke ? SMOKE_SIZES : FULL_SIZES;
    const rounds = this.#options.cpuRounds;
    const def: WorkloadDef = {
      name: 'cpu',
      title: '',
      hosts: 1,
      commandsPerHost: sizes.sequential,
      perHostConcurrency: 1,
      warmUpPerHost: 10,
      outputBytes: 0,
      wan: false,
    };
    out(`### sshpool against the ceiling on a reused connection: ${rounds} paired rounds of ${def.commandsPerHost} sequential commands`);
    out();
    const pair: ContenderId[] = ['sshpool', 'ceiling'];
    const perRound: Array<Record<string, { p50: number; mean: number; cpu: number }>> = [];
    const failures: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const entry: Record<string, { p50: number; mean: number; cpu: number }> = {};
      // Alternating order: whatever drifts on the machine weighs on both equally.
      for (const id of round % 2 === 0 ? pair : [...pair].reverse()) {
        const outcome = await this.measure(id, def);
        if (outcome.kind !== 'ok') {
          failures.push(`round ${round + 1} ${id}: ${outcome.reason}`);
          continue;
        }
        if (outcome.result.failed > 0) failures.push(`round ${round + 1} ${id}: ${outcome.result.failed} failed commands`);
        entry[id] = {
          p50: outcome.result.latencyMs.p50,
          mean: outcome.result.elapsedMs / outcome.result.commands,
          cpu: cpuPerCommandOf(outcome),
        };
      }
      if (entry['sshpool'] && entry['ceiling']) perRound.push(entry);
      process.stderr.write(`  cpu round ${round + 1}: ${JSON.stringify(entry)}\n`);
    }
    const col = (id: string, key: 'p50' | 'mean' | 'cpu'): number => median(perRound.map((r) => r[id]![key]));
    const paired = (key: 'p50' | 'mean' | 'cpu'): number => median(perRound.map((r) => r['sshpool']![key] / r['ceiling']![key]));
    out('| contender | latency p50 ms | mean ms/cmd | client CPU µs/cmd |');
    out('| --- | ---: | ---: | ---: |');
    for (const id of pair) out(`| ${CONTENDER_LABELS[id as ContenderId]} | ${col(id, 'p50').toFixed(2)} | ${col(id, 'mean').toFixed(2)} | ${col(id, 'cpu').toFixed(0)} |`);
    const latency = paired('p50');
    const cpu = paired('cpu');
    out();
    if (this.#options.smoke) out('(smoke sizes: the ratios below say nothing about the targets)');
    out(`sshpool ÷ ceiling (median of per-round ratios, ${perRound.length} rounds): ` +
      `sequential latency p50 ${latency.toFixed(3)}× (target ≤ 1.1: ${latency <= 1.1 ? 'met' : 'MISSED'}), ` +
      `mean ${paired('mean').toFixed(3)}×; client CPU per command ${cpu.toFixed(3)}× (target ≤ 1.2: ${cpu <= 1.2 ? 'met' : 'MISSED'})`);
    for (const failure of failures) out(`- ${failure}`);
    out();
    this.cpuSummary = { rounds: perRound, latencyRatio: latency, cpuRatio: cpu, failures };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#proxies.values()].map((proxy) => proxy.stop()));
  }
}

function runOverhead(smoke: boolean): Promise<number> {
  const script = fileURLToPath(new URL('./overhead.ts', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, script, ...(smoke ? ['--smoke'] : [])], { stdio: 'inherit' });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

/**
 * Client instructions per command (bench/compare/count-instructions.ts), sshpool and plain ssh2
 * against the same OpenSSH server, 1 and 10 in flight. Skipped with a note without valgrind.
 */
async function instructionCounts(smoke: boolean, host: BenchHost): Promise<InstructionCount[] | undefined> {
  out('### Client instructions per command (callgrind)');
  out();
  if (!callgrindAvailable()) {
    out('Skipped: valgrind is not installed (Debian: `apt-get install valgrind`).');
    out();
    return undefined;
  }
  // Smoke: the harness only (valgrind runs are slow), one in-flight level.
  // SSHPOOL_BENCH_INSTRUCTIONS=short,long,warm-up[,in-flight…] overrides the full sizes, and
  // SSHPOOL_BENCH_INSTRUCTION_ROUNDS the rounds (3). The long run is 1,000 commands longer than
  // the short one: with 400, the runs' own ~1 % difference in totals was ±7 % per command.
  const given = process.env['SSHPOOL_BENCH_INSTRUCTIONS']?.split(',').map(Number);
  const roundsGiven = Number(process.env['SSHPOOL_BENCH_INSTRUCTION_ROUNDS'] ?? 3);
  const rounds = smoke ? 1 : Number.isInteger(roundsGiven) && roundsGiven > 0 ? roundsGiven : 3;
  const sizes = smoke
    ? { short: 2, long: 4, warmUp: 2, inFlight: [1], rounds }
    : given && given.length >= 3 && given.every((n) => Number.isInteger(n) && n > 0)
      ? { short: given[0]!, long: given[1]!, warmUp: given[2]!, inFlight: given.length > 3 ? given.slice(3) : [1, 10], rounds }
      : { short: 200, long: 1200, warmUp: 200, inFlight: [1, 10], rounds };
  return instructionsSection(
    { contenders: ['sshpool', 'ceiling'], ...sizes, host },
    out,
    (line) => process.stderr.write(`${line}\n`),
  );
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const sizes = options.smoke ? SMOKE_SIZES : FULL_SIZES;
  // --only may name a workload that the smoke sizes leave out by default.
  const defs = (options.only ? workloadsFor({ ...sizes, lanWorkloads: FULL_SIZES.lanWorkloads, wanWorkloads: FULL_SIZES.wanWorkloads }) : workloadsFor(sizes))
    .filter((w) => selected(options, w.name, w.wan));
  const wantsCpu = options.only?.has('cpu') ?? true;
  const wantsInstructions = options.only?.has('instructions') ?? true;
  const fleetSize = Math.max(1, ...defs.map((w) => w.hosts), options.fleet ?? 0);
  out(`## sshpool comparison${options.smoke ? ' (smoke sizes: checks the harness, the numbers mean nothing)' : ''}`);
  out();
  out(`Machine: ${machine()}.`);
  out();
  if (distIsStale()) {
    // sshpool is measured as users run it, compiled; src/ changed since the last build.
    process.stderr.write('building dist/ (npm run build) …\n');
    const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed; SSHPOOL_BENCH_FROM_SOURCE=1 measures src/ through tsx instead');
  }
  out(`sshpool measured from ${FROM_SOURCE ? 'src/ through tsx (SSHPOOL_BENCH_FROM_SOURCE=1)' : 'its compiled dist/'}; no OpenTelemetry SDK registered in any contender's process.`);
  out();

  let status = 0;
  if (defs.length > 0 || wantsCpu || wantsInstructions) {
    process.stderr.write(`starting ${fleetSize} OpenSSH servers …\n`);
    const fleet = await OpenSshFleet.start(fleetSize);
    const bench = new Bench(options, fleet);
    // Interrupted (Ctrl-C, kill): the containers go too.
    const interrupted = (signal: NodeJS.Signals): void => {
      interrupting = true;
      process.stderr.write(`${signal}: removing the servers …\n`);
      void Promise.allSettled([bench.stop(), fleet.stop()]).then(() => process.exit(130));
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      out(`Contenders: ${bench.contenders.map((id) => CONTENDER_LABELS[id]).join('; ')}.` +
        (options.contenders.includes('openssh-mux') && !existsSync(SSH_BINARY) ? ` (OpenSSH multiplexing skipped: no ${SSH_BINARY}.)` : ''));
      out();
      for (const def of defs) await bench.workload(def);
      if (wantsCpu) await bench.cpu();
      const instructions = wantsInstructions ? await instructionCounts(options.smoke, fleet.hosts[0]!) : undefined;
      if (options.json) writeFileSync(options.json, JSON.stringify({ machine: machine(), sizes, results: bench.results, cpu: bench.cpuSummary, instructions }, null, 2));
      // sshpool must answer every command; the ceiling failing means the harness itself is broken.
      const broken = Object.entries(bench.results).flatMap(([name, rows]) =>
        rows
          .filter((r) => (r.contender === 'sshpool' || r.contender === 'ceiling') && (r.outcome.kind !== 'ok' || r.outcome.result.failed > 0))
          .map((r) => `${name}: ${CONTENDER_LABELS[r.contender]}`),
      );
      if (broken.length > 0) {
        process.stderr.write(`bench: failed commands or crashes in ${broken.join('; ')}\n`);
        status = 1;
      }
    } finally {
      await bench.stop();
      await fleet.stop();
    }
  }
  if (options.only?.has('memory') ?? true) await runMemoryAndScale({ smoke: options.smoke, parts: ['memory'], out });
  if (options.only?.has('scale') ?? true) await runMemoryAndScale({ smoke: options.smoke, parts: ['scale'], out });
  if (options.only?.has('tunnels') ?? true) await runTunnels({ smoke: options.smoke, out });
  if (options.only?.has('overhead') ?? true) {
    out('### Telemetry overhead (bench/overhead.ts)');
    out();
    if ((await runOverhead(options.smoke)) !== 0) status = 1;
  }
  return status;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (interrupting) return;
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
