// `.sudo()` against OpenSSH with Debian's sudo and sudoers defaults (use_pty included): the
// image's sudo-user must give a password, nopasswd-user need not, nosudo-user is not in sudoers.
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  $,
  CommandTimeoutError,
  ConnectionLostError,
  SSHConnectionPool,
  SudoNotAllowedError,
  SudoNotInstalledError,
  SudoPasswordError,
} from '../../src/index.js';
import type { SSHTarget } from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd, SUDO_USERS } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { withTimeout } from '../support/with-timeout.js';

const PASSWORD = SUDO_USERS.password.password;
let server: SshdServer;
const pools: SSHConnectionPool[] = [];

beforeAll(async () => {
  server = await startSshd({ config: { MaxSessions: 2 } });
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => withTimeout(pool.closeAll(), 10_000, 'closeAll()')));
});

function newPool(options: ConstructorParameters<typeof SSHConnectionPool>[0] = {}): SSHConnectionPool {
  const pool = new SSHConnectionPool({ maxConnections: 2, ...options });
  pools.push(pool);
  return pool;
}

function as(username: string, extra: Partial<SSHTarget> = {}, pool = newPool()): SSHTarget {
  return sshdTarget(server, pool, { username, ...extra });
}

/** Polls an asynchronous condition (a look into the container) until it holds or `timeoutMs` passes. */
async function eventually(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Command lines of the container's processes that contain `needle`. */
async function processesMatching(on: SshdServer, needle: string): Promise<string[]> {
  const { stdout } = await on.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done']);
  return stdout.split('\n').map((line) => line.replaceAll('\0', ' ').trim()).filter((line) => line.includes(needle) && !line.includes('/proc/'));
}

describe('with a password', () => {
  it('runs the command as root, and as another user with { user }', async () => {
    const ssh = $.ssh(as(SUDO_USERS.password.username));
    expect((await ssh`id -un`.sudo({ password: PASSWORD })).stdout).toBe('root\n');
    expect((await ssh`id -un`.sudo({ user: SUDO_USERS.nopasswd.username, password: PASSWORD })).stdout).toBe('nopasswd-user\n');
  });

  it("takes the target's sudoPassword when .sudo() gives none", async () => {
    const ssh = $.ssh(as(SUDO_USERS.password.username, { sudoPassword: PASSWORD }));
    expect((await ssh`id -u`.sudo()).stdout).toBe('0\n');
  });

  it("a host group's sudoPassword serves its commands and fan-outs", async () => {
    const second = await startSshd({ hostKey: server.hostKey, authorizedKeys: [server.publicKey] });
    try {
      const group = $.ssh({
        hosts: [server, second].map(({ host, port }) => ({ host, port })),
        username: SUDO_USERS.password.username,
        privateKey: server.privateKey,
        hostKey: { fingerprints: [server.hostKeyFingerprint] },
        sudoPassword: PASSWORD,
        pool: newPool(),
      });
      expect((await group`id -u`.sudo()).stdout).toBe('0\n');
      const results = await group.all`id -un`.sudo();
      expect(results.map((result) => (result.status === 'fulfilled' ? result.value.stdout : result.reason))).toEqual(['root\n', 'root\n']);
    } finally {
      await second.remove();
    }
  }, 60_000);

  it("a lease's commands take the target's sudoPassword, and .pty() and .sudo() run on the leased connection", async () => {
    const pool = newPool();
    const lease = await pool.getConnection(as(SUDO_USERS.password.username, { sudoPassword: PASSWORD }, pool));
    try {
      expect((await lease.exec`id -un`.sudo()).stdout).toBe('root\n');
      expect((await lease.exec`tty >/dev/null && id -un`.sudo().pty()).stdout).toBe('root\r\n');
    } finally {
      lease.release();
    }
  });

  it('is asked for every time: cached credentials never turn the password into the command\'s input', async () => {
    const ssh = $.ssh(as(SUDO_USERS.password.username));
    await ssh`true`.sudo({ password: PASSWORD });
    const result = await ssh`cat`.sudo({ password: PASSWORD }).stdin('only this\n');
    expect(result.stdout).toBe('only this\n');
  });

  it('never writes the password to a NOPASSWD user\'s command', async () => {
    const ssh = $.ssh(as(SUDO_USERS.nopasswd.username));
    const result = await ssh`cat; id -u`.sudo({ password: 'not-needed-secret' }).stdin('input\n');
    expect(result.stdout).toBe('input\n0\n');
  });

  it('composes with env(), cwd() and stdin(): the password first, then the input', async () => {
    const ssh = $.ssh(as(SUDO_USERS.password.username));
    const result = await ssh`printf '%s|%s|' "$GREETING" "$(pwd)"; cat; id -un`
      .sudo({ password: PASSWORD })
      .env({ GREETING: "it's $HOME" })
      .cwd('/var/empty')
      .stdin('line one\nline two\n');
    expect(result.stdout).toBe("it's $HOME|/var/empty|line one\nline two\nroot\n");
    expect(result.stderr).toBe('');
  });

  it('keeps every interpolated value one exact argument', async () => {
    const values = ["'; id #'", 'ends in \\', '$(id)', '`id`', 'two\nlines', '"dq"', "''", '-n', 'ünï ✓'];
    const ssh = $.ssh(as(SUDO_USERS.password.username));
    const result = await ssh`for a in ${values}; do printf '<%s>' "$a"; done`.sudo({ password: PASSWORD });
    expect(result.stdout).toBe(values.map((value) => `<${value}>`).join(''));
  });

  it('feeds 10 MiB of stdin to the command after the password', async () => {
    const data = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    const ssh = $.ssh(as(SUDO_USERS.password.username));
    const result = await ssh`sha256sum`.sudo({ password: PASSWORD }).stdin(data).timeout(120_000);
    expect(result.stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  }, 180_000);
});

describe('without a password', () => {
  it('runs with sudo -n for a NOPASSWD user', async () => {
    expect((await $.ssh(as(SUDO_USERS.nopasswd.username))`id -un`.sudo()).stdout).toBe('root\n');
  });

  it('fails at once with SudoPasswordError (required) where a password is needed', async () => {
    const error = await $.ssh(as(SUDO_USERS.password.username))`id -un`.sudo().timeout(60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SudoPasswordError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_SUDO_PASSWORD', reason: 'required' });
    expect((error as SudoPasswordError).result.stdout).toBe('');
  });
});

describe('refusals', () => {
  it('a wrong password: SudoPasswordError (wrong) within the timeout, the command never ran', async () => {
    const ssh = $.ssh(as(SUDO_USERS.password.username));
    const error = await ssh`touch /tmp/ran-with-wrong-password`.sudo({ password: 'wrong-password-123' }).timeout(60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SudoPasswordError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_SUDO_PASSWORD', reason: 'wrong' });
    expect((error as Error).message).toMatch(/did not accept the password/);
    expect((await server.exec(['ls', '/tmp'])).stdout).not.toContain('ran-with-wrong-password');
  });

  it('a user not in sudoers: SudoNotAllowedError with sudo\'s words', async () => {
    const ssh = $.ssh(as(SUDO_USERS.none.username));
    const error = await ssh`id -u`.sudo({ password: SUDO_USERS.none.password }).timeout(60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SudoNotAllowedError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_SUDO_NOT_ALLOWED' });
    expect((error as Error).message).toMatch(/not in the sudoers file/);
  });

  it('a server without sudo: SudoNotInstalledError', async () => {
    const bare = await startSshd();
    await bare.exec(['rm', '/usr/bin/sudo']);
    const ssh = $.ssh(sshdTarget(bare, newPool(), { username: SUDO_USERS.nopasswd.username }));
    const error = await ssh`id -u`.sudo().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SudoNotInstalledError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_SUDO_NOT_INSTALLED' });
    await bare.remove();
  });
});

describe('the password never shows', () => {
  it('in output, results, errors (inspect and JSON), spans, events or verbose output', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const pool = newPool({ tracerProvider, telemetry: { captureCommand: true } });
    const events: unknown[] = [];
    for (const name of ['connection:created', 'connection:reused', 'connection:failed', 'connection:closed'] as const) {
      pool.on(name, (...args: unknown[]) => events.push(args));
    }
    const printed: string[] = [];
    const { stdout, stderr } = process;
    const capture = (chunk: unknown): boolean => (printed.push(String(chunk)), true);
    const originalOut = stdout.write.bind(stdout);
    const originalErr = stderr.write.bind(stderr);
    stdout.write = capture as typeof stdout.write;
    stderr.write = capture as typeof stderr.write;
    $.verbose = true;
    const seen: unknown[] = [];
    try {
      const ssh = $.ssh(as(SUDO_USERS.password.username, { sudoPassword: PASSWORD }, pool));
      seen.push(await ssh`id -u; echo to-stderr >&2`.sudo());
      seen.push(await ssh`tty; id -u`.sudo().pty());
      seen.push(await ssh`exit 3`.sudo().nothrow());
      seen.push(await ssh`sleep 30`.sudo().timeout(1_000).catch((e: unknown) => e));
      const wrong = $.ssh(as(SUDO_USERS.password.username, {}, pool));
      seen.push(await wrong`true`.sudo({ password: `${PASSWORD}-not` }).catch((e: unknown) => e));
      seen.push(await $.ssh(as(SUDO_USERS.none.username, {}, pool))`true`.sudo({ password: PASSWORD }).catch((e: unknown) => e));
    } finally {
      $.verbose = false;
      stdout.write = originalOut;
      stderr.write = originalErr;
    }
    await pool.closeAll();
    const texts = [
      ...seen.map((value) => inspect(value, { depth: 10, showHidden: true })),
      ...seen.map((value) => JSON.stringify(value)),
      ...seen.flatMap((value) => [(value as { stdout?: string }).stdout ?? '', (value as { stderr?: string }).stderr ?? '', (value as Error).message ?? '']),
      JSON.stringify(exporter.getFinishedSpans().map((span) => ({ name: span.name, attributes: span.attributes, events: span.events, status: span.status }))),
      inspect(events, { depth: 10 }),
      printed.join(''),
    ];
    expect(seen.filter((value) => value instanceof Error)).toHaveLength(3);
    for (const text of texts) expect(text).not.toContain(PASSWORD);
    const execs = exporter.getFinishedSpans().filter((span) => span.name === 'ssh.exec');
    expect(execs.length).toBeGreaterThanOrEqual(6);
    expect(execs.every((span) => span.attributes['ssh.exec.sudo'] === true)).toBe(true);
    expect(execs.filter((span) => span.attributes['ssh.exec.pty'] === true)).toHaveLength(1);
  }, 120_000);
});

describe('timeouts and lost connections', () => {
  it("a timeout kills sudo's root child as well", async () => {
    const ssh = $.ssh(as(SUDO_USERS.password.username));
    const error = await ssh`sleep 301; echo never`.sudo({ password: PASSWORD }).timeout(1_500).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeoutError);
    await eventually(async () => (await processesMatching(server, 'sleep 301')).length === 0, 10_000, 'the root sleep to end');
    // The slot is free: the next command on the same pool runs.
    expect((await ssh`id -u`.sudo({ password: PASSWORD })).stdout).toBe('0\n');
  });

  it('several sudo commands share a MaxSessions=2 server', async () => {
    const ssh = $.ssh(as(SUDO_USERS.password.username, { sudoPassword: PASSWORD }, newPool({ maxConnections: 1 })));
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => ssh`echo ${i}; id -u`.sudo()));
    expect(results.map((result) => result.stdout)).toEqual(Array.from({ length: 6 }, (_, i) => `${i}\n0\n`));
  });

  it('a server that dies mid-command gives ConnectionLostError', async () => {
    const dying = await startSshd();
    const ssh = $.ssh(sshdTarget(dying, newPool(), { username: SUDO_USERS.nopasswd.username }));
    const running = ssh`echo started; sleep 60`.sudo().catch((e: unknown) => e);
    await eventually(async () => (await processesMatching(dying, 'sleep 60')).length > 0, 20_000, 'the command to start');
    await dying.kill();
    expect(await running).toBeInstanceOf(ConnectionLostError);
    await dying.remove();
  });
});
