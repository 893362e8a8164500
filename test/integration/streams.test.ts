// Streamed output and input on a real OpenSSH server: lines as they arrive, backpressure that
// reaches the remote writer, stdin from streams, and stopping early (break, destroy, timeout,
// abort) that leaves no remote process behind, for root and non-root logins.
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, AbortedError, CommandFailedError, CommandTimeoutError, ConnectionLostError, SSHConnectionPool } from '../../src/index.js';
import type { SSHTarget } from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { until } from '../support/until.js';
import { withTimeout } from '../support/with-timeout.js';

const MiB = 1024 * 1024;

let server: SshdServer;
const pools: SSHConnectionPool[] = [];

function newPool(options: ConstructorParameters<typeof SSHConnectionPool>[0] = {}): SSHConnectionPool {
  const pool = new SSHConnectionPool(options);
  pools.push(pool);
  return pool;
}

function sshOn(target: Partial<SSHTarget> = {}, pool = newPool()) {
  return $.ssh(sshdTarget(server, pool, target));
}

/** Command lines of the server's processes that contain `needle` (the image has no pgrep). */
async function remoteProcesses(needle: string, on: SshdServer = server): Promise<string[]> {
  const { stdout } = await on.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done']);
  return stdout.split('\n').map((line) => line.replaceAll('\0', ' ').trim()).filter((line) => line.includes(needle) && !line.includes('/proc/'));
}

