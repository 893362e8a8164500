// Not part of the benchmark: a CPU profile of N sequential commands through sshpool or plain
// ssh2 against an in-process server in another process (node --cpu-prof).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchHost } from './bench-host.js';
import { loadContender } from './contender.js';
import type { ContenderId } from './contender.js';

const id = (process.argv[2] ?? 'sshpool') as ContenderId;
const n = Number(process.argv[3] ?? 500);
const server = fork(fileURLToPath(new URL('./embedded-fleet-process.ts', import.meta.url)), ['1'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: process.execArgv.filter((a) => !a.startsWith('--cpu-prof')) });
const hosts = await new Promise<BenchHost[]>((resolve) => server.once('message', (m: { hosts: BenchHost[] }) => resolve(m.hosts)));
const contender = await (await loadContender(id))(hosts, { perHostConcurrency: 1 });
for (let i = 0; i < 20; i++) await contender.run(0, 'true');
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < n; i++) await contender.run(0, `echo ${i}`);
const cpu = process.cpuUsage(cpu0);
console.log(`${id}: ${((performance.now() - t0) / n).toFixed(2)} ms/cmd, ${((cpu.user + cpu.system) / n).toFixed(0)} µs CPU/cmd (user ${(cpu.user / n).toFixed(0)}, system ${(cpu.system / n).toFixed(0)})`);
await contender.close();
server.disconnect();
