import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  $,
  AbortedError,
  CommandFailedError,
  CommandTimeoutError,
  ConnectionLostError,
  InvalidArgumentError,
  OutputLimitError,
  SSHConnectionPool,
} from '../../../src/index.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { until } from '../../support/until.js';

let server: EmbeddedSshServer;
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;

beforeAll(async () => {
  server = await new EmbeddedSshServer().start();
  pool = new SSHConnectionPool();
  ssh = $.ssh({
    host: server.host,
    port: server.port,
    username: server.username,
    privateKey: server.privateKey,
    hostKey: 'off',
    pool,
  });
});

afterAll(async () => {
  await pool.closeAll();
  await server.stop();
});

describe('command execution (embedded server)', () => {
  it('resolves with stdout, stderr, exit code and ok for a successful command', async () => {
    const result = await ssh`echo out; echo err >&2`;
    expect(result).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 0, signal: null, ok: true, host: `127.0.0.1:${server.port}` });
    expect(result.durationMs).toBeGreaterThan(0);
    expect(result.command).toBe('echo out; echo err >&2');
  });

  it('rejects with CommandFailedError carrying the result on a non-zero exit', async () => {
    const error = await ssh`echo partial; exit 3`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).code).toBe('ERR_SSHPOOL_COMMAND_FAILED');
    expect((error as CommandFailedError).result).toMatchObject({ exitCode: 3, ok: false, stdout: 'partial\n' });
  });

  it('nothrow() resolves with the failed result instead of rejecting', async () => {
    const result = await ssh`exit 7`.nothrow();
    expect(result.exitCode).toBe(7);
    expect(result.ok).toBe(false);
  });

  it('reports a signal-killed command with its signal and no exit code', async () => {
    const result = await ssh`kill -TERM $$`.nothrow();
    expect(result.exitCode).toBeNull();
    expect(result.signal).toBe('SIGTERM');
    expect(result.ok).toBe(false);
  });

  it('is lazy: nothing runs until the command is awaited', async () => {
    const before = server.connectionsAccepted;
    const command = ssh`echo lazy`;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.connectionsAccepted).toBe(before);
    expect((await command).stdout).toBe('lazy\n');
  });

  it('feeds stdin and closes it so that readers finish', async () => {
    const result = await ssh`cat`.stdin('line 1\nline 2\n');
    expect(result.stdout).toBe('line 1\nline 2\n');
    const empty = await ssh`cat`;
    expect(empty.stdout).toBe('');
  });

  it('exports env() variables to the command', async () => {
    const result = await ssh`printf %s "$GREETING"`.env({ GREETING: "it's $HOME" });
    expect(result.stdout).toBe("it's $HOME");
  });

  it('runs in cwd() and fails instead of running elsewhere when the directory is missing', async () => {
    expect((await ssh`pwd`.cwd('/tmp')).stdout).toBe('/tmp\n');
    const error = await ssh`pwd`.cwd('/no/such/dir').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).result.stdout).toBe('');
  });

  it('times out a command with CommandTimeoutError while another on the same connection goes on', async () => {
    const slow = ssh`sleep 0.5; echo survived`;
    const doomed = ssh`sleep 10`.timeout(150);
    const [survivor, timedOut] = await Promise.allSettled([slow, doomed]);
    expect(survivor.status).toBe('fulfilled');
    expect((survivor as PromiseFulfilledResult<{ stdout: string }>).value.stdout).toBe('survived\n');
    expect((timedOut as PromiseRejectedResult).reason).toBeInstanceOf(CommandTimeoutError);
    expect((timedOut as PromiseRejectedResult).reason.result.ok).toBe(false);
  });

  it('aborts a command with AbortedError when its signal fires', async () => {
    const controller = new AbortController();
    const running = ssh`sleep 10`.signal(controller.signal);
    setTimeout(() => controller.abort(), 100);
    await expect(running).rejects.toBeInstanceOf(AbortedError);
  });

  it('ends a command whose signal was already aborted with AbortedError, running nothing', async () => {
    const error = await ssh`echo never`.signal(AbortSignal.abort()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).result).toMatchObject({ ok: false, exitCode: null, stdout: '' });
  });

  it('leaves no listener on the caller\'s abort signal once the command settles, ok or failed', async () => {
    const controller = new AbortController();
    await ssh`true`.signal(controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await ssh`exit 3`.signal(controller.signal).nothrow();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('closeAll() stops a command that has neither a timeout nor a signal once its drain timeout passes', async () => {
    const own = new SSHConnectionPool();
    const target = { host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off' as const, pool: own };
    await $.ssh(target)`true`;
    const running = $.ssh(target)`sleep 30`.catch((e: unknown) => e);
    await until(() => own.getStats().openChannels === 1);
    const startedAt = performance.now();
    await own.closeAll({ timeout: 100 });
    const error = await running;
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).message).toContain('the pool closed');
    expect(performance.now() - startedAt).toBeLessThan(5_000);
  });

  it('caps output with OutputLimitError instead of buffering without bound', async () => {
    const error = await ssh`head -c 100000 /dev/zero`.maxBuffer(1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputLimitError);
  });

  it('rejects bad modifier arguments with InvalidArgumentError', () => {
    expect(() => ssh`true`.timeout(-1)).toThrow(InvalidArgumentError);
    expect(() => ssh`true`.env({ 'BAD-NAME': 'x' })).toThrow(InvalidArgumentError);
    expect(() => ssh`true ${{}}`).toThrow(InvalidArgumentError);
  });

  it('fails running commands with ConnectionLostError when the server drops the connection', async () => {
    const running = ssh`sleep 5`;
    setTimeout(() => server.dropAllConnections(), 150);
    await expect(running).rejects.toBeInstanceOf(ConnectionLostError);
    expect((await ssh`echo back`).stdout).toBe('back\n');
  });
});