/** Waits (with a generous deadline) until no process on the server mentions `needle`. */
async function untilGone(needle: string, on: SshdServer = server): Promise<void> {
  const started = performance.now();
  for (;;) {
    const left = await remoteProcesses(needle, on);
    if (left.length === 0) return;
    if (performance.now() - started > 15_000) throw new Error(`still running on the server: ${left.join(' | ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

let needleCount = 0;
/** A unique marker for one test's remote process, e.g. a `sleep` duration nothing else uses. */
function needle(): string {
  needleCount += 1;
  return `${4000 + needleCount}.${process.pid}`;
}

beforeAll(async () => {
  server = await startSshd({ config: { PermitRootLogin: 'prohibit-password' } });
});

afterAll(async () => {
  await withTimeout(Promise.all(pools.map((pool) => pool.closeAll())), 20_000, 'closeAll()');
});

describe('lines', () => {
  it('seq 1 1000000 read line by line gives every line, in order, and the result still comes', async () => {
    const ssh = sshOn();
    const cmd = ssh`seq 1 1000000`;
    let count = 0;
    let inOrder = true;
    for await (const line of cmd) {
      count += 1;
      if (line !== String(count)) inOrder = false;
    }
    expect(count).toBe(1_000_000);
    expect(inOrder).toBe(true);
    const result = await cmd;
    expect(result).toMatchObject({ ok: true, exitCode: 0, stdout: '', streamed: { stdout: true, stderr: false } });
  }, 120_000);

  it('multi-byte characters split across chunks are decoded whole', async () => {
    const ssh = sshOn();
    // 11 bytes a line and one leading byte: packet boundaries fall inside characters.
    const lines: string[] = [];
    for await (const line of ssh`printf x; yes 'aé€😀' | head -n 100000`) lines.push(line);
    expect(lines).toHaveLength(100_000);
    expect(lines[0]).toBe('xaé€😀');
    expect(lines.slice(1).every((line) => line === 'aé€😀')).toBe(true);
  }, 60_000);

  it('\\r\\n endings are removed like \\n, and a last line without a newline is still given', async () => {
    const ssh = sshOn();
    const crlf: string[] = [];
    for await (const line of ssh`printf 'one\r\ntwo\r\n\r\nthree'`.lines()) crlf.push(line);
    expect(crlf).toEqual(['one', 'two', '', 'three']);
    const lf: string[] = [];
    for await (const line of ssh`printf 'a\nb'`) lf.push(line);
    expect(lf).toEqual(['a', 'b']);
  });

  it('the exit status is there after the lines: a failed command throws from the iteration, or with nothrow() resolves', async () => {
    const ssh = sshOn();
    const failing = ssh`echo partial; exit 3`;
    const seen: string[] = [];
    const error = await rejection((async () => {
      for await (const line of failing) seen.push(line);
    })());
    expect(seen).toEqual(['partial']);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).result.exitCode).toBe(3);

    const tolerated = ssh`echo partial; exit 3`.nothrow();
    for await (const line of tolerated) expect(line).toBe('partial');
    expect(await tolerated).toMatchObject({ ok: false, exitCode: 3 });
  });
});

describe('readable output', () => {
  it('stdout and stderr read at the same time each get all their bytes, and neither is kept in the result', async () => {
    const ssh = sshOn();
    const cmd = ssh`for i in 1 2 3; do head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2; done`;
    const count = async (stream: Readable): Promise<number> => {
      let bytes = 0;
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      return bytes;
    };
    const [stdoutBytes, stderrBytes] = await Promise.all([count(cmd.stdout), count(cmd.stderr)]);
    expect({ stdoutBytes, stderrBytes }).toEqual({ stdoutBytes: 9_000_000, stderrBytes: 6_000_000 });
    const result = await cmd;
    expect(result).toMatchObject({ ok: true, stdout: '', stderr: '', streamed: { stdout: true, stderr: true } });
  }, 60_000);

  it('stderr kept in the result is whole when the reader of stdout was behind as the command ended (regression: what stderr still held at the close was dropped)', async () => {
    const pool = newPool();
    const ssh = sshOn({}, pool);
    const cmd = ssh`head -c 1000000 /dev/zero; yes e | head -c 100000 >&2; : behind-reader`;
    const chunks = cmd.stdout[Symbol.asyncIterator]();
    let stdoutBytes = ((await chunks.next()).value as Buffer).length;
    // The reader falls behind: the command ends on the server, and what it still had to say
    // (stdout's rest, all of stderr, the exit status and the close) reaches the client before
    // a second command's answers on the same connection do.
    await untilGone('behind-reader');
    await ssh`true`;
    expect(pool.getStats().totalConnections).toBe(1);
    for (let chunk = await chunks.next(); !chunk.done; chunk = await chunks.next()) stdoutBytes += (chunk.value as Buffer).length;
    const result = await cmd;
    expect({ stdoutBytes, stderrBytes: result.stderr.length, exitCode: result.exitCode }).toEqual({ stdoutBytes: 1_000_000, stderrBytes: 100_000, exitCode: 0 });
  }, 60_000);

  it('interleaved stdout and stderr arrive whole and in order, whichever is streamed and however unevenly it is read', async () => {
    const ssh = sshOn();
    // Five rounds of both streams, of differing lengths; the expected bytes are computed here.
    const seqText = (from: number, to: number): string => Array.from({ length: to - from + 1 }, (_, k) => `${from + k}\n`).join('');
    const expected = { stdout: '', stderr: '' };
    for (let i = 1; i <= 5; i++) {
      expected.stdout += seqText(i, 40_000);
      expected.stderr += seqText(i, 25_000);
    }
    // A reader that stops now and then, for up to 3 ms, in a repeatable pattern.
    let seed = 7;
    const pauseNow = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % 8 === 0 ? seed % 4 : -1);
    const readUnevenly = async (stream: Readable): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) {
        chunks.push(chunk as Buffer);
        const pause = pauseNow();
        if (pause >= 0) await new Promise((resolve) => setTimeout(resolve, pause));
      }
      return Buffer.concat(chunks).toString();
    };
    const command = () => ssh`for i in 1 2 3 4 5; do seq $i 40000; seq $i 25000 >&2; done`;

    const stdoutStreamed = command();
    const stdoutRead = await readUnevenly(stdoutStreamed.stdout);
    const stdoutResult = await stdoutStreamed;
    expect({ stdout: stdoutRead === expected.stdout, stderr: stdoutResult.stderr === expected.stderr }).toEqual({ stdout: true, stderr: true });

    const stderrStreamed = command();
    const stderrRead = await readUnevenly(stderrStreamed.stderr);
    const stderrResult = await stderrStreamed;
    expect({ stdout: stderrResult.stdout === expected.stdout, stderr: stderrRead === expected.stderr }).toEqual({ stdout: true, stderr: true });

    const bothStreamed = command();
    const [outRead, errRead] = await Promise.all([readUnevenly(bothStreamed.stdout), readUnevenly(bothStreamed.stderr)]);
    expect((await bothStreamed).exitCode).toBe(0);
    expect({ stdout: outRead === expected.stdout, stderr: errRead === expected.stderr }).toEqual({ stdout: true, stderr: true });
  }, 60_000);

  it('maxBuffer does not apply to a streamed output; the other stream is still kept', async () => {
    const ssh = sshOn();
    const cmd = ssh`head -c 5000000 /dev/zero; echo kept >&2`.maxBuffer(1000);
    let bytes = 0;
    cmd.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    const result = await cmd;
    expect(bytes).toBe(5_000_000);
    expect(result).toMatchObject({ ok: true, stdout: '', stderr: 'kept\n' });
  });

  it('pipe() streams stdout into a Writable and returns the command, which resolves with the result', async () => {
    const ssh = sshOn();
    const hash = createHash('sha256');
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done();
      },
    });
    const result = await ssh`seq 1 200000`.pipe(sink);
    expect(result.ok).toBe(true);
    let expected = '';
    for (let i = 1; i <= 200_000; i++) expected += `${i}\n`;
    expect(hash.digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
    expect(sink.writableFinished).toBe(true);
  });

  it('a consumer that stops reading stops the remote writer (its write count stands still), and reading again resumes it', async () => {
    const ssh = sshOn();
    const marker = needle();
    const cmd = ssh`exec yes ${marker}`;
    const stream = cmd.stdout;
    let received = 0;
    let pauseAt = 20 * MiB;
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > pauseAt) stream.pause();
    });
    await until(() => stream.isPaused(), 60_000, '20 MiB read');
    const [line] = await remoteProcesses(`yes ${marker}`);
    expect(line).toBeDefined();
    const pids = (await server.exec(['sh', '-c', `for f in /proc/[0-9]*/cmdline; do if tr '\\0' ' ' <"$f" 2>/dev/null | grep -q '^yes ${marker}'; then p=\${f#/proc/}; echo \${p%/cmdline}; fi; done`])).stdout.trim().split('\n');
    expect(pids).toHaveLength(1);
    const written = async (): Promise<number> => {
      // Its own user may read its counters (root in the container may not: no CAP_SYS_PTRACE).
      const io = (await server.exec(['cat', `/proc/${pids[0]}/io`], { user: 'tester' })).stdout;
      return Number(/wchar: (\d+)/.exec(io)![1]);
    };
    // Once the window and the buffers are full, yes is blocked: its count stands still.
    let last = await written();
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const now = await written();
      if (now === last) break;
      last = now;
    }
    const memoryBefore = process.memoryUsage().rss;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await written()).toBe(last);
    // What the client holds: at most the SSH window and the streams' buffers past what was read.
    expect(last - received).toBeLessThan(16 * MiB);
    expect(process.memoryUsage().rss - memoryBefore).toBeLessThan(64 * MiB);
    pauseAt = Infinity;
    stream.resume();
    await until(() => received > last + 10 * MiB, 60_000, 'more read after resuming');
    stream.destroy();
    expect(await rejection(cmd)).toBeInstanceOf(AbortedError);
    await untilGone(`yes ${marker}`);
  }, 120_000);

  it('a slow consumer (about 5 MB/s) of endless output holds client memory flat', async () => {
    const ssh = sshOn();
    const cmd = ssh`yes`;
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    let received = 0;
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        // 5 MB/s: each chunk takes its share of a second.
        setTimeout(done, (chunk.length / 5_000_000) * 1000);
      },
    });
    cmd.pipe(slow);
    await until(() => received > 15_000_000, 60_000, '15 MB read slowly');
    clearInterval(sampler);
    cmd.stdout.destroy();
    expect(await rejection(cmd)).toBeInstanceOf(AbortedError);
    const growthMiB = (peak - before) / MiB;
    console.info(`slow consumer: ${(received / MiB).toFixed(0)} MiB read, RSS grew by ${growthMiB.toFixed(1)} MiB at its peak`);
    expect(growthMiB).toBeLessThan(64);
  }, 120_000);
});

