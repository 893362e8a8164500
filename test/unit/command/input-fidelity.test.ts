// What reaches the server is exactly what the caller wrote, or the command is refused before
// anything is sent; what the caller gets back is exactly what the server sent; and nothing a
// caller logs (an error, a result) carries an interpolated value.
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, CommandFailedError, CommandTimeoutError, DEFAULT_MAX_BUFFER, InvalidArgumentError, OutputLimitError, SSHConnectionPool } from '../../../src/index.js';
import type { CommandError } from '../../../src/index.js';
import { MAX_COMMAND_BYTES } from '../../../src/index.js';
import { OutputBuffer } from '../../../src/ssh/output-buffer.js';
import { describe as describeValue } from '../../../src/core/validation.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';

let server: EmbeddedSshServer;
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;
const SECRET = 's3cr3t-Tok3n';

beforeAll(async () => {
  server = await new EmbeddedSshServer().start();
  pool = new SSHConnectionPool();
  ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
});

afterAll(async () => {
  await pool.closeAll();
  await server.stop();
});

function thrown(build: () => unknown): Error {
  try {
    build();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a synchronous throw');
}

async function rejection(command: PromiseLike<unknown>): Promise<CommandError> {
  try {
    await command;
  } catch (error) {
    return error as CommandError;
  }
  throw new Error('expected a rejection');
}

describe('refused before sending', () => {
  // Regression: the cooked string of a segment with an invalid escape is undefined, and that
  // text was dropped, so `--version` ran as `'<file>' --version`.
  it('refuses a template with an invalid escape sequence instead of dropping its text', () => {
    const error = thrown(() => ssh`sed -e 's/\(foo\)/\1bar/' ${'file.txt'} --version`);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain("invalid escape sequence in its text `sed -e 's/\\(foo\\)/\\1bar/' `");
    expect(error.message).toContain('double backslash');
  });

  it('runs the same text written with a double backslash', async () => {
    const result = await ssh`printf '%s\n' 'foo' | sed -e 's/\\(foo\\)/\\1bar/'`;
    expect(result.stdout).toBe('foobar\n');
  });

  it('refuses a NUL byte in template text and in $.raw() text, synchronously', () => {
    expect(() => ssh`echo a\0b`).toThrow(/command template text contains a NUL byte/);
    expect(() => ssh`echo ${$.raw('a\0b')}`).toThrow(InvalidArgumentError);
    expect(() => $.raw('a\0b')).toThrow(/NUL byte/);
  });

  // Regression: a lone surrogate silently became EF BF BD (U+FFFD) on the wire.
  it('refuses a lone UTF-16 surrogate in a value, in template text and in stdin text', () => {
    expect(() => ssh`echo ${'\uD800x'}`).toThrow(/lone UTF-16 surrogate \(U\+D800 at index 0\)/);
    expect(() => ssh`echo \uDC00`).toThrow(InvalidArgumentError);
    expect(() => ssh`cat`.stdin('ok\uDBFF')).toThrow(/stdin\(\).*lone UTF-16 surrogate/);
  });

  it('passes well-formed non-ASCII text, surrogate pairs included, byte for byte', async () => {
    const text = 'héllo 😀 ünïcode';
    const result = await ssh`printf %s ${text}`;
    expect(result.stdoutBuffer.equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it('refuses a command over MAX_COMMAND_BYTES (128 KiB less what sshpool adds), naming the limit and suggesting .stdin()', async () => {
    const error = await rejection(ssh`echo ${'x'.repeat(MAX_COMMAND_BYTES)}`);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain(`over the limit of ${MAX_COMMAND_BYTES} bytes`);
    expect(error.message).toContain('.stdin()');
  });

  it('counts .env() and .cwd() into the command size', async () => {
    // `true` alone is tiny; the export line before it is what passes the limit.
    await expect(ssh`true`.env({ BIG: 'v'.repeat(MAX_COMMAND_BYTES - 10) })).rejects.toThrow(/over the limit/);
    await expect(ssh`true`.cwd('d'.repeat(MAX_COMMAND_BYTES - 10))).rejects.toThrow(/over the limit/);
  });
});

describe('output', () => {
  it('gives binary stdout byte for byte through stdoutBuffer, while stdout is decoded text', async () => {
    const result = await ssh`printf '\\377\\000\\001abc'`;
    expect([...result.stdoutBuffer]).toEqual([0xff, 0x00, 0x01, 0x61, 0x62, 0x63]);
    expect(result.stdout).toBe('\uFFFD\u0000\u0001abc');
    expect(result.stderrBuffer.length).toBe(0);
  });

  it('keeps at most maxBuffer bytes per stream and reports the partial output', async () => {
    const error = await rejection(ssh`head -c 100000 /dev/zero`.maxBuffer(1000));
    expect(error).toBeInstanceOf(OutputLimitError);
    expect(error.result.stdoutBuffer.length).toBeLessThanOrEqual(1000);
  });

  it('defaults maxBuffer to 16 MiB', () => {
    expect(DEFAULT_MAX_BUFFER).toBe(16 * 1024 * 1024);
    expect(() => ssh`true`.maxBuffer(2 ** 31 + 1)).toThrow(/from 1 to 2147483648/);
  });

  it('stores output in one block that grows with what arrives, refusing past the limit', () => {
    const output = new OutputBuffer(10);
    expect(output.append(Buffer.from('hello'))).toBe(true);
    expect(output.append(Buffer.from('world'))).toBe(true);
    expect(output.append(Buffer.from('!'))).toBe(false);
    expect(output.bytes().toString()).toBe('helloworld');
    expect(new OutputBuffer(5).bytes().length).toBe(0);
  });
});

describe('no interpolated value in what gets logged', () => {
  const views = (value: unknown): string[] => [inspect(value, { depth: 10 }), JSON.stringify(value), String(value)];

  // Regression: util.inspect(err) and JSON.stringify(err) showed result.command with the secret.
  it('CommandFailedError: inspect, JSON and message show the masked template only', async () => {
    const error = await rejection(ssh`echo ${SECRET} >/dev/null; exit 3`);
    expect(error).toBeInstanceOf(CommandFailedError);
    for (const view of views(error)) expect(view).not.toContain(SECRET);
    expect(inspect(error)).toContain("template: 'echo ? >/dev/null; exit 3'");
    expect(JSON.parse(JSON.stringify(error)).result).toMatchObject({ exitCode: 3, template: 'echo ? >/dev/null; exit 3' });
    // The full text is still there for whoever asks for it explicitly.
    expect(error.result.command).toBe(`echo '${SECRET}' >/dev/null; exit 3`);
  });

  it('CommandTimeoutError and OutputLimitError: the same', async () => {
    const timeout = await rejection(ssh`sleep 5 # ${SECRET}`.timeout(100));
    const limit = await rejection(ssh`head -c 10000 /dev/zero # ${$.raw(SECRET)}`.maxBuffer(10));
    expect(timeout).toBeInstanceOf(CommandTimeoutError);
    expect(limit).toBeInstanceOf(OutputLimitError);
    for (const error of [timeout, limit]) for (const view of views(error)) expect(view).not.toContain(SECRET);
  });

  it('a result from .nothrow(): inspect and JSON show the template, not the command', async () => {
    const result = await ssh`echo ${SECRET} >/dev/null; exit 1`.nothrow();
    for (const view of views(result)) expect(view).not.toContain(SECRET);
    expect(Object.keys(result)).not.toContain('command');
    expect(result.command).toContain(SECRET);
  });

  it('an error built by hand from a plain result object is redacted the same way', () => {
    const error = new CommandFailedError('failed', {
      stdout: '', stderr: '', stdoutBuffer: Buffer.alloc(0), stderrBuffer: Buffer.alloc(0),
      exitCode: 1, signal: null, ok: false, durationMs: 1, host: 'h', command: `login ${SECRET}`, template: 'login ?',
    });
    for (const view of views(error)) expect(view).not.toContain(SECRET);
  });

  // Regression: strings of up to 40 characters were echoed in validation messages.
  it('validation messages never echo a string, however short', () => {
    expect(describeValue('pw')).toBe('a string of 2 characters');
    expect(describeValue('')).toBe('an empty string');
    expect(() => $.ssh({ host: 'h', username: 'x', port: SECRET as never })).toThrow(/a string of 12 characters/);
    const envError = thrown(() => ssh`true`.env({ [SECRET + '!']: 'v' }));
    expect(envError.message).not.toContain(SECRET);
  });
});
