// A frozen server (docker pause: TCP stays open, nothing answers) under the pool's long-lived
// channels: tunnels, remote forwards and file transfers. Each must end within the keepalive
// budget with a typed error or a closed socket, never hang, and work again after the thaw.
import { spawn } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, ConnectError, TransferAbortedError, TransferConnectionLostError, TransferTimeoutError } from '../../../src/index.js';
import type { SSHPoolError } from '../../../src/index.js';
import { answersAgain, closed, connected, echoServer, roundTrip } from '../../support/echo-peer.js';
import { startSshd } from '../../support/sshd.js';
import type { SshdServer } from '../../support/sshd.js';
import { failureOf, newPool, targetFor, until, withTimeout } from './shared.js';

const HOME = '/home/tester';
// Detection takes keepAliveInterval × (keepAliveCountMax + 1); the margin is for a loaded machine.
const KEEPALIVE = { keepAliveInterval: 500, keepAliveCountMax: 2 };
const BUDGET_MS = KEEPALIVE.keepAliveInterval * (KEEPALIVE.keepAliveCountMax + 1) + 3_000;

let echo: Server;
let echoPort: number;

beforeAll(async () => {
  echo = await echoServer();
  echoPort = (echo.address() as AddressInfo).port;
});
afterAll(() => {
  echo?.close();
});

/** Runs `body` against a server of its own, thawed and removed afterwards whatever happens. */
async function withServer(body: (server: SshdServer) => Promise<void>): Promise<void> {
  const server = await startSshd();
  try {
    await body(server);
  } finally {
    await server.unpause().catch(() => {});
    await server.remove();
  }
}

describe('a tunnel on a frozen server', () => {
  it('closes the open tunnelled connection within the keepalive budget, refuses new ones while frozen, and carries new ones after the thaw', async () => {
    await withServer(async (server) => {
      const pool = newPool({ ...KEEPALIVE, connectionTimeout: 2_000, acquireTimeout: 3_000, maxRetries: 0 });
      const tunnel = await $.ssh(targetFor(server, pool)).forward({ to: { host: '127.0.0.1', port: echoPort } });
      const errors: SSHPoolError[] = [];
      tunnel.on('error', (error) => errors.push(error));
      try {
        const socket = await connected(tunnel);
        socket.on('error', () => {});
        const echoed = new Promise<void>((resolve) => socket.once('data', () => resolve()));
        socket.write('before');
        await withTimeout(echoed, 20_000, 'the first echo');

        await server.pause();
        const pausedAt = performance.now();
        await withTimeout(closed(socket), BUDGET_MS, 'the tunnelled connection to close on a frozen server');
        console.info(`frozen tunnel: the open connection closed ${Math.round(performance.now() - pausedAt)} ms after the freeze`);

        // A connection accepted while the server is frozen is closed, not left hanging: no
        // connection can be opened, and the tunnel says so with the connect error.
        const during = await connected(tunnel);
        during.on('error', () => {});
        await withTimeout(closed(during), 15_000, 'a connection accepted during the freeze to close');
        await until(() => errors.length > 0, 5_000, 'the tunnel error event');
        expect(errors[0]).toBeInstanceOf(ConnectError);

        await server.unpause();
        await answersAgain(tunnel, 'after the thaw', 30_000, 'the tunnel to carry again after the thaw');
        // Nothing stays stuck: the polls still in flight end too.
        await until(() => tunnel.connections === 0, 15_000, 'every tunnelled connection to end');
      } finally {
        await tunnel.close();
      }
    });
  }, 120_000);
});