for (const login of ['tester', 'root'] as const) {
  describe(`stopping early (${login} login)`, () => {
    it('break out of for await after 5 lines of tail -f: no tail left on the server, the slot is free, await rejects with AbortedError', async () => {
      const pool = newPool({ maxConnections: 1, maxChannelsPerConnection: 1 });
      const ssh = sshOn({ username: login }, pool);
      const file = `/tmp/streams-tail-${needle()}`;
      await ssh`seq 1 20 > ${file}`;
      const cmd = ssh`tail -n +1 -f ${file}`;
      const lines: string[] = [];
      for await (const line of cmd) {
        lines.push(line);
        if (lines.length === 5) break;
      }
      expect(lines).toEqual(['1', '2', '3', '4', '5']);
      const error = await rejection(cmd);
      expect(error).toBeInstanceOf(AbortedError);
      await untilGone(`tail -n +1 -f ${file}`);
      // The one slot is free: the next command runs.
      await expect(withTimeout(ssh`rm -f ${file}; echo next`, 30_000, 'next command')).resolves.toMatchObject({ stdout: 'next\n' });
    }, 60_000);

    it('destroying the stream ends the remote process group; nothrow() resolves', async () => {
      const ssh = sshOn({ username: login });
      const marker = needle();
      const cmd = ssh`sleep ${marker} & yes`.nothrow();
      const stream = cmd.stdout;
      await new Promise((resolve) => stream.once('data', resolve));
      stream.destroy();
      const result = await cmd;
      expect(result.ok).toBe(false);
      await untilGone(`sleep ${marker}`);
    }, 60_000);

    it('a timeout ends a streamed command: the iteration throws CommandTimeoutError and nothing is left running', async () => {
      const ssh = sshOn({ username: login });
      const marker = needle();
      const cmd = ssh`echo started; exec sleep ${marker}`.timeout(1_500);
      const lines: string[] = [];
      const error = await rejection((async () => {
        for await (const line of cmd) lines.push(line);
      })());
      expect(lines).toEqual(['started']);
      expect(error).toBeInstanceOf(CommandTimeoutError);
      expect(await rejection(cmd)).toBe(error);
      await untilGone(`sleep ${marker}`);
    }, 60_000);

    it('an abort signal ends a streamed command and nothing is left running', async () => {
      const ssh = sshOn({ username: login });
      const marker = needle();
      const controller = new AbortController();
      const cmd = ssh`echo started; exec sleep ${marker}`.signal(controller.signal);
      const lines: string[] = [];
      const error = await rejection((async () => {
        for await (const line of cmd) {
          lines.push(line);
          controller.abort();
        }
      })());
      expect(lines).toEqual(['started']);
      expect(error).toBeInstanceOf(AbortedError);
      await untilGone(`sleep ${marker}`);
    }, 60_000);
  });
}

