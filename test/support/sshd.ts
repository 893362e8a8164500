// Real OpenSSH servers for integration tests, one Docker container each.
//
// Containers use host networking and sshd binds 127.0.0.1:<port> itself, so a
// test talks to the exact port it was given and a stopped server can come
// back on the same port with the same host key: that is what reconnect and
// host-key tests need, and what published (NAT-ed) ports would get in the way of.
//
//   const server = await startSshd({ config: { MaxSessions: 2 } });
//   const client = new Client().connect({
//     host: server.host, port: server.port, username: server.username,
//     privateKey: server.privateKey,
//   });
//   ...
//   await server.kill();   // or stop(), pause(), restart(), remove()
//
// Every server is removed after its test file (test/support/setup-integration.ts)
// and, as a last resort, by the global teardown, which finds containers by label.

import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import { generateKeyPair } from './generate-key-pair.js';
import { GenericContainer, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import {
  applyTestcontainersDefaults,
  CONTAINER_LOG,
  ENV_OWNER_PID,
  ENV_RUN_ID,
  ENV_STATE_DIR,
  ENV_UNAVAILABLE,
  LABEL_OWNER_HOST,
  LABEL_OWNER_PID,
  LABEL_RUN,
  LABEL_TEST,
  SSHD_IMAGE,
} from './env.js';

export interface SshdOptions {
  /** extra sshd_config lines, e.g. { MaxSessions: 2, MaxStartups: '2:30:10', PasswordAuthentication: 'yes' } */
  config?: Record<string, string | number>;
  /** reuse a given host key (OpenSSH private key text); default: a fresh ed25519 key per server */
  hostKey?: string;
  /** further host keys (OpenSSH private key texts, e.g. ecdsa, rsa), offered after `hostKey` */
  extraHostKeys?: string[];
  /** listen on this port instead of a free one (to replace a server on the same port) */
  port?: number;
  /** extra public keys ('ssh-ed25519 AAAA...') authorised for the test user, besides `privateKey`'s */
  authorizedKeys?: string[];
  /** how long start-up may take before startSshd() rejects; default 30 s */
  startTimeoutMs?: number;
}

export interface SshdServer {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** password auth works unless the config sets PasswordAuthentication no; keys always work */
  readonly password: string;
  /** OpenSSH-format client private key authorised for username */
  readonly privateKey: string;
  /** public half of privateKey, 'ssh-ed25519 AAAA...' */
  readonly publicKey: string;
  /** server host private key text (to start a replacement with the same key) */
  readonly hostKey: string;
  /** 'SHA256:...' like ssh-keygen -lf */
  readonly hostKeyFingerprint: string;
  /** '[127.0.0.1]:PORT ssh-ed25519 AAAA...' line for a known_hosts file */
  readonly knownHostsLine: string;
  readonly containerId: string;
  /** the sshd_config the server runs with */
  readonly sshdConfig: string;
  /** run a command inside the container (not over ssh), as root unless `user` is given */
  exec(command: string[], options?: { user?: string }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** sshd's own log (it runs with -e, so everything it logs lands here) */
  logs(): Promise<string>;
  /** graceful stop; start() brings it back on the same port with the same host key */
  stop(): Promise<void>;
  /** start again after stop()/kill(); resolves when the port accepts connections and sends the SSH banner */
  start(): Promise<void>;
  /** SIGKILL the container: established TCP connections are closed with no SSH goodbye */
  kill(): Promise<void>;
  /** freeze every process (docker pause): TCP stays open, nothing answers */
  pause(): Promise<void>;
  unpause(): Promise<void>;
  /** stop + start */
  restart(): Promise<void>;
  /** stop and remove the container for good (idempotent) */
  remove(): Promise<void>;
}

export const TEST_USERNAME = 'tester';
/** Baked into the image (scripts/build-sshd-image.sh, test/sshd/Dockerfile). */
export const TEST_PASSWORD = 'tester-password';
export const SSHD_HOST = '127.0.0.1';
/**
 * Users of the image whose login shell is the one named (tester's is bash), for tests that a
 * command means the same whatever the login shell. The server's `privateKey` logs them in.
 */
export const LOGIN_SHELL_USERS = { bash: TEST_USERNAME, dash: 'dash-user', zsh: 'zsh-user', fish: 'fish-user' } as const;

/**
 * Users of the image for sudo (scripts/build-sshd-image.sh): `password` must give its sudo
 * password, `nopasswd` needs none, `none` is not in sudoers (its password is `nosudo-user-password`).
 * The server's `privateKey` logs them in.
 */
export const SUDO_USERS = {
  password: { username: 'sudo-user', password: 'sudo-user-password' },
  nopasswd: { username: 'nopasswd-user' },
  none: { username: 'nosudo-user', password: 'nosudo-user-password' },
} as const;

const CONFIG_DIR = '/etc/ssh/sshpool';
const CONFIG_FILE = `${CONFIG_DIR}/sshd_config`;
const HOST_KEY_FILE = `${CONFIG_DIR}/ssh_host_ed25519_key`;
const AUTHORIZED_KEYS_DIR = `${CONFIG_DIR}/authorized_keys`;

// The fixture owns these: they define where the server is and how it finds its keys.
const RESERVED_KEYWORDS = new Set(['port', 'listenaddress', 'hostkey', 'authorizedkeysfile', 'pidfile']);

const DEFAULT_CONFIG: Record<string, string | number> = {
  LogLevel: 'INFO',
  PubkeyAuthentication: 'yes',
  PasswordAuthentication: 'yes',
  KbdInteractiveAuthentication: 'no',
  // Without PAM, sshd checks passwords against /etc/shadow itself.
  UsePAM: 'no',
  PermitRootLogin: 'no',
  PrintMotd: 'no',
  PrintLastLog: 'no',
  UseDNS: 'no',
  StrictModes: 'yes',
  Subsystem: 'sftp /usr/lib/openssh/sftp-server',
};

type RuntimeClient = Awaited<ReturnType<typeof getContainerRuntimeClient>>;
type DockerContainer = ReturnType<RuntimeClient['container']['dockerode']['getContainer']>;

const live = new Set<SshdServerImpl>();
/** Ports handed out by this process, kept even while their server is stopped so it can come back. */
const reservedPorts = new Set<number>();

applyTestcontainersDefaults();

export async function startSshd(options: SshdOptions = {}): Promise<SshdServer> {
  const unavailable = process.env[ENV_UNAVAILABLE];
  if (unavailable) throw new Error(unavailable);

  const hostKey = options.hostKey ?? generateKeyPair('sshpool-test-host').private;
  const hostPublicBlob = publicBlobOf(hostKey, 'hostKey');
  const client = generateKeyPair('sshpool-test-client');
  const authorized = [client.public, ...(options.authorizedKeys ?? [])].join('\n') + '\n';

  const attempts = options.port === undefined ? 5 : 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = options.port ?? (await pickFreePort());
    reservedPorts.add(port);
    const sshdConfig = buildConfig(port, options.config ?? {}, (options.extraHostKeys ?? []).map((_, i) => extraHostKeyFile(i)));
    try {
      const { started, docker } = await createContainer(port, sshdConfig, hostKey, authorized, options);
      const server = new SshdServerImpl({
        port,
        privateKey: client.private,
        publicKey: client.public,
        hostKey,
        hostPublicBlob,
        sshdConfig,
        started,
        docker,
      });
      live.add(server);
      return server;
    } catch (error) {
      lastError = error;
      // Another process may grab the port between our probe and sshd's bind.
      const portTaken = error instanceof SshdStartError && /Address already in use/.test(error.logs);
      if (!portTaken || options.port !== undefined) throw error;
    }
  }
  throw lastError;
}

/** Removes every server this process started; registered as an afterAll hook for each test file. */
export async function removeAllSshd(): Promise<void> {
  await Promise.allSettled([...live].map((server) => server.remove()));
}

/** ssh-keygen style fingerprint of a public key blob. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

export class SshdStartError extends Error {
  constructor(
    message: string,
    readonly logs: string,
  ) {
    super(`${message}\n--- sshd output ---\n${logs.trim() || '(empty)'}`);
    this.name = 'SshdStartError';
  }
}

interface ServerParts {
  port: number;
  privateKey: string;
  publicKey: string;
  hostKey: string;
  hostPublicBlob: Buffer;
  sshdConfig: string;
  started: StartedTestContainer;
  docker: DockerContainer;
}

class SshdServerImpl implements SshdServer {
  readonly host = SSHD_HOST;
  readonly username = TEST_USERNAME;
  readonly password = TEST_PASSWORD;
  readonly port: number;
  readonly privateKey: string;
  readonly publicKey: string;
  readonly hostKey: string;
  readonly hostKeyFingerprint: string;
  readonly knownHostsLine: string;
  readonly containerId: string;
  readonly sshdConfig: string;
  readonly #started: StartedTestContainer;
  readonly #docker: DockerContainer;
  #removed = false;

  constructor(parts: ServerParts) {
    this.port = parts.port;
    this.privateKey = parts.privateKey;
    this.publicKey = parts.publicKey;
    this.hostKey = parts.hostKey;
    this.hostKeyFingerprint = fingerprintOf(parts.hostPublicBlob);
    this.knownHostsLine = `[${SSHD_HOST}]:${parts.port} ssh-ed25519 ${parts.hostPublicBlob.toString('base64')}`;
    this.sshdConfig = parts.sshdConfig;
    this.#started = parts.started;
    this.#docker = parts.docker;
    this.containerId = parts.started.getId();
  }

  async exec(command: string[], options: { user?: string } = {}) {
    this.#assertNotRemoved();
    const result = await this.#started.exec(command, options.user ? { user: options.user } : {});
    return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
  }

  async logs(): Promise<string> {
    return readLogs(this.#docker);
  }

  async stop(): Promise<void> {
    this.#assertNotRemoved();
    // sshd exits on SIGTERM; as PID 1 its exit takes every session process with it.
    await ignoreStatus(this.#docker.stop({ t: 5 }), 304);
  }

  async start(): Promise<void> {
    this.#assertNotRemoved();
    const before = countListening(await readLogs(this.#docker), this.port);
    const begin = performance.now();
    await ignoreStatus(this.#docker.start(), 304);
    await waitUntilReady(this.#docker, this.port, { listeningBefore: before, timeoutMs: 30_000, logsAtInfo: logsAtInfo(this.sshdConfig) });
    recordEvent('start', this.containerId, this.port, performance.now() - begin);
  }

  async kill(): Promise<void> {
    this.#assertNotRemoved();
    await ignoreStatus(this.#docker.kill({ signal: 'SIGKILL' }), 409);
    await this.#docker.wait({ condition: 'not-running' });
  }

  async pause(): Promise<void> {
    this.#assertNotRemoved();
    // runc freezes the container's cgroup (v1 freezer here) and gives up with "unable to
    // freeze" when a process keeps it in FREEZING too long (seen on a machine with a load of
    // 37, sshd forking sessions); it thaws the container before it reports that, so freezing
    // again is a clean second try. Any other failure is thrown at once.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#docker.pause();
        return;
      } catch (error) {
        if (attempt >= 5 || !/unable to freeze/.test(String((error as Error).message))) throw error;
        recordEvent('pause-retry', this.containerId, this.port, 0);
      }
    }
  }

  async unpause(): Promise<void> {
    this.#assertNotRemoved();
    await this.#docker.unpause();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    live.delete(this);
    // 404: already gone; 409: removal already in progress.
    await ignoreStatus(this.#docker.remove({ force: true, v: true }), 404, 409);
    // The port stays reserved: a test may still start a replacement on it.
  }

  #assertNotRemoved(): void {
    if (this.#removed) throw new Error(`sshd on port ${this.port} was removed`);
  }
}

async function createContainer(
  port: number,
  sshdConfig: string,
  hostKey: string,
  authorizedKeys: string,
  options: SshdOptions,
): Promise<{ started: StartedTestContainer; docker: DockerContainer }> {
  const begin = performance.now();
  const started = await new GenericContainer(SSHD_IMAGE)
    .withNetworkMode('host')
    .withLabels({
      [LABEL_TEST]: '1',
      [LABEL_RUN]: process.env[ENV_RUN_ID] ?? `pid-${process.pid}`,
      [LABEL_OWNER_PID]: process.env[ENV_OWNER_PID] ?? String(process.pid),
      [LABEL_OWNER_HOST]: hostname(),
      'sshpool.port': String(port),
    })
    .withCopyContentToContainer([
      { content: sshdConfig, target: CONFIG_FILE, mode: 0o644 },
      // sshd refuses host keys readable by anyone but root.
      { content: ensureTrailingNewline(hostKey), target: HOST_KEY_FILE, mode: 0o600 },
      { content: authorizedKeys, target: `${AUTHORIZED_KEYS_DIR}/${TEST_USERNAME}`, mode: 0o644 },
      // The same key logs in as root where a test allows it (config PermitRootLogin).
      { content: authorizedKeys, target: `${AUTHORIZED_KEYS_DIR}/root`, mode: 0o644 },
      // ...and as the users with other login shells.
      ...[...Object.values(LOGIN_SHELL_USERS), ...Object.values(SUDO_USERS).map((user) => user.username)]
        .filter((user) => user !== TEST_USERNAME)
        .map((user) => ({ content: authorizedKeys, target: `${AUTHORIZED_KEYS_DIR}/${user}`, mode: 0o644 })),
      ...(options.extraHostKeys ?? []).map((key, i) => ({ content: ensureTrailingNewline(key), target: extraHostKeyFile(i), mode: 0o600 })),
    ])
    // -D: stay in the foreground as PID 1; -e: log to stderr, i.e. to `docker logs`.
    .withCommand(['/usr/sbin/sshd', '-D', '-e', '-f', CONFIG_FILE])
    .start();
  const runtime = await getContainerRuntimeClient();
  const docker = runtime.container.dockerode.getContainer(started.getId());
  try {
    await waitUntilReady(docker, port, { listeningBefore: 0, timeoutMs: options.startTimeoutMs ?? 30_000, logsAtInfo: logsAtInfo(sshdConfig) });
  } catch (error) {
    recordEvent('failed', started.getId(), port, performance.now() - begin);
    await ignoreStatus(docker.remove({ force: true, v: true }), 404, 409);
    throw error;
  }
  recordEvent('create', started.getId(), port, performance.now() - begin);
  return { started, docker };
}

function extraHostKeyFile(index: number): string {
  return `${CONFIG_DIR}/ssh_host_extra_${index}_key`;
}

function buildConfig(port: number, extra: Record<string, string | number>, extraHostKeyFiles: string[] = []): string {
  const merged = new Map<string, [string, string | number]>();
  for (const [key, value] of Object.entries(DEFAULT_CONFIG)) merged.set(key.toLowerCase(), [key, value]);
  for (const [key, value] of Object.entries(extra)) {
    if (RESERVED_KEYWORDS.has(key.toLowerCase())) {
      throw new Error(`sshd option ${key} is set by the fixture; use SshdOptions.port / hostKey / authorizedKeys instead`);
    }
    if (/[\r\n]/.test(String(value))) throw new Error(`sshd option ${key} must be a single line`);
    merged.set(key.toLowerCase(), [key, value]);
  }
  // sshd takes the first value it reads for most keywords, so each keyword is
  // written exactly once, with the caller's value replacing the default.
  const lines = [
    `Port ${port}`,
    `ListenAddress ${SSHD_HOST}`,
    `HostKey ${HOST_KEY_FILE}`,
    ...extraHostKeyFiles.map((file) => `HostKey ${file}`),
    `AuthorizedKeysFile ${AUTHORIZED_KEYS_DIR}/%u`,
    'PidFile none',
    ...[...merged.values()].map(([key, value]) => `${key} ${value}`),
  ];
  return lines.join('\n') + '\n';
}

interface ReadyCheck {
  /** "Server listening" lines already in the log before this start */
  listeningBefore: number;
  timeoutMs: number;
  /** false when the config's LogLevel hides INFO lines, so the log cannot be used */
  logsAtInfo: boolean;
}

