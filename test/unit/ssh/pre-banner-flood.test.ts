// What a server may send before its SSH banner: the banner within the first 1,024 lines, none
// over 8 KiB, as `ssh` requires. A hostile server that floods lines (or one endless line) fails the connect at once
// with a ConnectError, having made the client hold nothing.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { $, ConnectError, ConnectTimeoutError, SSHConnectionPool } from '../../../src/index.js';
import { MAX_PRE_BANNER_LINES } from '../../../src/ssh/pre-banner-guard.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

interface Flood {
  readonly port: number;
  /** Bytes written to the client so far. */
  readonly sent: () => number;
  /** Resolves when the client's socket has closed. */
  readonly clientGone: Promise<void>;
}

/** A TCP server that writes `piece` to each client, again and again, as fast as the socket drains. */
async function floodServer(piece: string): Promise<Flood> {
  let sent = 0;
  let markGone!: () => void;
  const clientGone = new Promise<void>((resolve) => (markGone = resolve));
  const chunk = Buffer.from(piece.repeat(64));
  const server: Server = createServer((socket: Socket) => {
    socket.on('error', () => {});
    socket.once('close', markGone);
    const pump = (): void => {
      while (!socket.destroyed && socket.write(chunk)) sent += chunk.length;
      if (!socket.destroyed) {
        sent += chunk.length;
        socket.once('drain', pump);
      }
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, sent: () => sent, clientGone };
}

function newPool(): SSHConnectionPool {
  const pool = new SSHConnectionPool({ connectionTimeout: 20_000, maxRetries: 1 });
  cleanups.push(() => pool.closeAll());
  return pool;
}

async function connectError(port: number): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await $.ssh({ host: '127.0.0.1', port, username: 'u', password: 'p', hostKey: 'off', pool: newPool() })`true`.catch((e: unknown) => e);
  return { error, ms: performance.now() - started };
}

describe('lines before the SSH banner', () => {
  it('regression: a server flooding lines before its banner held the connect until its timeout — it fails at line 1,024, at once', async () => {
    const flood = await floodServer('Welcome to a hostile server\r\n');
    const { error, ms } = await connectError(flood.port);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).not.toBeInstanceOf(ConnectTimeoutError);
    expect((error as ConnectError).message).toContain(`no SSH banner in its first ${MAX_PRE_BANNER_LINES} lines`);
    expect((error as ConnectError).transient).toBe(false);
    expect(ms).toBeLessThan(3_000);
    await flood.clientGone;
    // The client read a bounded amount before it hung up: no more than the socket buffers hold.
    expect(flood.sent()).toBeLessThan(16 * 1024 * 1024);
  });

  it('an endless line before the banner fails past 8 KiB', async () => {
    const flood = await floodServer('x'.repeat(1000));
    const { error, ms } = await connectError(flood.port);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).message).toContain('a line longer than 8192 bytes before its SSH banner');
    expect(ms).toBeLessThan(3_000);
  });

  it('1,023 lines before the banner are accepted, 1,024 refused, as ssh decides', async () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `notice ${i}`).join('\r\n');
    const ok = await new EmbeddedSshServer({ greeting: lines(MAX_PRE_BANNER_LINES - 1) }).start();
    const tooMany = await new EmbeddedSshServer({ greeting: lines(MAX_PRE_BANNER_LINES) }).start();
    cleanups.push(() => ok.stop(), () => tooMany.stop());
    const target = (server: EmbeddedSshServer) => ({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off' as const, pool: newPool() });
    await expect($.ssh(target(ok))`echo fine`).resolves.toMatchObject({ stdout: 'fine\n' });
    await expect($.ssh(target(tooMany))`echo fine`).rejects.toThrow(/no SSH banner in its first 1024 lines/);
    // ssh's own decision on the same server (asynchronously: the server runs in this process).
    const ssh = spawn('ssh', ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-F', 'none', '-p', String(tooMany.port), 'u@127.0.0.1', 'true']);
    let stderr = '';
    ssh.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const status = await new Promise<number | null>((resolve) => ssh.once('exit', resolve));
    expect(status).toBe(255);
    expect(stderr).toContain('No SSH version received in first 1024 lines from server');
  });
});
