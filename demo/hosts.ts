import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SSHTarget } from '../src/index.js';
import { EmbeddedSshServer } from './embedded-server.js';

/** One SSH server the demo runs commands on, and can take down for a while. */
export interface DemoHost {
  /** Short name for the screen, e.g. `web`. */
  readonly label: string;
  /** Where and as whom to connect (without `pool`). */
  readonly target: SSHTarget;
  /** Stops the server (every connection drops), waits `downMs`, starts it on the same port. */
  restart(downMs: number): Promise<void>;
  /** Stops the server for good. Idempotent. */
  stop(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'demo-password';

/**
 * An in-process SSH server (ssh2's, running commands with /bin/sh). A stopped instance
 * cannot listen again, so a restart brings up a second instance on the same port, with
 * the same user and password. Each instance has its own host key: the target pins both,
 * as a client pins the old and the new key across a planned key rotation.
 */
class EmbeddedDemoHost implements DemoHost {
  readonly label: string;
  readonly target: SSHTarget;
  #current: EmbeddedSshServer;
  #spare: EmbeddedSshServer | undefined;
  #stopped = false;

  private constructor(label: string, current: EmbeddedSshServer, spare: EmbeddedSshServer) {
    this.label = label;
    this.#current = current;
    this.#spare = spare;
    this.target = {
      host: current.host,
      port: current.port,
      username: current.username,
      password: PASSWORD,
      hostKey: { fingerprints: [current.hostKeyFingerprint, spare.hostKeyFingerprint] },
    };
  }

  static async start(spec: HostSpec): Promise<EmbeddedDemoHost> {
    const options = { username: 'demo', password: PASSWORD, ...(spec.maxChannels ? { maxSessions: spec.maxChannels } : {}) };
    const current = await new EmbeddedSshServer(options).start();
    return new EmbeddedDemoHost(spec.label, current, new EmbeddedSshServer(options));
  }

  async restart(downMs: number): Promise<void> {
    const spare = this.#spare;
    if (!spare || this.#stopped) throw new Error(`${this.label}: the embedded server can be restarted once per run`);
    this.#spare = undefined;
    await this.#current.stop();
    await sleep(downMs);
    if (this.#stopped) return;
    await spare.start(this.#current.port);
    this.#current = spare;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#current.stop().catch(() => {});
  }
}

/** OpenSSH in a container (test/support/sshd.ts); a restart keeps port and host key. */
class OpenSshDemoHost implements DemoHost {
  readonly label: string;
  readonly target: SSHTarget;
  readonly #server: import('../test/support/sshd.js').SshdServer;
  #stopped = false;

  private constructor(label: string, server: import('../test/support/sshd.js').SshdServer) {
    this.label = label;
    this.#server = server;
    this.target = {
      host: server.host,
      port: server.port,
      username: server.username,
      privateKey: server.privateKey,
      hostKey: { fingerprints: [server.hostKeyFingerprint] },
    };
  }

  static async start(spec: HostSpec): Promise<OpenSshDemoHost> {
    const { startSshd } = await import('../test/support/sshd.js');
    return new OpenSshDemoHost(spec.label, await startSshd(spec.maxChannels ? { config: { MaxSessions: spec.maxChannels } } : {}));
  }

  async restart(downMs: number): Promise<void> {
    await this.#server.stop();
    await sleep(downMs);
    if (!this.#stopped) await this.#server.start();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#server.remove().catch(() => {});
  }
}

/** Prepares Docker for the OpenSSH containers, or explains why it cannot. */
function prepareDocker(): void {
  if (!process.env['DOCKER_HOST'] && existsSync('/var/run/docker.sock')) process.env['DOCKER_HOST'] = 'unix:///var/run/docker.sock';
  if (!process.env['DOCKER_HOST']) {
    throw new Error('SSHPOOL_DEMO_SSHD=1 needs a Docker engine (DOCKER_HOST or /var/run/docker.sock); start one with scripts/docker-engine.sh');
  }
  // Idempotent: returns at once when the image is current.
  const build = spawnSync('bash', ['scripts/build-sshd-image.sh'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('building the sshd image failed (scripts/build-sshd-image.sh); see the output above');
}

/** A server to start: its label, and a per-connection channel limit (OpenSSH: `MaxSessions`). */
export interface HostSpec {
  readonly label: string;
  readonly maxChannels?: number;
}

export async function startHosts(kind: 'embedded' | 'openssh', specs: readonly HostSpec[]): Promise<DemoHost[]> {
  if (kind === 'openssh') prepareDocker();
  const hosts: DemoHost[] = [];
  try {
    for (const spec of specs) {
      hosts.push(kind === 'openssh' ? await OpenSshDemoHost.start(spec) : await EmbeddedDemoHost.start(spec));
    }
  } catch (error) {
    await Promise.allSettled(hosts.map((host) => host.stop()));
    throw error;
  }
  return hosts;
}
