// npm run bench:streamed — one large output streamed and hashed on the client, three ways:
//
//   sshpool   for the command's stdout piped into a SHA-256 hash (`pipeline(cmd.stdout, hash)`)
//   ssh2      a plain ssh2 client's exec stream into the same hash, ssh2's defaults
//   openssh   `ssh host 'head -c N /dev/zero' | sha256sum`, OpenSSH's own client
//
// against one OpenSSH container, on loopback (LAN) and through a delaying proxy of 25 ms each
// way (the 50 ms WAN profile of bench/compare). Each transfer runs in a process of its own
// (OpenSSH: the shell, ssh and sha256sum), which reports its wall time and CPU time (user +
// system, children included): MiB/s and client CPU seconds per GiB. Every contender checks the
// hash it computed against the expected one, and the Node contenders report their peak RSS
// growth during the transfer (the memory a streamed output costs, whatever its size).
//
// Options: --mib N (size, default 1024), --rounds N (default 1; the median round is shown),
// --smoke (16 MiB, one round: checks the harness; the numbers mean nothing), --lan-only,
// --contenders a,b (a subset, e.g. `--contenders sshpool --mib 10240` for the memory at 10 GiB;
// the ratio column then needs openssh among them).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { DelayProxy } from './compare/delay-proxy.js';
import { procCpuMicros } from './compare/proc-cpu.js';
import { ssh2BindingStatus } from './compare/ssh2-binding.js';

const MiB = 1024 * 1024;
type Contender = 'sshpool' | 'ssh2' | 'openssh';
const CONTENDERS: readonly Contender[] = ['sshpool', 'ssh2', 'openssh'];

interface ChildJob {
  readonly contender: Contender;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly keyFile: string;
  readonly bytes: number;
  readonly expected: string;
}

interface Measurement {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly hashOk: boolean;
  /** Peak RSS growth of the client process during the transfer, bytes (not measured for OpenSSH). */
  readonly rssGrowth?: number;
}

const arg = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};

/** SHA-256 of `bytes` zero bytes, as the server sends them. */
function zeroHash(bytes: number): string {
  const hash = createHash('sha256');
  const block = Buffer.alloc(MiB);
  for (let left = bytes; left > 0; left -= block.length) hash.update(left >= block.length ? block : block.subarray(0, left));
  return hash.digest('hex');
}

// ---- one transfer, in a process of its own ----

async function runChild(job: ChildJob): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const privateKey = readFileSync(job.keyFile);
  const remote = `head -c ${job.bytes} /dev/zero`;
  const hash = createHash('sha256');
  // Loaded before the clock starts: only the transfer (connect included) is measured.
  const { $, SSHConnectionPool } = await import('../src/index.js');
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  if (job.contender === 'sshpool') {
    const pool = new SSHConnectionPool();
    const ssh = $.ssh({ host: job.host, port: job.port, username: job.username, privateKey, hostKey: 'off', pool });
    const cmd = ssh`head -c ${job.bytes} /dev/zero`;
    await pipeline(cmd.stdout, hash);
    await cmd;
    await pool.closeAll();
  } else {
    await new Promise<void>((resolve, reject) => {
      const client = new ssh2.Client();
      client.on('error', reject);
      client.on('ready', () => {
        client.exec(remote, (error, stream) => {
          if (error) return reject(error);
          stream.on('data', (chunk: Buffer) => hash.update(chunk));
          stream.on('close', () => {
            client.end();
            resolve();
          });
        });
      });
      client.connect({ host: job.host, port: job.port, username: job.username, privateKey });
    });
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  const result: Measurement = {
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    hashOk: hash.digest('hex') === job.expected,
    rssGrowth: Math.max(rssPeak, process.memoryUsage().rss) - rssBefore,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function inChild(job: ChildJob): Promise<Measurement> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, script, '--child', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as Measurement) : reject(new Error(`${job.contender} exited with ${code}`))));
  });
}

