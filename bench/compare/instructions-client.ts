// One client process for the instruction count (count-instructions.ts runs it under callgrind,
// or under V8's sampling profiler to attribute the cost): `n` commands through one contender,
// `inFlight` at a time, after a warm-up, then exit. Only this process is counted. The server is
// the OpenSSH server given in SSHPOOL_BENCH_HOST (a BenchHost as JSON), else an in-process
// server in another process.
//   node --import tsx bench/compare/instructions-client.ts <contender> <n> <warm-up> [in-flight]
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchHost } from './bench-host.js';
import { loadContender } from './contender.js';
import type { ContenderId } from './contender.js';

const id = (process.argv[2] ?? 'sshpool') as ContenderId;
const n = Number(process.argv[3] ?? 200);
const warmUp = Number(process.argv[4] ?? 200);
const inFlight = Number(process.argv[5] ?? 1);
const given = process.env['SSHPOOL_BENCH_HOST'];
let server: ChildProcess | undefined;
let hosts: BenchHost[];
if (given) {
  hosts = [JSON.parse(given) as BenchHost];
} else {
  server = fork(fileURLToPath(new URL('./embedded-fleet-process.ts', import.meta.url)), ['1'], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: process.execArgv.filter((arg) => !arg.startsWith('--cpu-prof')),
  });
  hosts = await new Promise<BenchHost[]>((resolve) => server!.once('message', (m: { hosts: BenchHost[] }) => resolve(m.hosts)));
}
const contender = await (await loadContender(id))(hosts, { perHostConcurrency: inFlight });

/** `count` commands, `inFlight` at a time (each worker sends its next when its last answered). */
async function run(count: number, command: (i: number) => string): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, async () => {
    while (next < count) {
      const i = next++;
      await contender.run(0, command(i));
    }
  }));
}

await run(warmUp, () => 'true');
await run(n, (i) => `echo ${i}`);
await contender.close();
server?.disconnect();
