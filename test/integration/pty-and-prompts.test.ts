// `.pty()` and `.respond()` against OpenSSH: a real terminal from sshd, prompts read by `read`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, AbortedError, CommandTimeoutError, PromptUnansweredError, SSHConnectionPool } from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { withTimeout } from '../support/with-timeout.js';

let server: SshdServer;
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;

beforeAll(async () => {
  server = await startSshd({ config: { MaxSessions: 2 } });
  pool = new SSHConnectionPool({ maxConnections: 2 });
  ssh = $.ssh(sshdTarget(server, pool));
});

afterAll(async () => {
  await withTimeout(pool.closeAll(), 10_000, 'closeAll()');
});

async function eventually(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function processesMatching(needle: string): Promise<string[]> {
  const { stdout } = await server.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done']);
  return stdout.split('\n').map((line) => line.replaceAll('\0', ' ').trim()).filter((line) => line.includes(needle) && !line.includes('/proc/'));
}

describe('.pty()', () => {
  it('gives the command a terminal of the size asked for', async () => {
    const result = await ssh`tty; stty size; echo "$TERM"`.pty({ cols: 132, rows: 40, term: 'vt100' });
    expect(result.stdout).toMatch(/^\/dev\/pts\/\d+\r\n40 132\r\nvt100\r\n$/);
  });

  it('merges stderr into stdout, as a terminal does', async () => {
    const result = await ssh`echo out; echo err >&2`.pty();
    expect(result.stdout).toBe('out\r\nerr\r\n');
    expect(result.stderr).toBe('');
  });

  it('MaxSessions=1 with one connection: a .pty() command after a plain one runs (the spare gives its session back)', async () => {
    const single = await startSshd({ config: { MaxSessions: 1 } });
    const own = new SSHConnectionPool({ maxConnections: 1 });
    try {
      const one = $.ssh(sshdTarget(single, own));
      for (let i = 0; i < 3; i++) {
        await expect(one`echo ${`plain${i}`}`.timeout(20_000)).resolves.toMatchObject({ stdout: `plain${i}\n` });
        await expect(one`tty >/dev/null && echo ${`tty${i}`}`.pty().timeout(20_000)).resolves.toMatchObject({ stdout: `tty${i}\r\n` });
      }
    } finally {
      await withTimeout(own.closeAll(), 10_000, 'closeAll()');
      await single.remove();
    }
  }, 90_000);

  it('a command without .pty() has no terminal', async () => {
    const result = await ssh`tty`.nothrow();
    expect(result.stdout).toBe('not a tty\n');
  });

  it('a timeout or an abort leaves nothing running', async () => {
    const timedOut = await ssh`sleep 302`.pty().timeout(1_000).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(CommandTimeoutError);
    const controller = new AbortController();
    const aborted = ssh`sleep 303`.pty().signal(controller.signal).catch((e: unknown) => e);
    await eventually(async () => (await processesMatching('sleep 303')).length > 0, 20_000, 'the command to start');
    controller.abort();
    expect(await aborted).toBeInstanceOf(AbortedError);
    await eventually(async () => (await processesMatching('sleep 30')).length === 0, 10_000, 'both sleeps to end');
  });
});

describe('.respond()', () => {
  it('answers a prompt once, as it appears', async () => {
    const result = await ssh`printf 'Continue? [y/N] '; read answer; echo "got $answer"; printf 'Continue? [y/N] '; read again; echo "then $again"`
      .respond([{ match: /Continue\? \[y\/N\] /, answer: 'y\n' }])
      .timeout(30_000);
    expect(result.stdout).toBe('Continue? [y/N] got y\nContinue? [y/N] then y\n');
  });

  it('answers prompts on stderr and with string matches', async () => {
    const result = await ssh`printf 'Name: ' >&2; read name; printf 'Code: ' >&2; read code; echo "$name/$code"`
      .respond([{ match: 'Name: ', answer: 'ada\n' }, { match: 'Code: ', answer: '42\n' }])
      .timeout(30_000);
    expect(result.stdout).toBe('ada/42\n');
  });

  it('answers under a terminal too', async () => {
    const result = await ssh`stty -echo; printf 'Password: '; read secret; stty echo; echo; echo "len \${#secret}"`
      .pty()
      .respond([{ match: 'Password: ', answer: 'hunter2\n' }])
      .timeout(30_000);
    expect(result.stdout).not.toContain('hunter2');
    expect(result.stdout).toContain('len 7');
  });

  it('a prompt no rule answers runs into the timeout: PromptUnansweredError quotes the last line', async () => {
    const error = await ssh`echo starting; printf 'Overwrite /etc/thing? (yes/no) '; read answer`
      .respond([{ match: /Continue\?/, answer: 'y\n' }])
      .timeout(1_500)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PromptUnansweredError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_PROMPT_UNANSWERED', lastLine: 'Overwrite /etc/thing? (yes/no)' });
    expect((error as Error).message).toContain('Overwrite /etc/thing? (yes/no)');
  });
});
