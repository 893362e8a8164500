// npm run bench:transfers — file transfers: sshpool against what users would otherwise use,
// measured in the same run against the same OpenSSH server (a container, as in bench/compare.ts).
//
//   npm run bench:transfers                         one 1 GiB file up and down, 1,000 × 4 KiB files
//   npm run bench:transfers -- --file-mib 64 --files 200
//   npm run bench:transfers -- --wan                through the delay proxy (+25 ms each way)
//   npm run bench:transfers -- --smoke              tiny sizes: checks that every contender works
//
// Contenders: sshpool (upload/download over its pooled SFTP channel), OpenSSH sftp (batch
// put/get) and scp, plain ssh2 fastPut/fastGet, node-ssh putFile/getFile; for the directory,
// sshpool recursive upload, scp -r, sftp put -r and `tar c | ssh host tar x`. Columns: MiB/s (wall clock) and client CPU
// seconds per GiB moved (this process for in-process clients, the reaped children for the
// OpenSSH tools; /proc/self/stat), and the ratio to OpenSSH sftp (file) or scp -r (directory).
// File rows are the best of two rounds (the second in reverse order); directory rows one round.
// In-process contenders share this process (one after another), unlike bench/compare.ts.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeSSH } from 'node-ssh';
import { Client } from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import type { BenchHost } from './compare/bench-host.js';
import { viaPort } from './compare/bench-host.js';
import { pinnedConnectConfig } from './compare/contenders/ssh2-exec.js';
import { OpenSshFleet } from './compare/openssh-fleet.js';
import { distIsStale, loadSshpool, sshpoolTarget } from './compare/sshpool-module.js';
import { ssh2BindingStatus } from './compare/ssh2-binding.js';

const MiB = 1024 * 1024;
const WAN_DELAY_MS = 25;

interface Options {
  readonly smoke: boolean;
  readonly wan: boolean;
  readonly fileMiB: number;
  readonly files: number;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    return at === -1 ? undefined : argv[at + 1];
  };
  const smoke = argv.includes('--smoke');
  const positive = (flag: string, fallback: number): number => {
    const given = value(flag);
    if (given === undefined) return fallback;
    const parsed = Number(given);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${flag} takes a positive integer`);
    return parsed;
  };
  return { smoke, wan: argv.includes('--wan'), fileMiB: positive('--file-mib', smoke ? 4 : 1024), files: positive('--files', smoke ? 50 : 1000) };
}

/** CPU seconds of this process and of its reaped children (ssh, scp, sftp), from /proc/self/stat. */
function cpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // After the ") ": state is field 3, so utime/stime/cutime/cstime (14-17) are at 11-14.
  const ticks = fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0);
  return ticks / 100;
}

interface Row {
  readonly workload: string;
  readonly contender: string;
  readonly seconds: number;
  readonly cpu: number;
  readonly bytes: number;
}

async function measure(workload: string, contender: string, bytes: number, run: () => Promise<void> | void): Promise<Row> {
  const cpuBefore = cpuSeconds();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const row = { workload, contender, seconds, cpu: cpuSeconds() - cpuBefore, bytes };
  console.error(`  ${workload} ${contender}: ${seconds.toFixed(2)} s`);
  return row;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const file = await open(path, 'w');
  for (let written = 0; written < bytes; written += 4 * MiB) await file.write(randomBytes(Math.min(4 * MiB, bytes - written)));
  await file.close();
}

/** OpenSSH client options for the bench host: its key, its pinned host key, no config file. */
function opensshOptions(host: BenchHost, dir: string, portFlag: '-p' | '-P'): string[] {
  const key = join(dir, 'id');
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(key, host.privateKey, { mode: 0o600 });
  writeFileSync(knownHosts, `[${host.host}]:${host.port} ${host.hostPublicKey}\n`);
  return ['-F', 'none', '-i', key, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', portFlag, String(host.port)];
}

/** The delay proxy in a child process (bench/transfers-proxy.ts), so that it shares no event loop with a contender. */
async function startProxy(target: BenchHost): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./transfers-proxy.ts', import.meta.url).pathname, target.host, String(target.port), String(WAN_DELAY_MS)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the delay proxy exited (${String(code)})`)));
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  child.removeAllListeners('exit');
  return { port, stop: () => child.stdin.end() };
}

