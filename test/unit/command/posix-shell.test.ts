// The text sshpool sends is read the same way by every login shell sshd may run it with, and
// reaches /bin/sh as exactly the script. Checked against the shells of this machine: bash and
// dash always, zsh and fish where installed (CI installs them for the OpenSSH test image).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, MAX_COMMAND_BYTES, quote } from '../../../src/index.js';
import { checkCommandText } from '../../../src/command/command-limits.js';
import { inPosixShell, POSIX_SHELL_WRAPPER_BYTES } from '../../../src/command/posix-shell.js';
import { processGroupOf } from '../../../src/command/process-group-marker.js';

const SHELLS = ['/bin/bash', '/bin/dash', '/usr/bin/zsh', '/usr/bin/fish'].filter((shell, i) => i < 2 || existsSync(shell));

/** What `printf '%s\\0' <value, quoted>` prints for each value when sshd runs it with `<shell> -c`. */
function valuesSeenBy(shell: string, values: readonly string[], options: string[] = []): string[] {
  const script = values.map((value) => `printf '%s\\0' ${quote(value)}`).join('\n');
  return execFileSync(shell, [...options, '-c', inPosixShell(script)], { encoding: 'utf8' }).split('\0').slice(0, -1);
}

describe('inPosixShell: one text for every login shell', () => {
  it('wraps the script as `exec /bin/sh -c` with quotes and backslashes outside the quotes', () => {
    expect(inPosixShell('echo hi')).toBe("exec /bin/sh -c 'echo hi'");
    expect(inPosixShell("it's")).toBe("exec /bin/sh -c 'it'\\''s'");
    expect(inPosixShell('a\\')).toBe("exec /bin/sh -c 'a'\\\\''");
  });

  it(`round-trips hostile text unchanged through ${SHELLS.join(', ')}`, () => {
    const hostile = ["'; id > /tmp/p #'", 'a\\', '\\', "\\'", "''", '$(id) `id` ${HOME}', 'two\nlines', '%self {a,b} * ~ !!', 'ü ✓ \u2028'];
    for (const shell of SHELLS) expect(valuesSeenBy(shell, hostile), shell).toEqual(hostile);
  });

  it('round-trips random text made of shell metacharacters through every shell', () => {
    const unit = fc.constantFrom("'", '\\', '"', '$', '`', '\n', ' ', '#', ';', 'a', 'é', '!', '%', '{', '}', '~', '*', '(', ')');
    const samples = fc.sample(fc.string({ unit, maxLength: 24 }), { numRuns: 300, seed: 22 });
    for (const shell of SHELLS) expect(valuesSeenBy(shell, samples), shell).toEqual(samples);
  });

  it("zsh with RC_QUOTES (`''` inside quotes as a quote) reads it the same", () => {
    if (!existsSync('/usr/bin/zsh')) return;
    const texts = ["''", "a''b", "'\\'", "\\''\\"];
    expect(valuesSeenBy('/usr/bin/zsh', texts, ['-o', 'rcquotes'])).toEqual(texts);
  });

  it('reports the process group of the login shell it replaces, under every shell', () => {
    for (const shell of SHELLS) {
      const output = execFileSync('/bin/sh', ['-c', `exec ${shell} -c "$1"`, 'sh', inPosixShell('echo $$', true)], { encoding: 'utf8' });
      const [report, pid] = output.split('\n');
      expect(processGroupOf(report!), shell).toBe(Number(pid));
    }
  });
});

describe('MAX_COMMAND_BYTES counts the text as quoted', () => {
  it('is 128 KiB less the NUL and what the wrapper and the process-group report add', () => {
    expect(MAX_COMMAND_BYTES).toBe(128 * 1024 - 1 - POSIX_SHELL_WRAPPER_BYTES);
    expect(Buffer.byteLength(inPosixShell('x'.repeat(MAX_COMMAND_BYTES), true))).toBe(128 * 1024 - 1);
  });

  it("counts each ' and \\ as four bytes, and says so", () => {
    const specials = Math.floor(MAX_COMMAND_BYTES / 8);
    const text = (extra: number) => "'\\".repeat(specials / 2) + 'x'.repeat(MAX_COMMAND_BYTES - specials * 4 + extra);
    expect(() => checkCommandText(text(0))).not.toThrow();
    expect(Buffer.byteLength(inPosixShell(text(0), true))).toBe(128 * 1024 - 1);
    expect(() => checkCommandText(text(1))).toThrow(InvalidArgumentError);
    expect(() => checkCommandText(text(1))).toThrow(/once quoted .*each ' and \\ counting four/);
  });
});