describe('a remote forward on a frozen server', () => {
  it('binds the same server port again once the server thaws', async () => {
    await withServer(async (server) => {
      const pool = newPool({ ...KEEPALIVE, connectionTimeout: 2_000, reconnect: { initialDelay: 200, maxDelay: 1_000 } });
      const tunnel = await $.ssh(targetFor(server, pool)).forwardRemote({ to: { host: '127.0.0.1', port: echoPort } });
      try {
        const port = tunnel.port;
        expect((await roundTrip(tunnel, 'before')).toString()).toBe('before');
        const connectionsBefore = pool.getStats().totalConnections;
        expect(connectionsBefore).toBe(1);

        await server.pause();
        // The frozen connection is dropped within the keepalive budget.
        await until(() => pool.getStats().totalConnections === 0, BUDGET_MS, 'the frozen connection dropped');
        await server.unpause();
        // The frozen session's sshd process lets go of the port once it sees the old
        // connection closed; until then a re-bind is refused and retried with backoff.
        await answersAgain({ host: '127.0.0.1', port }, 'after the thaw', 60_000, 'the forwarded port to answer again after the thaw');
        expect(tunnel.port).toBe(port);
      } finally {
        await tunnel.close();
      }
    });
  }, 120_000);
});

describe('file transfers on a frozen server', () => {
  it('an upload cut off by a freeze fails with TransferConnectionLostError within the keepalive budget, and leaves no file behind once the server thaws', async () => {
    await withServer(async (server) => {
      const pool = newPool({ ...KEEPALIVE, connectionTimeout: 5_000, maxConnections: 1 });
      const ssh = $.ssh(targetFor(server, pool));
      await ssh.writeFile(`${HOME}/warm`, 'x');
      let frozen: Promise<void> | undefined;
      let frozenAt = 0;
      const endless = new Readable({
        read() {
          setTimeout(() => this.push(Buffer.alloc(64 * 1024, 0x61)), 2);
        },
      });
      const error = await withTimeout(failureOf(ssh.upload(endless, `${HOME}/cut off`, {
        onProgress: ({ transferred }) => {
          if (transferred < 1024 * 1024 || frozen) return;
          frozen = server.pause().then(() => void (frozenAt = performance.now()));
        },
      })), 60_000, 'the upload on a frozen server');
      await frozen;
      expect(error).toBeInstanceOf(TransferConnectionLostError);
      console.info(`frozen upload: failed ${Math.round(performance.now() - frozenAt)} ms after the freeze`);
      await server.unpause();
      await expect(withTimeout(ssh.readFile(`${HOME}/warm`, 'utf8'), 30_000, 'a transfer after the thaw')).resolves.toBe('x');
      // Neither the target nor the temporary file is left: the pool removes an upload's
      // temporary file on its next SFTP session to the host when the lost one could not.
      const listing = (await ssh`ls -A ${HOME}`).stdout;
      expect(listing).not.toMatch(/^cut off$/m);
      expect(listing).not.toMatch(/sshpool-tmp/);
    });
  }, 120_000);

  it('a download cut off by a freeze fails with TransferConnectionLostError, and the Writable it wrote to is not ended as if complete', async () => {
    await withServer(async (server) => {
      const pool = newPool({ ...KEEPALIVE, connectionTimeout: 5_000, maxConnections: 1 });
      const ssh = $.ssh(targetFor(server, pool));
      await ssh`head -c 67108864 /dev/zero > ${HOME}/big`;
      let received = 0;
      let frozen: Promise<void> | undefined;
      let finished = false;
      // A slow reader: the freeze lands while most of the file is still on the server.
      const slow = new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _encoding, done) {
          received += chunk.length;
          if (received >= 1024 * 1024) frozen ??= server.pause();
          setTimeout(done, 5);
        },
        final(done) {
          finished = true;
          done();
        },
      });
      slow.on('error', () => {});
      const error = await withTimeout(failureOf(ssh.download(`${HOME}/big`, slow)), 60_000, 'the download on a frozen server');
      await frozen;
      expect(error).toBeInstanceOf(TransferConnectionLostError);
      expect(finished).toBe(false);
      expect(received).toBeLessThan(64 * 1024 * 1024);
      await server.unpause();
      const after = await withTimeout(ssh.readFile(`${HOME}/big`), 60_000, 'the whole file after the thaw');
      expect(after.length).toBe(64 * 1024 * 1024);
    });
  }, 120_000);

  it('a transfer started on a frozen server ends at its timeout or its abort signal, with nothing to wait for', async () => {
    await withServer(async (server) => {
      // Keepalives far apart: the transfer's own timeout and signal must end it, not a lost connection.
      const pool = newPool({ keepAliveInterval: 60_000, connectionTimeout: 5_000, maxConnections: 1 });
      const ssh = $.ssh(targetFor(server, pool));
      await ssh.writeFile(`${HOME}/warm`, 'x');
      await server.pause();
      const started = performance.now();
      const timedOut = await withTimeout(failureOf(ssh.readFile(`${HOME}/warm`, undefined, { timeout: 500 })), 10_000, 'readFile with a timeout');
      const upload = new PassThrough();
      upload.end(Buffer.alloc(1024));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 500);
      const aborted = await withTimeout(failureOf(ssh.upload(upload, `${HOME}/never`, { signal: controller.signal })), 10_000, 'an aborted upload');
      const elapsed = performance.now() - started;
      console.info(`frozen transfers: both ended ${Math.round(elapsed)} ms after they started`);
      // Each: its 500 ms, then 2 s for the silent server to answer before its channel is ended.
      expect(elapsed).toBeLessThan(10_000);
      expect(timedOut).toBeInstanceOf(TransferTimeoutError);
      expect(aborted).toBeInstanceOf(TransferAbortedError);
    });
  }, 120_000);

  it('a script whose transfer timed out on a frozen server exits by itself: the ended channel does not hold the process', async () => {
    await withServer(async (server) => {
      const run = await scriptFrozenMidway(server, 'frozen-transfer', 'warm');
      console.info(`frozen transfer script: exited ${Math.round(run.afterFreezeMs)} ms after the freeze`);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe('warm\nfailed ERR_SSHPOOL_TRANSFER_TIMEOUT\n');
    });
  }, 120_000);
});

