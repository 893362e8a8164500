// A command means the same whatever the user's login shell: sshd runs it as `<shell> -c text`,
// and sshpool sends `exec /bin/sh -c '<script>'` so that its POSIX quoting, the process-group
// report and `.cwd()`/`.env()` hold under bash, dash, zsh and fish alike (users of the OpenSSH
// test image, one per login shell).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, CommandFailedError, CommandTimeoutError, MAX_COMMAND_BYTES, SSHConnectionPool } from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { LOGIN_SHELL_USERS, startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { until } from '../support/until.js';
import { withTimeout } from '../support/with-timeout.js';

let server: SshdServer;
const pools: SSHConnectionPool[] = [];

beforeAll(async () => {
  server = await startSshd();
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => withTimeout(pool.closeAll(), 10_000, 'closeAll()')));
});

/** Values that break out of naive quoting in one shell or another. */
const HOSTILE = [
  "'; id > /tmp/p #'",
  'ends in a backslash \\',
  '\\',
  "\\'",
  '$(id)',
  '`id`',
  '${HOME}',
  'two\nlines',
  'tab\tand "double" quotes',
  "'",
  "''",
  'a\\\\b',
  '%self',
  '{a,b} * ?',
  '!! !$',
  '~',
  'ünïcödé ✓ \u2028',
  '-n',
];

async function processesMatching(needle: string): Promise<string[]> {
  const { stdout } = await server.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done']);
  return stdout.split('\n').map((line) => line.replaceAll('\0', ' ').trim()).filter((line) => line.includes(needle) && !line.includes('/proc/'));
}

for (const [shell, username] of Object.entries(LOGIN_SHELL_USERS)) {
  describe(`login shell ${shell} (${username})`, () => {
    let ssh: ReturnType<typeof $.ssh>;
    let pool: SSHConnectionPool;

    beforeAll(async () => {
      pool = new SSHConnectionPool({ maxConnections: 1 });
      pools.push(pool);
      ssh = $.ssh(sshdTarget(server, pool, { username }));
      // The login shell really is the one named.
      const { stdout } = await server.exec(['sh', '-c', `grep '^${username}:' /etc/passwd`]);
      expect(stdout.trim().endsWith(`/${shell}`)).toBe(true);
    });

    it('regression: a value ending in a backslash escaped its quotes under fish and `id` ran — every hostile value is exactly one argument', async () => {
      const marker = `/tmp/p-${shell}`;
      const values = HOSTILE.map((value) => value.replace('/tmp/p', marker));
      const result = await ssh`printf '<%s>' ${values}; printf '\n%s' "$#" ${$.raw('"$0"')}`;
      expect(result.stdout).toBe(`${values.map((value) => `<${value}>`).join('')}\n0\n/bin/sh`);
      expect(result.stderr).toBe('');
      const each = await Promise.all(values.map((value) => ssh`printf '%s' ${value}`));
      expect(each.map((r) => r.stdout)).toEqual(values);
      expect((await server.exec(['sh', '-c', `test -e ${marker}; echo $?`])).stdout.trim()).toBe('1');
    });

    it('regression: under fish, commands with .timeout() never ran yet reported ok: true — they run and report their real outcome', async () => {
      const file = `/tmp/ran-with-timeout-${shell}`;
      const ran = await ssh`echo ran > ${file}; echo out; echo err >&2`.timeout(10_000);
      expect(ran).toMatchObject({ ok: true, exitCode: 0, stdout: 'out\n', stderr: 'err\n' });
      expect((await server.exec(['cat', file])).stdout).toBe('ran\n');
      const failed = await ssh`echo before; exit 3`.timeout(10_000).nothrow();
      expect(failed).toMatchObject({ ok: false, exitCode: 3, stdout: 'before\n' });
      await expect(ssh`exit 4`.timeout(10_000)).rejects.toBeInstanceOf(CommandFailedError);
    });

    it('a timeout kills the whole remote process group and frees the slot', async () => {
      const needle = `${7000 + Object.keys(LOGIN_SHELL_USERS).indexOf(shell)}.5`;
      const error = await ssh`sleep ${needle} & sleep ${needle}; wait`.timeout(400).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CommandTimeoutError);
      await until(() => pool.getStats().openChannels === 0, 2_000, 'the slot freed');
      expect(await processesMatching(`sleep ${needle}`)).toEqual([]);
    });

    it('.cwd() and .env() run under the POSIX shell with hostile values intact', async () => {
      const value = HOSTILE.join('|');
      const result = await ssh`pwd; printf '%s' "$HOSTILE"`.cwd('/tmp').env({ HOSTILE: value, N: 3 }).timeout(10_000);
      expect(result).toMatchObject({ ok: true, stdout: `/tmp\n${value}` });
      const missing = await ssh`echo should-not-run`.cwd('/does/not/exist').nothrow();
      expect(missing).toMatchObject({ ok: false, exitCode: 1, stdout: '' });
    });

    it('a command quoted up to exactly MAX_COMMAND_BYTES runs, quotes and backslashes counted four bytes each', async () => {
      // Every `'` and `\` grows to four bytes on the way; this comment is sized to hit the limit.
      const head = "echo at-limit #";
      const fill = "'\\".repeat(Math.floor((MAX_COMMAND_BYTES - head.length) / 8));
      const pad = 'x'.repeat(MAX_COMMAND_BYTES - head.length - fill.length * 4);
      const result = await ssh`${$.raw(head + fill + pad)}`.timeout(20_000);
      expect(result).toMatchObject({ ok: true, stdout: 'at-limit\n' });
    });
  });
}
