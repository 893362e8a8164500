// One client process for the instruction count (count-instructions.ts runs it under callgrind):
// `n` sequential commands through one contender against an in-process server in another
// process, after a warm-up, then exit. Only this process is counted.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchHost } from './bench-host.js';
import { loadContender } from './contender.js';
import type { ContenderId } from './contender.js';

const id = (process.argv[2] ?? 'sshpool') as ContenderId;
const n = Number(process.argv[3] ?? 200);
const warmUp = Number(process.argv[4] ?? 200);
const server = fork(fileURLToPath(new URL('./embedded-fleet-process.ts', import.meta.url)), ['1'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const hosts = await new Promise<BenchHost[]>((resolve) => server.once('message', (m: { hosts: BenchHost[] }) => resolve(m.hosts)));
const contender = await (await loadContender(id))(hosts, { perHostConcurrency: 1 });
for (let i = 0; i < warmUp; i++) await contender.run(0, 'true');
for (let i = 0; i < n; i++) await contender.run(0, `echo ${i}`);
await contender.close();
server.disconnect();
