// The streaming surface of a command, against an in-process SSH server running /bin/sh: what
// users may call when, what the result says, and that no failure goes unheard or unhandled.
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, AbortedError, CommandTimeoutError, InvalidArgumentError, SSHConnectionPool } from '../../../src/index.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { until } from '../../support/until.js';

let server: EmbeddedSshServer;
/** Resolves once the server has closed the latest exec channel (the command ended on its side). */
let lastExecClosed: Promise<void> = Promise.resolve();
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;

beforeAll(async () => {
  server = await new EmbeddedSshServer({
    onExec: (channel) => {
      lastExecClosed = new Promise((resolve) => channel.once('close', () => resolve()));
    },
  }).start();
  pool = new SSHConnectionPool();
  ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
});

afterAll(async () => {
  await pool.closeAll();
  await server.stop();
});

async function read(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

describe('streamed commands (embedded server)', () => {
  it('reading cmd.stdout starts the command; the result says the stream was not kept', async () => {
    const cmd = ssh`echo out; echo err >&2`;
    expect(await read(cmd.stdout)).toBe('out\n');
    const result = await cmd;
    expect(result).toMatchObject({ ok: true, stdout: '', stderr: 'err\n', streamed: { stdout: true, stderr: false } });
    expect(JSON.parse(JSON.stringify(result))).toMatchObject({ streamed: { stdout: true, stderr: false } });
  });

  it('a buffered result says nothing was streamed, and its JSON is unchanged', async () => {
    const result = await ssh`echo out`;
    expect(result.streamed).toEqual({ stdout: false, stderr: false });
    expect(Object.keys(JSON.parse(JSON.stringify(result)))).not.toContain('streamed');
  });

  it('both streams can be taken in one expression and read together', async () => {
    const cmd = ssh`echo out; echo err >&2`;
    expect(await Promise.all([read(cmd.stdout), read(cmd.stderr)])).toEqual(['out\n', 'err\n']);
  });

  it('a stream cannot be taken once the command has started', async () => {
    const cmd = ssh`true`;
    await cmd;
    expect(() => cmd.stdout).toThrow(InvalidArgumentError);
    expect(() => cmd.stdout).toThrow('stdout can be streamed only before the command starts');
  });

  it('pipe() refuses what is not a Writable, and stdin() what is not bytes, text or a stream', () => {
    expect(() => ssh`true`.pipe({} as Writable)).toThrow(InvalidArgumentError);
    expect(() => ssh`true`.stdin(42 as unknown as string)).toThrow('stdin() takes a string, bytes, a Readable or an async iterable, got');
  });

  it('pipe() into process.stdout-like destinations that stay open still resolves with the result', async () => {
    let written = '';
    const keep = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += String(chunk);
        done();
      },
    });
    const result = await ssh`printf 'a\nb\n'`.pipe(keep);
    expect(result.ok).toBe(true);
    expect(written).toBe('a\nb\n');
  });

  it('a destroyed stream stops the command: awaiting it rejects with AbortedError whose cause says why', async () => {
    const cmd = ssh`echo first; sleep 30`;
    const stream = cmd.stdout;
    await new Promise((resolve) => stream.once('data', resolve));
    stream.destroy();
    const error = await cmd.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(((error as AbortedError).cause as Error).message).toContain('stdout stream was destroyed');
  });

  it('a stream destroyed before the command starts makes the command abort at once', async () => {
    const cmd = ssh`echo never`;
    cmd.stdout.destroy();
    await expect(cmd).rejects.toBeInstanceOf(AbortedError);
  });

  it('a stream read without an error listener just ends when the command times out (no crash); await reports the timeout', async () => {
    const cmd = ssh`echo first; sleep 30`.timeout(300);
    let text = '';
    const stream = cmd.stdout;
    stream.on('data', (chunk: Buffer) => (text += String(chunk)));
    await new Promise((resolve) => stream.once('end', resolve));
    expect(text).toBe('first\n');
    await expect(cmd).rejects.toBeInstanceOf(CommandTimeoutError);
  });

  it('a stream whose consumer listens for errors fails with the command\'s own error', async () => {
    const cmd = ssh`echo first; sleep 30`.timeout(300);
    const error = await read(cmd.stdout).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect(await cmd.then(() => undefined, (e: unknown) => e)).toBe(error);
  });

  it('a command only read as a stream, never awaited, leaves no unhandled rejection when it fails', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const stream = ssh`echo x; exit 7`.stdout;
      expect(await read(stream)).toBe('x\n');
      const timedOut = ssh`sleep 30`.timeout(200).stdout;
      timedOut.resume();
      await new Promise((resolve) => timedOut.once('end', resolve));
      // Give a rejection time to be reported: unhandled rejections surface after a macrotask.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('stdin from an async iterable of strings and bytes reaches the command, then EOF', async () => {
    async function* parts(): AsyncGenerator<string | Uint8Array> {
      yield 'one\n';
      yield new Uint8Array(Buffer.from('two\n'));
    }
    await expect(ssh`cat`.stdin(parts())).resolves.toMatchObject({ stdout: 'one\ntwo\n' });
  });

  it('a stdin stream that gives something else than bytes or text stops the command', async () => {
    async function* bad(): AsyncGenerator<unknown> {
      yield 42;
    }
    const error = await ssh`cat`.stdin(bad() as AsyncIterable<string>).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(((error as AbortedError).cause as Error).message).toContain('a stdin() stream gave number, not bytes or text');
    await until(() => pool.getStats().openChannels === 0, 10_000, 'the channel closed');
  });
});

describe('output held for a slow reader', () => {
  it('stderr kept in the result is whole when the reader of stdout was behind as the command ended (regression: what stderr still held at the close was dropped)', async () => {
    const cmd = ssh`head -c 1000000 /dev/zero; yes e | head -c 100000 >&2`;
    const chunks = cmd.stdout[Symbol.asyncIterator]();
    let stdoutBytes = ((await chunks.next()).value as Buffer).length;
    // The reader falls behind: the rest of stdout and all of stderr wait in the client while the
    // command ends and the server closes the channel.
    await lastExecClosed;
    for (let chunk = await chunks.next(); !chunk.done; chunk = await chunks.next()) stdoutBytes += (chunk.value as Buffer).length;
    const result = await cmd;
    expect({ stdoutBytes, stderrBytes: result.stderr.length, exitCode: result.exitCode }).toEqual({ stdoutBytes: 1_000_000, stderrBytes: 100_000, exitCode: 0 });
  });
});

describe('pipe() into a destination left open (process.stderr)', () => {
  it('a piped command whose stream is destroyed still settles: its output never ends, and the destination is not ended', async () => {
    const cmd = ssh`echo first; sleep 30`.pipe(process.stderr);
    await new Promise((resolve) => cmd.stdout.once('data', resolve));
    cmd.stdout.destroy();
    const error = await cmd.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(process.stderr.writableEnded).toBe(false);
  });
});
