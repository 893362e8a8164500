// Checks the sshd fixture itself with a bare ssh2 client, independent of the
// library, so a failure here points at the test infrastructure, not at sshpool.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2, { type Client as SshClient, type ConnectConfig } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf, startSshd, type SshdServer } from '../support/sshd.js';

const { Client } = ssh2;

interface Connection {
  client: SshClient;
  /** fingerprint of the host key the server presented */
  fingerprint: string;
}

function connect(server: SshdServer, config: Partial<ConnectConfig> = { privateKey: server.privateKey }): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let fingerprint = '';
    client.once('ready', () => resolve({ client, fingerprint }));
    client.once('error', reject);
    client.connect({
      host: server.host,
      port: server.port,
      username: server.username,
      readyTimeout: 10_000,
      hostVerifier: (key: Buffer) => {
        fingerprint = fingerprintOf(key);
        return true;
      },
      ...config,
    });
  });
}

function run(client: SshClient, command: string): Promise<{ stdout: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(error);
      let stdout = '';
      stream.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      stream.stderr.resume();
      stream.on('close', (code: number | null) => resolve({ stdout, code }));
    });
  });
}

/** Opens a TCP connection and returns the first line sshd sends ('' if it closed without one). */
function rawBanner(port: number): Promise<{ socket: net.Socket; banner: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\n')) resolve({ socket, banner: received.trim() });
    });
    socket.on('close', () => resolve({ socket, banner: received.trim() }));
    socket.on('error', reject);
  });
}

/** Connects until sshd answers with its SSH banner or the deadline passes; returns the last answer. */
async function firstBannerWithin(port: number, timeoutMs: number): Promise<{ socket: net.Socket; banner: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await rawBanner(port);
    if (answer.banner.startsWith('SSH-2.0-') || Date.now() > deadline) return answer;
    answer.socket.destroy();
    await sleep(50);
  }
}

function closed(client: SshClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

describe('sshd fixture', () => {
  let server: SshdServer;

  beforeAll(async () => {
    server = await startSshd();
  });

  afterAll(async () => {
    await server?.remove();
  });

  it('accepts the client key and runs commands', async () => {
    const { client, fingerprint } = await connect(server);
    try {
      expect(await run(client, 'echo hi')).toEqual({ stdout: 'hi\n', code: 0 });
      expect(await run(client, 'exit 3')).toMatchObject({ code: 3 });
      expect(fingerprint).toBe(server.hostKeyFingerprint);
    } finally {
      client.end();
    }
  });

  it('accepts the password and rejects a wrong one', async () => {
    const { client } = await connect(server, { password: server.password });
    try {
      expect((await run(client, 'whoami')).stdout).toBe('tester\n');
    } finally {
      client.end();
    }
    await expect(connect(server, { password: 'not-the-password' })).rejects.toThrow(/authentication methods failed/);
  });

  it('describes itself consistently', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(server.knownHostsLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.port} ssh-ed25519 AAAA[A-Za-z0-9+/=]+$`));
    expect(server.privateKey).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(await server.exec(['id', '-un'])).toMatchObject({ stdout: 'root\n', exitCode: 0 });
    expect(await server.exec(['sh', '-c', 'id -un; exit 4'], { user: 'tester' })).toMatchObject({ stdout: 'tester\n', exitCode: 4 });
  });

  it('enforces MaxSessions from the config', async () => {
    const limited = await startSshd({ config: { MaxSessions: 1 } });
    const { client } = await connect(limited);
    try {
      const first = new Promise<void>((resolve, reject) => client.exec('sleep 30', (error) => (error ? reject(error) : resolve())));
      await first;
      await expect(run(client, 'echo second')).rejects.toThrow(/open failed|Channel open failure/i);
    } finally {
      client.end();
      await limited.remove();
    }
  });

  it('enforces MaxStartups: past the limit a connection gets a notice instead of a banner', async () => {
    const limited = await startSshd({ config: { MaxStartups: 1 } });
    // sshd frees a pre-auth slot only when it reaps the child that held it, a
    // moment after that child logs its close; the fixture's readiness probe can
    // still hold the only slot, so the first connection is retried until then.
    const first = await firstBannerWithin(limited.port, 3_000);
    try {
      expect(first.banner).toMatch(/^SSH-2\.0-OpenSSH/);
      // The only pre-auth slot is taken: sshd answers the next connection with
      // a plain-text notice instead of its banner, then closes it.
      const second = await rawBanner(limited.port);
      second.socket.destroy();
      expect(second.banner).toBe('Exceeded MaxStartups');
    } finally {
      first.socket.destroy();
      await limited.remove();
    }
  });

  it('comes back on the same port with the same host key after stop/start', async () => {
    const { port, hostKeyFingerprint } = server;
    await server.stop();
    await expect(connect(server)).rejects.toThrow(/ECONNREFUSED/);
    await server.start();
    expect(server.port).toBe(port);
    const { client, fingerprint } = await connect(server);
    try {
      expect(fingerprint).toBe(hostKeyFingerprint);
      expect((await run(client, 'echo back')).stdout).toBe('back\n');
    } finally {
      client.end();
    }
  });

  it('drops established connections on kill', async () => {
    const { client } = await connect(server);
    const gone = closed(client);
    client.on('error', () => {});
    await server.kill();
    await expect(Promise.race([gone.then(() => 'closed'), sleep(5_000, 'still open')])).resolves.toBe('closed');
    await server.start();
    const again = await connect(server);
    again.client.end();
  });

  it('freezes on pause and resumes on unpause', async () => {
    const { client } = await connect(server);
    try {
      await server.pause();
      const pending = run(client, 'echo late');
      await expect(Promise.race([pending, sleep(1_000, 'no answer')])).resolves.toBe('no answer');
      await server.unpause();
      await expect(pending).resolves.toEqual({ stdout: 'late\n', code: 0 });
    } finally {
      client.end();
    }
  });

  it('runs several servers at once on different ports', async () => {
    const [a, b] = await Promise.all([startSshd(), startSshd()]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.hostKeyFingerprint).not.toBe(b.hostKeyFingerprint);
      const [ca, cb] = await Promise.all([connect(a), connect(b)]);
      expect((await run(ca.client, 'echo a')).stdout).toBe('a\n');
      expect((await run(cb.client, 'echo b')).stdout).toBe('b\n');
      ca.client.end();
      cb.client.end();
    } finally {
      await Promise.all([a.remove(), b.remove()]);
    }
  });

  it('lets a replacement server take over the port and host key', async () => {
    const original = await startSshd();
    await original.remove();
    await original.remove();
    const replacement = await startSshd({ port: original.port, hostKey: original.hostKey });
    try {
      expect(replacement.hostKeyFingerprint).toBe(original.hostKeyFingerprint);
      const { client, fingerprint } = await connect(replacement);
      expect(fingerprint).toBe(original.hostKeyFingerprint);
      client.end();
    } finally {
      await replacement.remove();
    }
  });
});