/**
 * Waits for this start's "Server listening" line (so a foreign listener that
 * happens to hold the port cannot fool the check), then for a real SSH banner.
 */
async function waitUntilReady(docker: DockerContainer, port: number, check: ReadyCheck): Promise<void> {
  const deadline = Date.now() + check.timeoutMs;
  for (;;) {
    const logs = await readLogs(docker);
    if (check.logsAtInfo && countListening(logs, port) > check.listeningBefore) break;
    const state = (await docker.inspect()).State;
    if (!state.Running && !state.Restarting) {
      throw new SshdStartError(`sshd container exited with code ${state.ExitCode} before listening on ${SSHD_HOST}:${port}`, logs);
    }
    if (!check.logsAtInfo) {
      try {
        await readBanner(port, 1_000);
        return;
      } catch {
        // Not listening yet.
      }
    }
    if (Date.now() > deadline) {
      throw new SshdStartError(`sshd did not listen on ${SSHD_HOST}:${port} within ${check.timeoutMs} ms`, logs);
    }
    await sleep(20);
  }
  const probePort = await readBanner(port, Math.max(1_000, deadline - Date.now()));
  // The probe connection occupies one of sshd's MaxStartups slots until its
  // pre-auth child exits. Wait for that, so tests that count unauthenticated
  // connections start from zero.
  const settleBy = Date.now() + 2_000;
  while (Date.now() < settleBy) {
    if ((await readLogs(docker)).includes(`${SSHD_HOST} port ${probePort}`)) return;
    await sleep(20);
  }
}

