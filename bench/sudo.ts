// npm run bench:sudo — what a command under sudo costs, against what users otherwise write.
//
// Against one OpenSSH container (test image: sudo-user needs its password), runs COUNT commands
// one after the other, warm, each way:
//   - sshpool, `id -u` without sudo (the baseline of this run);
//   - sshpool, `id -u` with `.sudo({ password })`;
//   - OpenSSH with a ControlMaster connection, `echo "$PW" | ssh host sudo -S -p '' id -u`
//     (one ssh process per command over the shared connection: what a shell script does),
//     and the same with -k, which ignores cached credentials as sshpool's .sudo() does.
// Reports the median and p95 per command and each as a ratio to the baseline; wall-clock
// figures depend on the machine, the ratios less so.
//
// Options: --count N (default 100), --smoke (5 commands).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { $, SSHConnectionPool } from '../src/index.js';
import { removeAllSshd, startSshd, SUDO_USERS } from '../test/support/sshd.js';

const countIndex = process.argv.indexOf('--count');
const count = process.argv.includes('--smoke') ? 5 : countIndex > 0 ? Number(process.argv[countIndex + 1]) : 100;
const { username, password } = SUDO_USERS.password;

async function timed(run: () => Promise<string>): Promise<number[]> {
  const times: number[] = [];
  await run();
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const out = await run();
    times.push(performance.now() - started);
    if (out.trim() !== '0' && out.trim() !== '1004') throw new Error(`unexpected output ${JSON.stringify(out)}`);
  }
  return times.sort((a, b) => a - b);
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

const server = await startSshd();
const pool = new SSHConnectionPool();
const dir = mkdtempSync(join(tmpdir(), 'sshpool-bench-sudo-'));
try {
  const ssh = $.ssh({ host: server.host, port: server.port, username, privateKey: server.privateKey, hostKey: 'off', pool });
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, server.privateKey, { mode: 0o600 });
  const control = join(dir, 'ctl');
  const sshArgs = ['-i', keyFile, '-p', String(server.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', `ControlPath=${control}`];
  await promisify(execFile)('ssh', [...sshArgs, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=60', '-f', '-N', `${username}@${server.host}`]);
  const openssh = (sudo = "sudo -S -p '' id -u"): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn('ssh', [...sshArgs, `${username}@${server.host}`, sudo], { stdio: ['pipe', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`ssh exited with ${code}`))));
      child.stdin.end(`${password}\n`);
    });

  const rows: Array<[string, number[]]> = [
    ['sshpool, no sudo (baseline)', await timed(async () => (await ssh`id -u`).stdout)],
    ['sshpool .sudo({ password })', await timed(async () => (await ssh`id -u`.sudo({ password })).stdout)],
    ['OpenSSH ControlMaster + sudo -S', await timed(() => openssh())],
    ['OpenSSH ControlMaster + sudo -k -S (no cached credentials, as sshpool)', await timed(() => openssh("sudo -k -S -p '' id -u"))],
  ];
  await promisify(execFile)('ssh', [...sshArgs, '-O', 'exit', `${username}@${server.host}`]).catch(() => undefined);
  const base = quantile(rows[0]![1], 0.5);
  console.log(`${count} sequential commands each, warm, one OpenSSH container on loopback`);
  console.log('| way | median ms | p95 ms | median / baseline |');
  console.log('|---|---|---|---|');
  for (const [name, times] of rows) {
    console.log(`| ${name} | ${quantile(times, 0.5).toFixed(1)} | ${quantile(times, 0.95).toFixed(1)} | ${(quantile(times, 0.5) / base).toFixed(2)} |`);
  }
} finally {
  await pool.closeAll();
  await removeAllSshd();
  rmSync(dir, { recursive: true, force: true });
}
