// Client instructions per command, counted by `valgrind --tool=callgrind` (repeatable to a few
// per cent whatever else the machine does, unlike CPU time): each contender runs a short and a
// long sequence of commands after the same warm-up, and the difference per command is its
// warm cost, start-up and warm-up cancelled out.
//   npx tsx bench/compare/count-instructions.ts [--contenders sshpool,ceiling] [--short 200] [--long 600] [--warm-up 200]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    contenders: { type: 'string', default: 'sshpool,ceiling' },
    short: { type: 'string', default: '200' },
    long: { type: 'string', default: '600' },
    'warm-up': { type: 'string', default: '200' },
  },
});
const client = fileURLToPath(new URL('./instructions-client.ts', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'sshpool-callgrind-'));

function instructions(id: string, n: number): number {
  const run = spawnSync('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${join(scratch, `${id}-${n}.out`)}`,
    process.execPath, '--import', 'tsx', client, id, String(n), values['warm-up'],
  ], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const collected = /Collected\s*:\s*(\d+)/.exec(run.stderr ?? '');
  if (run.status !== 0 || !collected) throw new Error(`callgrind run of ${id} (${n}) failed (exit ${run.status}):\n${(run.stderr ?? '').slice(-2000)}`);
  return Number(collected[1]);
}

try {
  const short = Number(values.short);
  const long = Number(values.long);
  const perCommand = new Map<string, number>();
  for (const id of values.contenders.split(',')) {
    const a = instructions(id, short);
    const b = instructions(id, long);
    perCommand.set(id, (b - a) / (long - short));
    console.log(`${id.padEnd(12)} ${(a / 1e9).toFixed(3)} G (${short}) ${(b / 1e9).toFixed(3)} G (${long}) -> ${Math.round(perCommand.get(id)!).toLocaleString('en')} instructions per warm command`);
  }
  const base = perCommand.get('ceiling');
  if (base) for (const [id, count] of perCommand) if (id !== 'ceiling') console.log(`${id}: ${(count / base).toFixed(3)}x the ssh2 ceiling`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
