// A bastion and private OpenSSH servers that the test process cannot reach directly.
//
//   test process (root netns) ── 10.200.N.1 ═veth═ 10.200.N.2 ── bastion netns (sshd :22)
//                                                   10.201.N.1 ═veth═ 10.201.N.11, .12, ... ── private netns
//                                                                     (one sshd :22 per address)
//
// Two network namespaces created with `ip netns add`, joined by veth pairs. The root namespace
// even has a route to the private subnet through the bastion, but the bastion namespace does
// not forward (ip_forward=0) and the private one has no route back: only a process on the
// bastion (its sshd, opening a direct-tcpip channel) reaches the private servers.
//
// The servers are the machine's own OpenSSH (`/usr/sbin/sshd`) run inside the namespaces with
// `ip netns exec`, each with a temporary config, host key and authorized key, logging in as
// root (Docker cannot join a named namespace: `--network ns:` is Podman's). Everything is
// removed by name and pid: the processes in our namespaces, the namespaces, the temp dir;
// on test end, on process exit, and (for a crashed earlier run) when the next run starts.

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { generateKeyPair } from './generate-key-pair.js';
import { until } from './until.js';

export interface NamespacedSshd {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  readonly hostKeyFingerprint: string;
  /** `host ssh-ed25519 AAAA...`, a known_hosts line for this server */
  readonly knownHostsLine: string;
  /** SIGKILL this server and every session it runs: established connections drop at once. */
  kill(): void;
  /** Starts it again (same address, host key); resolves once it listens. */
  start(): Promise<void>;
}

export interface PrivateNetwork {
  readonly bastion: NamespacedSshd;
  readonly targets: readonly NamespacedSshd[];
  /** The bastion's address as the private servers see it. */
  readonly bastionInnerAddress: string;
  /** The first three octets of the private servers' addresses (`10.201.N.`). */
  readonly privatePrefix: string;
  /** The private servers' network namespace (`ip netns exec` it to run another service beside them). */
  readonly privateNamespace: string;
  remove(): void;
}

const PREFIX = 'sshpool-j';
const USER = 'root';

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
}

function pidsIn(namespace: string): number[] {
  const result = spawnSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.split('\n').filter(Boolean).map(Number) : [];
}

