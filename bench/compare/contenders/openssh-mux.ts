// OpenSSH's own multiplexing, as a shell script would use it: every command is a new
// `ssh` process with ControlMaster=auto and ControlPersist, so the first one to a host
// becomes the background master and later ones ride on its connection.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchHost } from '../bench-host.js';
import type { Contender } from '../contender.js';
import { procCpuMicros } from '../proc-cpu.js';

export const SSH_BINARY = '/usr/bin/ssh';

export async function openOpenSshMux(hosts: readonly BenchHost[]): Promise<Contender> {
  // A short directory: ControlPath must fit a Unix socket path (108 bytes).
  const dir = mkdtempSync(join(tmpdir(), 'sshpool-mux-'));
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, hosts.map((h) => `[${h.host}]:${h.port} ${h.hostPublicKey}\n`).join(''));
  const keyFiles = new Map<string, string>();
  const argsFor = (host: BenchHost): string[] => {
    let keyFile = keyFiles.get(host.privateKey);
    if (!keyFile) {
      keyFile = join(dir, `key-${keyFiles.size}`);
      writeFileSync(keyFile, host.privateKey.endsWith('\n') ? host.privateKey : `${host.privateKey}\n`);
      chmodSync(keyFile, 0o600);
      keyFiles.set(host.privateKey, keyFile);
    }
    return [
      '-F', '/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'ControlMaster=auto',
      '-o', `ControlPath=${dir}/%C`,
      '-o', 'ControlPersist=120',
      '-o', 'LogLevel=ERROR',
      '-o', 'IdentitiesOnly=yes',
      '-i', keyFile,
      '-p', String(host.port),
      '-l', host.username,
      host.host,
    ];
  };
  const hostArgs = hosts.map(argsFor);

  /** CPU of the background masters, which are no children of this process once their launcher exits. */
  const masterCpu = (): number => {
    let total = 0;
    for (const args of hostArgs) {
      const check = spawnSync(SSH_BINARY, [...args.slice(0, -1), '-O', 'check', args.at(-1)!], { encoding: 'utf8' });
      const pid = /pid=(\d+)/.exec(check.stderr)?.[1];
      if (pid) total += procCpuMicros(Number(pid)).own;
    }
    return total;
  };

  let probeCpu = 0;
  return {
    run(host, command) {
      return new Promise((resolve, reject) => {
        const child = spawn(SSH_BINARY, [...hostArgs[host]!, command], { stdio: ['ignore', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
        child.on('error', reject);
        // 'close' waits for every holder of the pipes; a master forked by this ssh holds none
        // (ControlPersist points its stdio at /dev/null), so it does not delay this.
        child.on('close', (code) => {
          if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
          else reject(new Error(`ssh exited with ${code}: ${err.trim().slice(0, 200)}`));
        });
      });
    },
    async externalCpuMicros() {
      // The `ssh -O check` processes that find the masters are reaped children too: keep them out.
      const before = procCpuMicros('self').children;
      const masters = masterCpu();
      const after = procCpuMicros('self').children;
      probeCpu += after - before;
      return after - probeCpu + masters;
    },
    async close() {
      for (const args of hostArgs) spawnSync(SSH_BINARY, [...args.slice(0, -1), '-O', 'exit', args.at(-1)!], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
