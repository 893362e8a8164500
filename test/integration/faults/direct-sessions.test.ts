// Direct sessions against real OpenSSH: commands on prepared sessions (spares, and fresh opens
// without a terminal) run on DirectSessions, which carry stdin beyond the server's window, large
// outputs, exit signals, cancellation with the process-group kill (root and non-root logins),
// MaxSessions 2, and a server that dies in the middle, as ssh2's own channels did.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { $, AbortedError, ConnectionLostError } from '../../../src/index.js';
import { DirectSession } from '../../../src/ssh/direct-session.js';
import { startSshd } from '../../support/sshd.js';
import type { SshdServer } from '../../support/sshd.js';
import { newPool, settleAll, targetFor, until } from './shared.js';

const MiB = 1024 * 1024;

afterEach(() => {
  vi.restoreAllMocks();
});

/** Counts the commands that ran on a DirectSession: each one's stdin is ended exactly once. */
function countDirectCommands(): () => number {
  const end = vi.spyOn(DirectSession.prototype, 'end');
  return () => end.mock.calls.length;
}

/** Processes in the server's container whose command line contains `needle` (the image has no pgrep). */
async function processesMatching(server: SshdServer, needle: string): Promise<number> {
  const { stdout } = await server.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done']);
  return stdout.split('\n').map((line) => line.replaceAll('\0', ' ').trim()).filter((line) => line.includes(needle) && !line.includes('/proc/')).length;
}

describe('direct sessions on OpenSSH', () => {
  it('MaxSessions 2, non-root: two at a time, each sending 5 MiB of stdin and receiving 8 MiB of output, all whole', async () => {
    const server = await startSshd({ config: { MaxSessions: 2 } });
    expect(server.username).not.toBe('root');
    const direct = countDirectCommands();
    const pool = newPool({ maxConnections: 1, maxChannelsPerConnection: 2 });
    const ssh = $.ssh(targetFor(server, pool));
    const stdin = Buffer.alloc(5 * MiB, 0x62);
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => (
      ssh`wc -c; head -c ${8 * MiB} /dev/zero | tr '\\0' ${String.fromCharCode(0x61 + i)}`.stdin(stdin).maxBuffer(16 * MiB).timeout(60_000)
    )));
    results.forEach((result, i) => {
      const [count, ...rest] = result.stdout.split('\n');
      expect(count!.trim()).toBe(String(stdin.length));
      const output = rest.join('\n');
      expect(output.length).toBe(8 * MiB);
      expect(output).toBe(String.fromCharCode(0x61 + i).repeat(8 * MiB));
    });
    expect(direct()).toBe(4);
    expect(pool.getStats()).toMatchObject({ totalConnections: 1, openChannels: 0 });
    await pool.closeAll();
  });

  for (const login of ['root', 'tester'] as const) {
    it(`an aborted command on a direct session has its process group killed and its slot freed (${login} login)`, async () => {
      const server = await startSshd({ config: { PermitRootLogin: 'prohibit-password' } });
      const pool = newPool({ maxConnections: 1, maxChannelsPerConnection: 2 });
      const ssh = $.ssh(targetFor(server, pool, { username: login }));
      await ssh`true`;
      const direct = countDirectCommands();
      const stop = new AbortController();
      const marker = `${login === 'root' ? 71 : 72}.${Date.now() % 100_000}`;
      const failing = ssh`sleep ${marker} & sleep ${marker}; wait`.timeout(60_000).signal(stop.signal).then(() => undefined, (error: unknown) => error);
      // Both sleeps run before the cancel: the kill has something to find.
      await until(async () => (await processesMatching(server, `sleep ${marker}`)) === 2, 10_000, 'both sleeps running');
      stop.abort();
      expect(await failing).toBeInstanceOf(AbortedError);
      expect(direct()).toBe(1);
      await until(async () => (await processesMatching(server, `sleep ${marker}`)) === 0, 5_000, 'the process group gone');
      await until(() => pool.getStats().openChannels === 0, 5_000, 'the slot free');
      expect((await ssh`echo after`).stdout).toBe('after\n');
      await pool.closeAll();
    });
  }

  it('reports an exit signal', async () => {
    const server = await startSshd();
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool));
    await ssh`true`;
    const result = await ssh`kill -TERM $$`.nothrow();
    expect(result.signal).toBe('SIGTERM');
    expect(result.exitCode).toBeNull();
    expect(result.ok).toBe(false);
    await pool.closeAll();
  });

  it('a server killed while direct sessions stream output fails them with ConnectionLostError, and the next command runs on the restarted server', async () => {
    const server = await startSshd();
    const pool = newPool({ maxConnections: 1 });
    const ssh = $.ssh(targetFor(server, pool));
    await ssh`true`;
    const marker = `0.01${String(Date.now() % 100_000).padStart(5, '0')}`;
    const running = Array.from({ length: 3 }, () => Promise.resolve(ssh`while :; do echo tick; sleep ${marker}; done`.timeout(60_000)));
    const outcome = settleAll(running);
    const started = Date.now();
    // Every command runs on the server (its output flowing) before the kill.
    await until(async () => (await processesMatching(server, `sleep ${marker}`)) >= 3, 10_000, 'three commands running');
    await server.kill();
    const settled = await outcome;
    expect(settled.errors.length).toBe(3);
    for (const error of settled.errors) expect(error).toBeInstanceOf(ConnectionLostError);
    expect(Date.now() - started).toBeLessThan(30_000);
    await server.start();
    expect((await ssh`echo back`.timeout(30_000)).stdout).toBe('back\n');
    await pool.closeAll();
  });
});