function killAllIn(namespace: string): void {
  for (const pid of pidsIn(namespace)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function removeNamespace(namespace: string): void {
  killAllIn(namespace);
  spawnSync('ip', ['netns', 'del', namespace]);
}

/** Namespaces of earlier runs whose process is gone (a crash skips their cleanup). */
function removeStale(): void {
  let names: string[] = [];
  try {
    names = readdirSync('/var/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const owner = /^sshpool-j[bt]-(\d+)$/.exec(name)?.[1];
    if (!owner || Number(owner) === process.pid) continue;
    try {
      process.kill(Number(owner), 0);
    } catch {
      removeNamespace(name);
    }
  }
}

function publicKeyOf(privateKey: string): Buffer {
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error('unusable host key');
  return key.getPublicSSH();
}

function fingerprintOf(privateKey: string): string {
  return `SHA256:${createHash('sha256').update(publicKeyOf(privateKey)).digest('base64').replace(/=+$/, '')}`;
}

class Sshd implements NamespacedSshd {
  readonly username = USER;
  readonly hostKeyFingerprint: string;
  readonly knownHostsLine: string;
  #child: ChildProcess | undefined;
  /** What the last `kill()` signalled: `start()` waits for it to exit. */
  #dying: number[] = [];

  constructor(
    readonly namespace: string,
    readonly host: string,
    readonly port: number,
    readonly privateKey: string,
    private readonly configFile: string,
    private readonly home: string,
    hostKey: string,
  ) {
    this.hostKeyFingerprint = fingerprintOf(hostKey);
    const publicKey = publicKeyOf(hostKey);
    this.knownHostsLine = `${port === 22 ? host : `[${host}]:${port}`} ssh-ed25519 ${publicKey.toString('base64')}`;
  }

  kill(): void {
    // The listener and its per-connection sshds and sessions; the private servers share a
    // namespace, so each kills only its own process tree.
    const own = this.#child?.pid;
    // Picked before the first kill: a killed listener's connection processes are re-parented
    // to init at once, and would no longer be found as its own.
    const mine = pidsIn(this.namespace).filter((pid) => this.#belongsToMe(pid, own));
    for (const pid of mine) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.#child = undefined;
    this.#dying = mine;
  }

  /**
   * Resolves once every process the last kill signalled has exited (gone, or a zombie: its
   * sockets are closed by then). A SIGKILL is delivered asynchronously: a start right after it
   * found the old listener still holding the port ("Address already in use") on a loaded machine.
   */
  async #whenKilledExited(): Promise<void> {
    const running = (pid: number): boolean => {
      try {
        return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    await until(() => !this.#dying.some(running), 10_000, `the killed processes of sshd on ${this.host}:${this.port} exited`);
    this.#dying = [];
  }

  // Targets share a namespace: a session process belongs to this server when its process
  // tree leads to this server's listener.
  #belongsToMe(pid: number, listener: number | undefined): boolean {
    if (listener === undefined) return false;
    let current = pid;
    for (let depth = 0; depth < 10 && current > 1; depth++) {
      if (current === listener) return true;
      let stat = '';
      try {
        stat = readFileSync(`/proc/${current}/stat`, 'utf8');
      } catch {
        return false;
      }
      const parent = Number(/\) \S+ (\d+)/.exec(stat)?.[1]);
      if (!Number.isFinite(parent)) return false;
      current = parent;
    }
    return false;
  }

  async start(): Promise<void> {
    await this.#whenKilledExited();
    return this.#spawn();
  }

  #spawn(): Promise<void> {
    // Sessions log in as this machine's root: an empty directory is mounted over /root in a
    // mount namespace of the server's own, so the machine's ~/.bashrc (which bash sources for
    // ssh sessions, and which may do anything) stays out of the tests. Each step execs the
    // next: the child's pid is sshd's.
    const script = `mount --bind ${this.home} /root && exec /usr/sbin/sshd -D -e -f ${this.configFile}`;
    const child = spawn('ip', ['netns', 'exec', this.namespace, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#child = child;
    child.unref();
    return new Promise((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`sshd on ${this.host}:${this.port} did not listen within 10 s:\n${log}`)), 10_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes(`Server listening on ${this.host} port ${this.port}`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd on ${this.host}:${this.port} exited with ${code}:\n${log}`));
      });
    });
  }
}

/**
 * Builds the two namespaces and starts a bastion and `targetCount` private servers. Needs root
 * and iproute2; fails with the reason otherwise (never skips).
 */
export async function startPrivateNetwork(targetCount: number): Promise<PrivateNetwork> {
  if (process.getuid?.() !== 0) throw new Error('the jump host tests create network namespaces and need root');
  removeStale();
  const id = process.pid;
  // A subnet pair of its own: claiming the private subnet's route is atomic (a second claim
  // fails with "File exists"), so concurrent test files never share addresses.
  let octet = 0;
  for (let attempt = 0; attempt < 200 && octet === 0; attempt++) {
    const candidate = 20 + ((id + attempt) % 200);
    if (spawnSync('ip', ['route', 'add', 'blackhole', `10.201.${candidate}.0/24`]).status === 0) octet = candidate;
  }
  if (octet === 0) throw new Error('no free 10.201.X.0/24 subnet for the private network');
  const outer = `${PREFIX}b-${id}`;
  const inner = `${PREFIX}t-${id}`;
  const links = { hostSide: `spj${id % 100000}h`, bastionOut: `spj${id % 100000}b`, bastionIn: `spt${id % 100000}b`, targetSide: `spt${id % 100000}t` };
  const dir = mkdtempSync(join(tmpdir(), 'sshpool-jump-'));
  const network: { removed: boolean } = { removed: false };
  const remove = (): void => {
    if (network.removed) return;
    network.removed = true;
    removeNamespace(outer);
    removeNamespace(inner);
    spawnSync('ip', ['link', 'del', links.hostSide]);
    spawnSync('ip', ['route', 'del', `10.201.${octet}.0/24`]);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  try {
    ip('netns', 'add', outer);
    ip('netns', 'add', inner);
    ip('link', 'add', links.hostSide, 'type', 'veth', 'peer', 'name', links.bastionOut, 'netns', outer);
    ip('addr', 'add', `10.200.${octet}.1/24`, 'dev', links.hostSide);
    ip('link', 'set', links.hostSide, 'up');
    ip('-n', outer, 'addr', 'add', `10.200.${octet}.2/24`, 'dev', links.bastionOut);
    ip('-n', outer, 'link', 'set', links.bastionOut, 'up');
    ip('-n', outer, 'link', 'set', 'lo', 'up');
    ip('-n', outer, 'link', 'add', links.bastionIn, 'type', 'veth', 'peer', 'name', links.targetSide, 'netns', inner);
    ip('-n', outer, 'addr', 'add', `10.201.${octet}.1/24`, 'dev', links.bastionIn);
    ip('-n', outer, 'link', 'set', links.bastionIn, 'up');
    for (let index = 0; index < targetCount; index++) ip('-n', inner, 'addr', 'add', `10.201.${octet}.${11 + index}/24`, 'dev', links.targetSide);
    ip('-n', inner, 'link', 'set', links.targetSide, 'up');
    ip('-n', inner, 'link', 'set', 'lo', 'up');
    // The root namespace may send to the private subnet, through the bastion; the bastion
    // namespace will not forward it. That, not a missing route, is what keeps it private.
    ip('route', 'replace', `10.201.${octet}.0/24`, 'via', `10.200.${octet}.2`);
    const forward = spawnSync('ip', ['netns', 'exec', outer, 'sysctl', '-qw', 'net.ipv4.ip_forward=0'], { encoding: 'utf8' });
    if (forward.status !== 0) throw new Error(`cannot turn forwarding off in ${outer}: ${forward.stderr}`);
    // sshd refuses to start without its privilege separation directory.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });

    // One client key for every server, as one deploy key often serves a whole fleet.
    const client = generateKeyPair('sshpool-jump-client');
    const make = (namespace: string, host: string, port: number, name: string): Sshd => {
      const hostKey = generateKeyPair(`sshpool-${name}-host`);
      const hostKeyFile = join(dir, `${name}_host_key`);
      const authorized = join(dir, `${name}_authorized_keys`);
      const config = join(dir, `${name}_sshd_config`);
      writeFileSync(hostKeyFile, hostKey.private, { mode: 0o600 });
      writeFileSync(authorized, `${client.public}\n`, { mode: 0o644 });
      writeFileSync(config, [
        `Port ${port}`,
        `ListenAddress ${host}`,
        `HostKey ${hostKeyFile}`,
        `AuthorizedKeysFile ${authorized}`,
        'PidFile none',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        // The temp dir lives under the world-writable /tmp.
        'StrictModes no',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        'AllowTcpForwarding yes',
        'MaxSessions 20',
        'MaxStartups 50:30:100',
        'LogLevel INFO',
      ].join('\n') + '\n');
      return new Sshd(namespace, host, port, client.private, config, home, hostKey.private);
    };
    const bastion = make(outer, `10.200.${octet}.2`, 22, 'bastion');
    const targets = Array.from({ length: targetCount }, (_, index) => make(inner, `10.201.${octet}.${11 + index}`, 22, `target${index + 1}`));
    await Promise.all([bastion, ...targets].map((server) => server.start()));
    return { bastion, targets, bastionInnerAddress: `10.201.${octet}.1`, privatePrefix: `10.201.${octet}.`, privateNamespace: inner, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