/** Runs a tool to its end without blocking the event loop: the WAN profile's delay proxy runs in this process. */
function run(command: string, args: readonly string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => (status === 0 ? resolve() : reject(new Error(`${command} failed (${String(status)}): ${stderr.slice(0, 300)}`))));
    child.stdin.end(input ?? '');
  });
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (distIsStale()) throw new Error('dist/ is older than src/: run npm run build first (or set SSHPOOL_BENCH_FROM_SOURCE=1)');
  const fleet = await OpenSshFleet.start(1);
  // An interrupted run still removes its server container.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void fleet.stop().finally(() => process.exit(130)));
  }
  const proxy = options.wan ? await startProxy(fleet.hosts[0]!) : undefined;
  const host = proxy ? viaPort(fleet.hosts[0]!, proxy.port) : fleet.hosts[0]!;
  const work = mkdtempSync(join(tmpdir(), 'sshpool-bench-transfers-'));
  const remoteDir = `/home/${host.username}`;
  const target = `${host.username}@${host.host}`;
  const rows: Row[] = [];
  const { $, SSHConnectionPool } = await loadSshpool();
  const pool = new SSHConnectionPool();
  const nodeSsh = new NodeSSH();
  const plain = new Client();
  try {
    const sshArgs = opensshOptions(host, work, '-p');
    const scpArgs = opensshOptions(host, work, '-P');
    const ssh = $.ssh({ ...sshpoolTarget(host), pool });
    await ssh`true`;
    await nodeSsh.connect(pinnedConnectConfig(host));
    // Plain ssh2, as users write it without a wrapper: one client, its SFTP channel, fastPut/fastGet.
    await new Promise<void>((resolve, reject) => plain.once('ready', resolve).once('error', reject).connect(pinnedConnectConfig(host)));
    const plainSftp = await new Promise<SFTPWrapper>((resolve, reject) => plain.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))));
    const viaPlain = (start: (done: (error?: Error | null) => void) => void): Promise<void> =>
      new Promise((resolve, reject) => start((error) => (error ? reject(error) : resolve())));

    // ---- one large file ----
    const bytes = options.fileMiB * MiB;
    const source = join(work, 'file.bin');
    await writeRandomFile(source, bytes);
    const expected = sha256File(source);
    const back = join(work, 'back.bin');
    const check = (): void => {
      if (sha256File(back) !== expected) throw new Error('downloaded file differs');
      rmSync(back);
    };
    const file = `${options.fileMiB} MiB file`;
    const contenders: Array<{ up: string; down: string; put: () => Promise<void>; get: () => Promise<void> }> = [
      {
        up: 'sshpool', down: 'sshpool',
        put: async () => void (await ssh.upload(source, `${remoteDir}/sshpool.bin`)),
        get: async () => void (await ssh.download(`${remoteDir}/sshpool.bin`, back)),
      },
      {
        up: 'OpenSSH sftp', down: 'OpenSSH sftp',
        put: () => run('sftp', [...scpArgs, '-b', '-', target], `put ${source} ${remoteDir}/sftp.bin\n`),
        get: () => run('sftp', [...scpArgs, '-b', '-', target], `get ${remoteDir}/sftp.bin ${back}\n`),
      },
      {
        up: 'OpenSSH scp', down: 'OpenSSH scp',
        put: () => run('scp', ['-q', ...scpArgs, source, `${target}:${remoteDir}/scp.bin`]),
        get: () => run('scp', ['-q', ...scpArgs, `${target}:${remoteDir}/scp.bin`, back]),
      },
      {
        up: 'plain ssh2 fastPut', down: 'plain ssh2 fastGet',
        put: () => viaPlain((done) => plainSftp.fastPut(source, `${remoteDir}/ssh2.bin`, done)),
        get: () => viaPlain((done) => plainSftp.fastGet(`${remoteDir}/ssh2.bin`, back, done)),
      },
      {
        up: 'node-ssh putFile', down: 'node-ssh getFile',
        put: () => nodeSsh.putFile(source, `${remoteDir}/node-ssh.bin`),
        get: () => nodeSsh.getFile(back, `${remoteDir}/node-ssh.bin`),
      },
    ];
    // Two rounds, the second in reverse order, best of the two per contender: the server's first
    // large writes are slower (its file system grows), and whoever goes first would pay for it.
    const fileRows: Row[] = [];
    for (const round of [contenders, [...contenders].reverse()]) {
      for (const contender of round) {
        fileRows.push(await measure(`${file} up`, contender.up, bytes, contender.put));
        fileRows.push(await measure(`${file} down`, contender.down, bytes, contender.get));
        check();
      }
    }
    for (const contender of contenders) {
      for (const [workload, name] of [[`${file} up`, contender.up], [`${file} down`, contender.down]] as const) {
        const best = fileRows.filter((row) => row.workload === workload && row.contender === name).sort((a, b) => a.seconds - b.seconds)[0]!;
        rows.push(best);
      }
    }
    await ssh`rm -f ${`${remoteDir}/sshpool.bin`} ${`${remoteDir}/sftp.bin`} ${`${remoteDir}/scp.bin`} ${`${remoteDir}/node-ssh.bin`} ${`${remoteDir}/ssh2.bin`}`;
    rmSync(source);

    // ---- many small files ----
    const tree = join(work, 'tree');
    mkdirSync(tree);
    for (let i = 0; i < options.files; i++) writeFileSync(join(tree, `f${i}`), randomBytes(4096));
    const treeBytes = options.files * 4096;
    const dir = `${options.files} × 4 KiB files up`;
    rows.push(await measure(dir, 'sshpool recursive', treeBytes, async () => void (await ssh.upload(tree, `${remoteDir}/t-sshpool`, { recursive: true }))));
    rows.push(await measure(dir, 'OpenSSH scp -r', treeBytes, () => run('scp', ['-q', '-r', ...scpArgs, tree, `${target}:${remoteDir}/t-scp`])));
    rows.push(await measure(dir, 'OpenSSH sftp put -r', treeBytes, () => run('sftp', [...scpArgs, '-b', '-', target], `put -r ${tree} ${remoteDir}/t-sftp\n`)));
    await ensureRemoteTar(ssh);
    rows.push(await measure(dir, 'tar c \\| ssh tar x', treeBytes, () =>
      run('sh', ['-c', `tar c -C "${tree}" . | ssh ${sshArgs.map((arg) => `'${arg}'`).join(' ')} ${target} 'mkdir -p t-tar && tar x -C t-tar'`])));
    const { stdout } = await ssh`ls t-sshpool | wc -l; ls t-scp/tree 2>/dev/null | wc -l; ls t-scp | wc -l; ls t-tar | wc -l`;
    console.error(`  files on the server (sshpool, scp nested, scp, tar): ${stdout.trim().split('\n').join(' ')}`);
  } finally {
    nodeSsh.dispose();
    plain.end();
    await pool.closeAll();
    proxy?.stop();
    await fleet.stop();
    rmSync(work, { recursive: true, force: true });
  }
  printTable(rows, options);
}

