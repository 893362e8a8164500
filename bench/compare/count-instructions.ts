// Client instructions per command, counted by `valgrind --tool=callgrind` (unlike CPU time, the
// same whatever else the machine does): each contender runs a short and a long sequence of
// commands after the same warm-up, and the difference per command is its warm cost, start-up
// and warm-up cancelled out. The client runs with V8's `--single-threaded`: otherwise V8's
// background compiler and collector threads, whose share depends on timing, are counted too,
// and identical runs differed by up to 2× per command. Rounds alternate the contenders, and the
// median of the rounds is reported with their spread. Where sshpool's own share goes is read from
// a V8 CPU profile of the same client (callgrind sees JIT-compiled JavaScript as anonymous code):
// its functions ranked by inclusive share of the client's samples.
//   npm run bench -- --only instructions                (against the bench's OpenSSH server)
//   npx tsx bench/compare/count-instructions.ts [--contenders sshpool,ceiling] [--short 200] [--long 1200] [--warm-up 200] [--in-flight 1,10] [--rounds 3]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchHost } from './bench-host.js';
import { FROM_SOURCE, REPO_ROOT } from './sshpool-module.js';
import { median } from './stats.js';

export interface InstructionCountOptions {
  /** Contender ids; `ceiling` (plain ssh2, hand-tuned) is the base of the ratios. */
  readonly contenders: readonly string[];
  readonly short: number;
  readonly long: number;
  readonly warmUp: number;
  readonly inFlight: readonly number[];
  /** Short and long runs per contender and in-flight level; the median per command is reported. @default 3 */
  readonly rounds?: number;
  /** The OpenSSH server every contender talks to; none: an in-process server. */
  readonly host?: BenchHost | undefined;
  /** sshpool functions to list by inclusive cost. @default 10 */
  readonly topFunctions?: number;
}

export interface InstructionCount {
  readonly contender: string;
  readonly inFlight: number;
  /** Instructions per warm command in each round, in round order. */
  readonly rounds: readonly number[];
  /** The median of `rounds`. */
  readonly perCommand: number;
}

/**
 * V8 flags of every counted client: no background threads, so that the count does not depend on
 * how much of V8's concurrent compilation and marking happened to run before exit.
 */
export const COUNTED_CLIENT_V8_FLAGS: readonly string[] = ['--single-threaded'];

/** Rounds when `InstructionCountOptions.rounds` is not given. */
const DEFAULT_ROUNDS = 3;

const CLIENT = fileURLToPath(new URL('./instructions-client.ts', import.meta.url));

/** True when valgrind can be run here. */
export function callgrindAvailable(): boolean {
  return spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).status === 0;
}

function runChild(command: string, args: readonly string[], host: BenchHost | undefined): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...(host ? { SSHPOOL_BENCH_HOST: JSON.stringify(host) } : {}) },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      // Only the end matters (callgrind's summary, or why it failed).
      stderr = (stderr + chunk).slice(-64 * 1024);
    });
    child.once('error', reject);
    child.once('exit', (status) => resolve({ status, stderr }));
  });
}

async function instructions(scratch: string, id: string, n: number, options: InstructionCountOptions, inFlight: number): Promise<number> {
  const run = await runChild('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${join(scratch, `${id}-${inFlight}-${n}.out`)}`,
    process.execPath, ...COUNTED_CLIENT_V8_FLAGS, '--import', 'tsx', CLIENT, id, String(n), String(options.warmUp), String(inFlight),
  ], options.host);
  const collected = /Collected\s*:\s*(\d+)/.exec(run.stderr);
  if (run.status !== 0 || !collected) throw new Error(`callgrind run of ${id} (${n}, ${inFlight} in flight) failed (exit ${run.status}):\n${run.stderr.slice(-2000)}`);
  return Number(collected[1]);
}