describe('process lifetime on a frozen server', () => {
  it('a script that closes its tunnels while the server is frozen exits by itself', async () => {
    await withServer(async (server) => {
      const run = await scriptFrozenMidway(server, 'frozen-forwards', 'open');
      console.info(`frozen forwards script: exited ${Math.round(run.afterFreezeMs)} ms after the freeze`);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe('open\nclosed\n');
    });
  }, 120_000);
});

/**
 * Runs a mode of the lifetime script (no closeAll()) against `server`: once it prints `ready`,
 * freezes the server and tells the script to go on (a line on its stdin); resolves when it exits.
 */
async function scriptFrozenMidway(server: SshdServer, mode: string, ready: string) {
  const root = join(import.meta.dirname, '..', '..', '..');
  // Keepalives far apart: the process must not be waiting for them to end.
  const target = { ...targetFor(server, undefined), poolConfig: { keepAliveInterval: 60_000, idleTimeout: 60_000 } };
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/integration/faults/fixtures/lifetime-script.ts')], {
    cwd: root,
    env: { ...process.env, SSHPOOL_LIFETIME_MODE: mode, SSHPOOL_LIFETIME_TARGET: JSON.stringify(target), SSHPOOL_LIFETIME_PORT: String(echoPort) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await until(() => stdout.includes(ready) || child.exitCode !== null, 40_000, `the script to print "${ready}"`);
    expect(stdout, stderr).toBe(`${ready}\n`);
    await server.pause();
    const frozenAt = performance.now();
    child.stdin.end('go\n');
    const code = await withTimeout(exited, 30_000, () => `the script to exit (stdout: ${stdout}, stderr: ${stderr})`);
    return { code, stdout, stderr, afterFreezeMs: performance.now() - frozenAt };
  } finally {
    child.kill('SIGKILL');
  }
}