/**
 * The test image has no tar: this run's container gets the host's (Debian 12, whose libraries
 * the image carries), so that `tar c | ssh host tar x` can run as users run it.
 */
async function ensureRemoteTar(ssh: { (strings: TemplateStringsArray, ...values: unknown[]): { nothrow(): PromiseLike<{ exitCode: number | null }> } }): Promise<void> {
  if ((await ssh`command -v tar`.nothrow()).exitCode === 0) return;
  const ids = spawnSync('docker', ['ps', '-q', '--filter', `label=sshpool.owner-pid=${process.pid}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  if (ids.length !== 1) throw new Error(`expected this run's one sshd container, found ${ids.length}`);
  await run('docker', ['cp', '/usr/bin/tar', `${ids[0]!}:/usr/bin/tar`]);
}

function printTable(rows: readonly Row[], options: Options): void {
  const profile = options.wan ? `WAN (+${WAN_DELAY_MS} ms each way)` : 'LAN (loopback)';
  console.log(`\n${profile}${options.smoke ? ', smoke sizes: timings mean nothing' : ''}; ${ssh2BindingStatus()}\n`);
  console.log('| workload | contender | MiB/s | client CPU s/GiB | vs baseline |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) {
    const baseline = rows.find((other) => other.workload === row.workload && (other.contender === 'OpenSSH sftp' || other.contender === 'OpenSSH scp -r'));
    const rate = row.bytes / MiB / row.seconds;
    const cpuPerGiB = row.cpu / (row.bytes / (1024 * MiB));
    const ratio = baseline ? (baseline.seconds / row.seconds).toFixed(2) + '×' : '–';
    console.log(`| ${row.workload} | ${row.contender} | ${rate.toFixed(1)} | ${cpuPerGiB.toFixed(1)} | ${ratio} |`);
  }
}

await main();