/** Counts every contender at every in-flight level; `progress` hears each run as it ends. */
export async function countInstructions(options: InstructionCountOptions, progress: (line: string) => void = () => {}): Promise<InstructionCount[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'sshpool-callgrind-'));
  try {
    const counts: InstructionCount[] = [];
    // One uncounted run per contender first: tsx transpiles on first use and caches the result,
    // which would weigh on whichever counted run came first.
    for (const contender of options.contenders) {
      const primed = await runChild(process.execPath, ['--import', 'tsx', CLIENT, contender, '1', '1', '1'], options.host);
      if (primed.status !== 0) throw new Error(`${contender} did not run (exit ${primed.status}):\n${primed.stderr.slice(-2000)}`);
    }
    const rounds = options.rounds ?? DEFAULT_ROUNDS;
    for (const inFlight of options.inFlight) {
      const perRound = new Map<string, number[]>(options.contenders.map((id) => [id, []]));
      for (let round = 1; round <= rounds; round++) {
        // Alternate the order, so that a slow drift of the machine does not favour one contender.
        const order = round % 2 === 1 ? options.contenders : [...options.contenders].reverse();
        for (const contender of order) {
          const shortRun = await instructions(scratch, contender, options.short, options, inFlight);
          const longRun = await instructions(scratch, contender, options.long, options, inFlight);
          const perCommand = (longRun - shortRun) / (options.long - options.short);
          perRound.get(contender)!.push(perCommand);
          progress(`  round ${round}/${rounds}, ${contender}, ${inFlight} in flight: ${(shortRun / 1e9).toFixed(3)} G (${options.short}) ${(longRun / 1e9).toFixed(3)} G (${options.long}) → ${Math.round(perCommand).toLocaleString('en')} per command`);
        }
      }
      for (const contender of options.contenders) {
        const values = perRound.get(contender)!;
        counts.push({ contender, inFlight, rounds: values, perCommand: median(values) });
      }
    }
    return counts;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface FunctionCost {
  /** `name (file:line)`, the file relative to the repository. */
  readonly name: string;
  /** Samples in this function and everything it called, as a share of all the client's samples. */
  readonly inclusiveShare: number;
}

/**
 * sshpool's own functions ranked by inclusive share of a V8 CPU profile's busy samples (idle
 * ones, the client waiting for the server, left out). A function that calls itself (directly or
 * not) counts each sample once.
 */
export function topOwnFunctions(profile: { readonly nodes: readonly ProfileNode[] }, ownRoot: string, count: number): FunctionCost[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const childIds = new Set(profile.nodes.flatMap((node) => node.children ?? []));
  const ownUrl = pathToFileURL(ownRoot).href;
  const keyOf = (node: ProfileNode): string | undefined => {
    const { url, functionName, lineNumber } = node.callFrame;
    if (!url.startsWith(ownUrl)) return undefined;
    return `${functionName || '(anonymous)'} (${relative(REPO_ROOT, fileURLToPath(url))}:${lineNumber + 1})`;
  };
  const inclusive = new Map<string, number>();
  let total = 0;
  // Iterative depth-first walk, keeping how many times each key is on the current path.
  const onPath = new Map<string, number>();
  const walk = (rootId: number): void => {
    const stack: Array<{ node: ProfileNode; key: string | undefined; entered: boolean }> = [{ node: byId.get(rootId)!, key: undefined, entered: false }];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      if (frame.entered) {
        stack.pop();
        if (frame.key) onPath.set(frame.key, onPath.get(frame.key)! - 1);
        continue;
      }
      frame.entered = true;
      frame.key = keyOf(frame.node);
      if (frame.key) onPath.set(frame.key, (onPath.get(frame.key) ?? 0) + 1);
      // Time the client spent waiting for the server is no cost of anyone's.
      const hits = frame.node.callFrame.functionName === '(idle)' ? 0 : frame.node.hitCount ?? 0;
      total += hits;
      if (hits > 0) for (const [key, depth] of onPath) if (depth > 0) inclusive.set(key, (inclusive.get(key) ?? 0) + hits);
      for (const child of frame.node.children ?? []) stack.push({ node: byId.get(child)!, key: undefined, entered: false });
    }
  };
  for (const node of profile.nodes) if (!childIds.has(node.id)) walk(node.id);
  return [...inclusive.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, hits]) => ({ name, inclusiveShare: total > 0 ? hits / total : 0 }));
}

