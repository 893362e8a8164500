// The OpenSSH servers of the comparison: one Docker container per host (host networking,
// the test suite's image and fixture), with sshd's default MaxSessions and MaxStartups.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SshdServer } from '../../test/support/sshd.js';
import type { BenchHost } from './bench-host.js';

export interface ConnectionCount {
  /** Authenticated connections ("Accepted publickey"). */
  readonly accepted: number;
  /** Connections sshd dropped before authentication because of MaxStartups. */
  readonly dropped: number;
}

export class OpenSshFleet {
  /** The fleet's servers first, then any server of a configuration of its own (`dedicated`). */
  readonly hosts: BenchHost[];
  readonly #servers: SshdServer[];
  /** Index in `hosts` of each dedicated server, by its configuration. */
  readonly #dedicated = new Map<string, number>();

  private constructor(servers: SshdServer[]) {
    this.#servers = servers;
    this.hosts = servers.map(benchHostOf);
  }

  /** The index in `hosts` of a server running with `config` (started on first use, kept until `stop`). */
  async dedicated(config: Readonly<Record<string, string | number>>): Promise<number> {
    const key = JSON.stringify(Object.entries(config).sort());
    const known = this.#dedicated.get(key);
    if (known !== undefined) return known;
    const { startSshd } = await import('../../test/support/sshd.js');
    const server = await startSshd({ config: { ...config } });
    this.#servers.push(server);
    this.hosts.push(benchHostOf(server));
    this.#dedicated.set(key, this.hosts.length - 1);
    return this.hosts.length - 1;
  }

  /** Starts `size` servers, a few at a time (the machine is small and shared). */
  static async start(size: number, onProgress?: (started: number) => void): Promise<OpenSshFleet> {
    if (!process.env['DOCKER_HOST'] && existsSync('/var/run/docker.sock')) process.env['DOCKER_HOST'] = 'unix:///var/run/docker.sock';
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const build = spawnSync('bash', ['scripts/build-sshd-image.sh'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) throw new Error('building the sshd image failed (scripts/build-sshd-image.sh)');
    const { startSshd } = await import('../../test/support/sshd.js');
    const servers: SshdServer[] = [];
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(size, 6) }, async () => {
          while (next < size) {
            next++;
            servers.push(await startSshd());
            onProgress?.(servers.length);
          }
        }),
      );
    } catch (error) {
      await Promise.allSettled(servers.map((server) => server.remove()));
      throw error;
    }
    return new OpenSshFleet(servers);
  }

  /** Connections each server has seen so far, from its log (sshd runs with LogLevel INFO). */
  async count(hostIndexes: readonly number[]): Promise<ConnectionCount> {
    const logs = await Promise.all(hostIndexes.map((i) => this.#servers[i]!.logs()));
    let accepted = 0;
    let dropped = 0;
    for (const log of logs) {
      accepted += log.split('Accepted publickey for').length - 1;
      dropped += log.split('past MaxStartups').length - 1;
    }
    return { accepted, dropped };
  }

  /**
   * Waits until the logs stop growing: sshd logs a connection when it authenticates, and the
   * log reaches Docker a moment later.
   */
  async settledCount(hostIndexes: readonly number[]): Promise<ConnectionCount> {
    let last = await this.count(hostIndexes);
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const now = await this.count(hostIndexes);
      if (now.accepted === last.accepted && now.dropped === last.dropped) return now;
      last = now;
    }
    return last;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.#servers.map((server) => server.remove()));
  }
}

function benchHostOf(server: SshdServer): BenchHost {
  return {
    host: server.host,
    port: server.port,
    username: server.username,
    privateKey: server.privateKey,
    hostKeyFingerprint: server.hostKeyFingerprint,
    hostPublicKey: server.knownHostsLine.split(' ').slice(1).join(' '),
  };
}