/** `ssh … | sha256sum` under a shell; its CPU is what the reaped children used. */
function openssh(job: ChildJob): Promise<Measurement> {
  const sshCommand = [
    'ssh', '-q', '-T', '-i', job.keyFile, '-p', String(job.port),
    '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes',
    `${job.username}@${job.host}`, `'head -c ${job.bytes} /dev/zero'`,
  ].join(' ');
  const before = procCpuMicros('self').children;
  const started = performance.now();
  const child = spawn('sh', ['-c', `${sshCommand} | sha256sum`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`ssh | sha256sum exited with ${code}`));
      const seconds = (performance.now() - started) / 1000;
      const cpuSeconds = (procCpuMicros('self').children - before) / 1e6;
      resolve({ seconds, cpuSeconds, hashOk: out.split(' ')[0] === job.expected });
    });
  });
}

// ---- the comparison ----

async function main(): Promise<void> {
  const smoke = process.argv.includes('--smoke');
  const bytes = (smoke ? 16 : Number(arg('--mib') ?? 1024)) * MiB;
  const rounds = smoke ? 1 : Number(arg('--rounds') ?? 1);
  const { startSshd, removeAllSshd } = await import('../test/support/sshd.js');
  const server = await startSshd();
  const dir = mkdtempSync(join(tmpdir(), 'sshpool-bench-streamed-'));
  const keyFile = join(dir, 'id');
  writeFileSync(keyFile, server.privateKey, { mode: 0o600 });
  const proxy = process.argv.includes('--lan-only') ? undefined : await DelayProxy.start({ host: server.host, port: server.port }, 25);
  const expected = zeroHash(bytes);
  const chosen = (arg('--contenders')?.split(',') ?? CONTENDERS) as Contender[];
  const unknown = chosen.filter((name) => !CONTENDERS.includes(name));
  if (unknown.length > 0) throw new Error(`--contenders: unknown ${unknown.join(', ')} (known: ${CONTENDERS.join(', ')})`);
  const profiles = [{ name: 'LAN (loopback)', port: server.port }, ...(proxy ? [{ name: 'WAN (+25 ms each way)', port: proxy.port }] : [])];
  const size = bytes >= 1024 * MiB ? `${bytes / (1024 * MiB)} GiB` : `${bytes / MiB} MiB`;
  console.log(`### Streamed output: ${size} of \`head -c\` hashed with SHA-256 on the client${smoke ? ' (smoke size: the numbers mean nothing)' : ''}`);
  console.log();
  console.log(`${ssh2BindingStatus()}.`);
  console.log();
  console.log('| profile | contender | MiB/s | client CPU s/GiB | ÷ OpenSSH MiB/s | client RSS growth MiB | hash |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | --- |');
  let failed = false;
  try {
    for (const profile of profiles) {
      const medians = new Map<Contender, Measurement>();
      for (const contender of chosen) {
        const runs: Measurement[] = [];
        for (let round = 0; round < rounds; round++) {
          const job: ChildJob = { contender, host: server.host, port: profile.port, username: server.username, keyFile, bytes, expected };
          runs.push(contender === 'openssh' ? await openssh(job) : await inChild(job));
        }
        runs.sort((a, b) => a.seconds - b.seconds);
        medians.set(contender, runs[Math.floor(runs.length / 2)]!);
      }
      const reference = medians.get('openssh');
      const baseline = reference ? bytes / MiB / reference.seconds : Number.NaN;
      for (const contender of chosen) {
        const m = medians.get(contender)!;
        const rate = bytes / MiB / m.seconds;
        failed ||= !m.hashOk;
        console.log(`| ${profile.name} | ${contender} | ${rate.toFixed(1)} | ${(m.cpuSeconds / (bytes / (1024 * MiB))).toFixed(2)} | ${Number.isNaN(baseline) ? '–' : `${(rate / baseline).toFixed(2)}×`} | ${m.rssGrowth === undefined ? '–' : (m.rssGrowth / MiB).toFixed(0)} | ${m.hashOk ? 'ok' : 'WRONG'} |`);
      }
    }
  } finally {
    await proxy?.stop();
    await removeAllSshd();
    rmSync(dir, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

const childAt = process.argv.indexOf('--child');
if (childAt > 0) await runChild(JSON.parse(process.argv[childAt + 1]!) as ChildJob);
else await main();