describe('streaming stdin', () => {
  it('1 GiB from an async iterable into sha256sum gives the right hash', async () => {
    const ssh = sshOn();
    const chunk = Buffer.alloc(MiB);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131) % 251;
    const expected = createHash('sha256');
    async function* gibibyte(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 1024; i++) {
        expected.update(chunk);
        yield chunk;
      }
    }
    const result = await ssh`sha256sum`.stdin(gibibyte()).timeout(600_000);
    expect(result.stdout.split(' ')[0]).toBe(expected.digest('hex'));
  }, 660_000);

  it('a Readable is read no faster than the command takes it', async () => {
    const ssh = sshOn();
    let pulled = 0;
    const source = new Readable({
      read() {
        pulled += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 0x61));
      },
    });
    const marker = needle();
    // The command reads nothing until the file appears: meanwhile only the window and buffers fill.
    const flag = `/tmp/streams-go-${marker}`;
    const running = ssh`while [ ! -e ${flag} ]; do sleep 0.05; done; head -c 10000000 | wc -c`.stdin(source);
    const done = running.then((r) => r);
    await until(() => pulled > 2 * MiB, 30_000, 'some input read');
    let last = pulled;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (pulled === last) break;
      last = pulled;
    }
    expect(pulled).toBeLessThan(32 * MiB);
    await sshOn()`touch ${flag}`;
    await expect(done).resolves.toMatchObject({ ok: true, stdout: '10000000\n' });
    // head stopped reading: the source was closed, not read on forever.
    expect(source.destroyed).toBe(true);
  }, 60_000);

  it('strings, and a stream that ends, close stdin: the command sees EOF', async () => {
    const ssh = sshOn();
    const result = await ssh`wc -l`.stdin(Readable.from(['a\n', 'b\n', Buffer.from('c\n')]));
    expect(result.stdout.trim()).toBe('3');
  });

  it('a stdin stream that fails stops the command with AbortedError carrying the failure', async () => {
    const ssh = sshOn();
    const failure = new Error('disk went away');
    async function* failing(): AsyncGenerator<string> {
      yield 'first\n';
      throw failure;
    }
    const marker = needle();
    const error = await rejection(ssh`cat; exec sleep ${marker}`.stdin(failing()));
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toBe(failure);
    await untilGone(`sleep ${marker}`);
  }, 60_000);
});