/** Profiles sshpool's client (not under valgrind) and ranks its own functions by inclusive cost. */
export async function profileOwnFunctions(options: InstructionCountOptions, inFlight: number): Promise<FunctionCost[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'sshpool-cpu-prof-'));
  try {
    const run = await runChild(process.execPath, [
      '--cpu-prof', `--cpu-prof-dir=${scratch}`, '--import', 'tsx', CLIENT, 'sshpool', String(options.long), String(options.warmUp), String(inFlight),
    ], options.host);
    const file = readdirSync(scratch).find((name) => name.endsWith('.cpuprofile'));
    if (run.status !== 0 || !file) throw new Error(`profiling sshpool failed (exit ${run.status}):\n${run.stderr.slice(-2000)}`);
    const profile = JSON.parse(readFileSync(join(scratch, file), 'utf8')) as { nodes: ProfileNode[] };
    return topOwnFunctions(profile, join(REPO_ROOT, FROM_SOURCE ? 'src' : 'dist'), options.topFunctions ?? 10);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The section as the benchmark prints it: per-command counts, ratios, and where sshpool's go. */
export async function instructionsSection(options: InstructionCountOptions, out: (line?: string) => void, progress: (line: string) => void): Promise<InstructionCount[]> {
  const counts = await countInstructions(options, progress);
  const server = options.host ? 'one OpenSSH server (the bench\'s container)' : 'an in-process server';
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  out(`Client instructions per warm command under callgrind (V8 ${COUNTED_CLIENT_V8_FLAGS.join(' ')}): ${options.warmUp} warm-up commands, then ${options.short} and ${options.long} \`echo\` commands against ${server}; the difference of the two runs per command (start-up and warm-up cancel out). Median of ${rounds} round${rounds === 1 ? '' : 's'}, the range in brackets; the ratio is of the medians, with the range of the rounds' own ratios.`);
  out();
  const others = options.contenders.filter((id) => id !== 'ceiling');
  out(`| in flight | ${options.contenders.join(' | ')} | ${others.map((id) => `${id} ÷ ceiling`).join(' | ')} |`);
  out(`|${'---|'.repeat(1 + options.contenders.length + others.length)}`);
  const k = (n: number): string => `${Math.round(n / 1000).toLocaleString('en')} k`;
  for (const inFlight of options.inFlight) {
    const row = new Map(counts.filter((count) => count.inFlight === inFlight).map((count) => [count.contender, count]));
    const base = row.get('ceiling');
    const cells = options.contenders.map((id) => {
      const count = row.get(id)!;
      return count.rounds.length > 1 ? `${k(count.perCommand)} (${k(Math.min(...count.rounds))}–${k(Math.max(...count.rounds))})` : k(count.perCommand);
    });
    const ratios = others.map((id) => {
      const count = row.get(id)!;
      if (!base || base.perCommand <= 0) return 'n/a';
      const paired = count.rounds.map((value, i) => value / base.rounds[i]!);
      const spread = paired.length > 1 ? ` (${Math.min(...paired).toFixed(2)}–${Math.max(...paired).toFixed(2)})` : '';
      return `${(count.perCommand / base.perCommand).toFixed(3)}×${spread}`;
    });
    out(`| ${inFlight} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  out();
  if (options.contenders.includes('sshpool')) {
    const top = await profileOwnFunctions(options, options.inFlight[0] ?? 1);
    out(`sshpool's own functions by inclusive share of the client's busy CPU samples (V8 profile of ${options.long} commands, ${options.inFlight[0] ?? 1} in flight; callgrind cannot name JIT-compiled functions):`);
    out();
    out('| function | inclusive share |');
    out('|---|---|');
    for (const entry of top) out(`| \`${entry.name}\` | ${(entry.inclusiveShare * 100).toFixed(1)} % |`);
    out();
  }
  return counts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      contenders: { type: 'string', default: 'sshpool,ceiling' },
      short: { type: 'string', default: '200' },
      long: { type: 'string', default: '1200' },
      'warm-up': { type: 'string', default: '200' },
      'in-flight': { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
    },
  });
  await instructionsSection({
    contenders: values.contenders.split(','),
    short: Number(values.short),
    long: Number(values.long),
    warmUp: Number(values['warm-up']),
    inFlight: values['in-flight'].split(',').map(Number),
    rounds: Number(values.rounds),
  }, (line = '') => console.log(line), (line) => console.error(line));
}