function readBanner(port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: SSHD_HOST, port });
    let received = '';
    let localPort = 0;
    const timer = setTimeout(() => finish(new Error(`no SSH banner from ${SSHD_HOST}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(localPort);
    };
    socket.on('connect', () => {
      localPort = socket.localPort ?? 0;
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('\n')) {
        if (received.startsWith('SSH-2.0-')) finish();
        else finish(new Error(`unexpected banner from ${SSHD_HOST}:${port}: ${JSON.stringify(received.slice(0, 80))}`));
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`${SSHD_HOST}:${port} closed the connection before its banner`)));
  });
}

function logsAtInfo(sshdConfig: string): boolean {
  const level = /^LogLevel\s+(\S+)/im.exec(sshdConfig)?.[1] ?? 'INFO';
  return !/^(QUIET|FATAL|ERROR)$/i.test(level);
}

function countListening(logs: string, port: number): number {
  return logs.split(`Server listening on ${SSHD_HOST} port ${port}.`).length - 1;
}

/** Docker multiplexes stdout/stderr for non-TTY containers: 8-byte frame headers precede each chunk. */
async function readLogs(docker: DockerContainer): Promise<string> {
  const raw: unknown = await docker.logs({ stdout: true, stderr: true, follow: false });
  const buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw));
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * A free port from a slice of 20000-31999 chosen by the vitest worker id, so
 * the workers of one run never race for the same port (another run on the
 * same machine is offset by its main process id), and below Linux's ephemeral
 * range (32768+), so client sockets cannot occupy it while a server is stopped.
 */
async function pickFreePort(): Promise<number> {
  const slices = 6;
  const sliceSize = 2_000;
  const worker = Number.parseInt(process.env.VITEST_POOL_ID ?? '', 10);
  const run = Number.parseInt(process.env[ENV_OWNER_PID] ?? '', 10);
  const slice = Number.isFinite(worker)
    ? (worker + (Number.isFinite(run) ? run : 0)) % slices
    : Math.floor(Math.random() * slices);
  const base = 20_000 + slice * sliceSize;
  for (let i = 0; i < 200; i++) {
    const port = base + Math.floor(Math.random() * sliceSize);
    if (reservedPorts.has(port)) continue;
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found in ${base}-${base + sliceSize - 1}`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: SSHD_HOST, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function publicBlobOf(privateKeyText: string, what: string): Buffer {
  const parsed = ssh2.utils.parseKey(privateKeyText);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error(`${what} is not a usable private key: ${key instanceof Error ? key.message : 'empty'}`);
  return key.getPublicSSH();
}

function ensureTrailingNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

async function ignoreStatus(operation: Promise<unknown>, ...statuses: number[]): Promise<void> {
  try {
    await operation;
  } catch (error) {
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && statuses.includes(status)) return;
    throw error;
  }
}

function recordEvent(kind: 'create' | 'failed' | 'start' | 'pause-retry', containerId: string, port: number, ms: number): void {
  const dir = process.env[ENV_STATE_DIR];
  if (!dir) return;
  appendFileSync(join(dir, CONTAINER_LOG), `${kind} ${containerId.slice(0, 12)} ${port} ${Math.round(ms)}\n`);
}
