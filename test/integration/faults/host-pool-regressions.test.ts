// Regression tests for defects of the host pool found on real OpenSSH 9.2, each named after
// the failure it pins: lost commands and hanging scripts, warmUp overshoot, reconnect storms,
// timed-out commands left running (root and non-root logins), and closeAll() waiting forever.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { $, AbortedError, CommandTimeoutError } from '../../../src/index.js';
import type { SSHTarget } from '../../../src/index.js';
import { normalizeTarget } from '../../../src/config/ssh-target.js';
import { internalsOf } from '../../../src/client/pool-internals.js';
import { freePort } from '../../support/free-port.js';
import { startSshd } from '../../support/sshd.js';
import type { SshdServer } from '../../support/sshd.js';
import { newPool, recordEvents, runWithConcurrency, sleep, targetFor, until, withTimeout } from './shared.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ROOT_LOGIN = { PermitRootLogin: 'prohibit-password' };

/** Command lines of the processes running in the server's container that contain `needle`. */
async function remoteProcesses(server: SshdServer, needle: string): Promise<string[]> {
  const { stdout } = await server.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done']);
  return stdout.split('\n').map((line) => line.replaceAll('\0', ' ').trim()).filter((line) => line.includes(needle) && !line.includes('/proc/'));
}

interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runScript(mode: string, target: SSHTarget, extraEnv: Record<string, string> = {}): Promise<ScriptRun> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/integration/faults/fixtures/lifetime-script.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...extraEnv, SSHPOOL_LIFETIME_MODE: mode, SSHPOOL_LIFETIME_TARGET: JSON.stringify(target) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<ScriptRun>((resolve) => {
    child.once('exit', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
  return withTimeout(exited, 60_000, `script in mode ${mode}`).finally(() => child.kill('SIGKILL'));
}

describe('process lifetime: pending work keeps the process alive, idle state does not', () => {
  it('regression: a script whose only command targets a closed port exits 0 silently — it must fail with the error', async () => {
    const port = await freePort();
    const run = await runScript('closed-port', {
      host: '127.0.0.1', port, username: 'nobody', password: 'x', hostKey: 'off',
      poolConfig: { maxRetries: 2, reconnect: { initialDelay: 200, maxDelay: 400 } },
    });
    expect(run.stdout).toBe('');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/ConnectError|ERR_SSHPOOL_CONNECT/);
  });

  it('regression: a script that awaits one command and never calls closeAll() hangs for idleTimeout — it must exit at once', async () => {
    const server = await startSshd();
    const target = { ...targetFor(server, undefined), poolConfig: { idleTimeout: 60_000, keepAliveInterval: 200 } };
    const run = await runScript('success', target);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('result alive\n');
    // Node and tsx start-up take most of it; an idle connection would add 60 s.
    expect(run.ms).toBeLessThan(15_000);
  });

  it('a script that ends right after a command timed out still kills the remote command before it exits', async () => {
    const server = await startSshd({ config: ROOT_LOGIN });
    const run = await runScript('timeout', { ...targetFor(server, undefined), username: 'root' }, { SSHPOOL_LIFETIME_SLEEP: '1234.11' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('timed out yes\n');
    expect(await remoteProcesses(server, '1234.11')).toEqual([]);
  });
});

describe('warmUp', () => {
  it('regression: warmUp(target, 2) on a target with warmUpConnections 2 opens 4 connections — it opens 2', async () => {
    const server = await startSshd();
    const pool = newPool();
    const target = targetFor(server, pool, { poolConfig: { warmUpConnections: 2 } });
    $.ssh(target);
    await pool.warmUp(target, 2);
    await sleep(300);
    expect(pool.getMetrics().connectionsCreated).toBe(2);
    expect(pool.getStats().totalConnections).toBe(2);
    await pool.warmUp(target, 3);
    expect(pool.getStats().totalConnections).toBe(3);
    expect(pool.getMetrics().connectionsCreated).toBe(3);
  });
});

describe('reconnect after a server restart', () => {
  it('regression: with warmUpConnections 2 only 1 connection came back and reconnect events repeated forever — both come back, then silence', async () => {
    const server = await startSshd();
    const pool = newPool({ warmUpConnections: 2, reconnect: { initialDelay: 100, maxDelay: 500 } });
    const recorder = recordEvents(pool);
    const target = targetFor(server, pool);
    await pool.warmUp(target, 2);
    await server.restart();
    await until(() => pool.getStats().totalConnections === 2 && recorder.count('connection:closed') >= 2, 15_000, 'both warm connections back');
    const settledAt = recorder.events.length;
    await sleep(2_000);
    const after = recorder.events.slice(settledAt).map((event) => event.name);
    expect(after.filter((name) => name.startsWith('connection:reconnect'))).toEqual([]);
    expect(pool.getStats().totalConnections).toBe(2);
    expect(recorder.count('connection:reconnected')).toBeLessThanOrEqual(2);
    // Each reconnected connection's first command counts as `created`, not `reused`.
    const ssh = $.ssh(target);
    const reusedBefore = pool.getMetrics().connectionsReused;
    await Promise.all([ssh`sleep 0.2`, ssh`sleep 0.2`, ssh`sleep 0.2`, ssh`sleep 0.2`, ssh`sleep 0.2`, ssh`sleep 0.2`]);
    expect(pool.getMetrics().connectionsReused - reusedBefore).toBeLessThanOrEqual(4);
  });
});

for (const login of ['root', 'tester'] as const) {
  describe(`timeouts and aborts stop the remote command (${login} login)`, () => {
    let counter = 0;
    const unique = (): string => `${login === 'root' ? 4321 : 5321}.${++counter}${Math.floor(Math.random() * 1000)}`;

    async function setup() {
      const server = await startSshd({ config: ROOT_LOGIN });
      const pool = newPool({ maxConnections: 1, maxChannelsPerConnection: 3 });
      const ssh = $.ssh(targetFor(server, pool, { username: login }));
      await ssh`true`;
      return { server, pool, ssh };
    }

    async function expectGoneWithinASecond(server: SshdServer, pool: ReturnType<typeof newPool>, needle: string, since: number) {
      await until(() => pool.getStats().openChannels === 0, 1_000, 'the channel slot freed');
      const freedMs = performance.now() - since;
      expect(await remoteProcesses(server, needle)).toEqual([]);
      console.info(`${login} login: slot freed ${Math.round(freedMs)} ms after the command settled`);
      expect(freedMs).toBeLessThan(1_000);
    }

    it(`regression: sleep 30 with timeout(300) kept running and held its MaxSessions slot — it is killed and the slot freed within 1 s`, async () => {
      const { server, pool, ssh } = await setup();
      const needle = unique();
      const error = await ssh`sleep ${needle}`.timeout(300).catch((e: unknown) => e);
      const at = performance.now();
      expect(error).toBeInstanceOf(CommandTimeoutError);
      await expectGoneWithinASecond(server, pool, needle, at);
      expect(pool.getStats().totalConnections).toBe(1);
    });

    it('kills a whole process tree, and a command that ignores SIGTERM, on abort', async () => {
      const { server, pool, ssh } = await setup();
      const tree = unique();
      const stubborn = unique();
      const controller = new AbortController();
      const running = [
        ssh`sh -c ${`sleep ${tree} & sleep ${tree}; wait`}`.signal(controller.signal).catch((e: unknown) => e),
        ssh`sh -c ${`trap '' TERM; sleep ${stubborn}`}`.signal(controller.signal).catch((e: unknown) => e),
      ];
      await until(() => pool.getStats().openChannels === 2, 15_000, 'both running');
      // Both sleeps of the tree and the stubborn one, however slowly a loaded server forks them.
      await until(async () => (await remoteProcesses(server, tree)).length >= 2 && (await remoteProcesses(server, stubborn)).length >= 1, 15_000, 'the tree and the stubborn command started');
      controller.abort();
      const at = performance.now();
      for (const outcome of await Promise.all(running)) expect(outcome).toBeInstanceOf(AbortedError);
      await expectGoneWithinASecond(server, pool, tree, at);
      expect(await remoteProcesses(server, stubborn)).toEqual([]);
    });

    it('regression: a command that never ends (tail -f) held its slot forever — the slot comes back', async () => {
      const { server, pool, ssh } = await setup();
      const error = await ssh`tail -f /dev/null`.timeout(200).catch((e: unknown) => e);
      const at = performance.now();
      expect(error).toBeInstanceOf(CommandTimeoutError);
      await expectGoneWithinASecond(server, pool, 'tail -f /dev/null', at);
    });

    it('regression: timeouts 1-39 ms after start left 1% of commands running — none survive', async () => {
      const { server, pool, ssh } = await setup();
      const needle = unique();
      const outcomes = await runWithConcurrency(120, 3, (i) => ssh`sleep ${needle}`.timeout(1 + (i % 39)).nothrow());
      expect(outcomes.every((o) => o.status === 'fulfilled' && !o.value.ok)).toBe(true);
      await until(() => pool.getStats().openChannels === 0, 3_000, 'every slot freed');
      expect(await remoteProcesses(server, needle)).toEqual([]);
      expect(pool.getStats().totalConnections).toBe(1);
    });
  });
}

describe('closeAll() drain', () => {
  it('regression: a running command with no timeout kept closeAll() pending forever — it is stopped after the drain timeout', async () => {
    const server = await startSshd();
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool));
    const needle = '6543.21';
    const running = ssh`sleep ${needle}`.catch((e: unknown) => e);
    await until(() => pool.getStats().openChannels === 1, 3_000, 'the command running');
    const started = performance.now();
    await withTimeout(pool.closeAll({ timeout: 500 }), 5_000, 'closeAll({ timeout: 500 })');
    expect(performance.now() - started).toBeLessThan(4_000);
    const error = await running;
    expect(error).toBeInstanceOf(AbortedError);
    expect(await remoteProcesses(server, needle)).toEqual([]);
    expect(pool.getStats()).toMatchObject({ totalConnections: 0, openChannels: 0 });
  });

  it('kills a cancellable command still running at the drain timeout, for a root login too', async () => {
    const server = await startSshd({ config: ROOT_LOGIN });
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool, { username: 'root' }));
    const needle = '6543.22';
    // A signal makes it cancellable: it reports its process group, so it can be killed as root.
    const running = ssh`sleep ${needle}`.signal(new AbortController().signal).catch((e: unknown) => e);
    await until(() => pool.getStats().openChannels === 1, 3_000, 'the command running');
    await withTimeout(pool.closeAll({ timeout: 300 }), 5_000, 'closeAll({ timeout: 300 })');
    expect(await running).toBeInstanceOf(AbortedError);
    expect(await remoteProcesses(server, needle)).toEqual([]);
  });

  it('lets a command finish within the drain timeout', async () => {
    const server = await startSshd();
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool));
    // Awaiting is what starts a command: .then() does it here.
    const running = ssh`sleep 1; echo done`.then((result) => result);
    await until(() => pool.getStats().openChannels === 1, 10_000, 'the command running');
    await pool.closeAll({ timeout: 10_000 });
    expect((await running).stdout).toBe('done\n');
  });
});

describe('a request the server answers by dropping the connection', () => {
  it('regression: one malformed request took down 11 connections and ended in ChannelRefusedError — it fails alone with ConnectionLostError', async () => {
    const server = await startSshd();
    const pool = newPool();
    const recorder = recordEvents(pool);
    const target = targetFor(server, pool);
    const ssh = $.ssh(target);
    await ssh`true`;
    // What the command layer refuses before sending (a NUL byte), sent straight to the pool,
    // as a malformed request from any source would be: sshd drops the connection over it.
    const text = 'echo a\0b';
    const outcome = await internalsOf(pool).execute(
      normalizeTarget(target),
      { command: text, stdin: undefined, maxBuffer: 1024, priority: 0, built: { text, template: text } },
      new AbortController().signal,
    );
    expect(outcome.ending).toBe('connection-lost');
    expect(pool.getMetrics().connectionsCreated).toBeLessThanOrEqual(3);
    expect((await ssh`echo fine`).stdout).toBe('fine\n');
    expect(recorder.count('connection:created')).toBeLessThanOrEqual(4);
  });
});