describe('limits and failures', () => {
  it('MaxSessions=2: streamed and buffered commands mixed all finish with their full output', async () => {
    const limited = await startSshd({ config: { MaxSessions: 2 } });
    try {
      const pool = newPool({ maxConnections: 1 });
      const ssh = $.ssh(sshdTarget(limited, pool));
      const streamed = Array.from({ length: 4 }, async () => {
        let count = 0;
        for await (const line of ssh`seq 1 50000`) if (line !== '') count += 1;
        return count;
      });
      const buffered = Array.from({ length: 4 }, () => ssh`seq 1 50000 | wc -l`.then((r) => Number(r.stdout.trim())));
      const counts = await withTimeout(Promise.all([...streamed, ...buffered]), 120_000, 'every command');
      expect(counts).toEqual(Array.from({ length: 8 }, () => 50_000));
    } finally {
      await limited.remove();
    }
  }, 180_000);

  it('a command that ended before its server died keeps all its output and its exit status for a reader that was behind (regression: ConnectionLostError, the held output dropped)', async () => {
    const dying = await startSshd();
    try {
      const pool = newPool();
      const ssh = $.ssh(sshdTarget(dying, pool));
      const cmd = ssh`head -c 1000000 /dev/zero; : ended-before-death`;
      const chunks = cmd.stdout[Symbol.asyncIterator]();
      let stdoutBytes = ((await chunks.next()).value as Buffer).length;
      // The command ends and everything it said reaches the client before a second command's
      // answers on the same connection do; then the server dies under the slow reader.
      await untilGone('ended-before-death', dying);
      await ssh`true`;
      await dying.kill();
      await until(() => pool.getStats().totalConnections === 0, 15_000, 'the pool saw the connection go');
      for (let chunk = await chunks.next(); !chunk.done; chunk = await chunks.next()) stdoutBytes += (chunk.value as Buffer).length;
      const result = await cmd;
      expect({ stdoutBytes, ok: result.ok, exitCode: result.exitCode }).toEqual({ stdoutBytes: 1_000_000, ok: true, exitCode: 0 });
    } finally {
      await dying.remove();
    }
  }, 60_000);

  it('a server that dies mid-stream: the iteration throws ConnectionLostError, await rejects with it, nothrow() resolves', async () => {
    const dying = await startSshd();
    try {
      const pool = newPool();
      const ssh = $.ssh(sshdTarget(dying, pool));
      const cmd = ssh`yes`;
      const tolerant = ssh`while :; do echo x; sleep 0.01; done`.nothrow();
      let lines = 0;
      let tolerantLines = 0;
      const tolerantDone = (async () => {
        for await (const line of tolerant) if (line === 'x') tolerantLines += 1;
      })();
      const error = await rejection((async () => {
        let killed = false;
        for await (const _line of cmd) {
          lines += 1;
          // Both commands are under way when the server dies.
          if (!killed && lines >= 1000 && tolerantLines > 0) {
            killed = true;
            void dying.kill();
          }
        }
      })());
      expect(lines).toBeGreaterThanOrEqual(1000);
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect(await rejection(cmd)).toBe(error);
      await withTimeout(tolerantDone, 60_000, 'the tolerant iteration');
      expect(tolerantLines).toBeGreaterThan(0);
      expect(await tolerant).toMatchObject({ ok: false });
    } finally {
      await dying.remove();
    }
  }, 120_000);
});
