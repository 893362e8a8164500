// npm run bench:memory — what buffering a large command output costs in memory.
//
// Runs one command that writes SIZE bytes to stdout against an OpenSSH container, with
// maxBuffer above SIZE, sampling the process RSS every 10 ms. Reports the RSS growth at its
// peak and after the result is reached (both relative to the RSS before the command), and
// what reading `stdout` (the decoded string) then adds.
//
// Options: --mb N (output size in MB, default 200).
import { setTimeout as sleep } from 'node:timers/promises';
import { $, SSHConnectionPool } from '../src/index.js';
import { removeAllSshd, startSshd } from '../test/support/sshd.js';

const mbIndex = process.argv.indexOf('--mb');
const sizeMb = mbIndex > 0 ? Number(process.argv[mbIndex + 1]) : 200;
const size = sizeMb * 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const server = await startSshd();
const pool = new SSHConnectionPool();
try {
  const ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
  await ssh`true`;
  gc();
  await sleep(100);
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = performance.now();
  const result = await ssh`head -c ${size} /dev/zero | tr '\\0' a`.maxBuffer(size + 1);
  const seconds = (performance.now() - started) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  const atResult = process.memoryUsage().rss;
  const bytes = (result as { stdoutBuffer?: Buffer }).stdoutBuffer?.length ?? result.stdout.length;
  gc();
  await sleep(100);
  const settled = process.memoryUsage().rss;
  const text = result.stdout;
  const withString = Math.max(process.memoryUsage().rss, settled);
  clearInterval(sampler);
  const mb = (n: number): string => `${Math.round(n / 1_000_000)} MB`;
  console.log(`output ${mb(bytes)} in ${seconds.toFixed(1)} s (${text.length} characters)`);
  console.log(`RSS growth: peak ${mb(peak - before)}, at result ${mb(atResult - before)}, after GC ${mb(settled - before)}, after reading stdout ${mb(withString - before)}`);
} finally {
  await pool.closeAll();
  await removeAllSshd();
}
