// One bad command among healthy ones, all on one connection to a real OpenSSH server
// (maxConnections: 1): each bad command gets its own clear result or error, the healthy
// commands running beside it finish with exactly their output, and the connection survives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, CommandFailedError, CommandTimeoutError, InvalidArgumentError, OutputLimitError, SSHConnectionPool } from '../../src/index.js';
import type { CommandResult } from '../../src/index.js';
import { MAX_COMMAND_BYTES } from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { withTimeout } from '../support/with-timeout.js';

let server: SshdServer;
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;

beforeAll(async () => {
  server = await startSshd();
  pool = new SSHConnectionPool({ maxConnections: 1 });
  ssh = $.ssh(sshdTarget(server, pool));
  await ssh`true`;
});

afterAll(async () => {
  await withTimeout(pool.closeAll(), 10_000, 'closeAll()');
});

/** A bad command as a promise, whether it throws when built or rejects when run. */
function attempt(build: () => PromiseLike<CommandResult>): Promise<CommandResult> {
  try {
    return Promise.resolve(build());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Runs three healthy commands that overlap the bad one on the same connection, and checks
 * that they finish with exactly their output and that the pool still has its one connection.
 */
async function amongNeighbours<T>(bad: () => Promise<T>): Promise<T> {
  const created = pool.getMetrics().connectionsCreated;
  const neighbours = [1, 2, 3].map((n) => ssh`sleep 0.${n}; echo neighbour-${n}; echo err-${n} >&2`);
  const outcome = bad();
  // Handled by the caller once the neighbours are checked; until then it must not count as unhandled.
  outcome.catch(() => {});
  const results = await Promise.all(neighbours);
  results.forEach((result, i) => {
    expect(result).toMatchObject({ ok: true, exitCode: 0, stdout: `neighbour-${i + 1}\n`, stderr: `err-${i + 1}\n` });
  });
  // Whatever the bad command did, the next command reuses the same connection.
  await expect(ssh`echo after`).resolves.toMatchObject({ stdout: 'after\n' });
  expect(pool.getMetrics().connectionsCreated, 'connections opened during this case').toBe(created);
  expect(pool.getStats().totalConnections).toBe(1);
  return outcome;
}

describe('poison inputs on one shared connection', () => {
  it('NUL byte in $.raw() or template text: InvalidArgumentError, nothing sent', async () => {
    const raw = amongNeighbours(() => attempt(() => ssh`echo ${$.raw('a\0b')}`));
    await expect(raw).rejects.toThrow(InvalidArgumentError);
    await expect(amongNeighbours(() => attempt(() => ssh`printf 'a\0b'`))).rejects.toThrow(/NUL byte/);
  });

  // Regression: a command over ~256 KiB made sshd drop the whole connection ("Bad packet
  // length"), failing the commands running beside it with ConnectionLostError.
  it('command over the size limit: InvalidArgumentError naming the limit, nothing sent', async () => {
    const error = await amongNeighbours(() => attempt(() => ssh`echo ${'x'.repeat(300 * 1024)}`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain(`over the limit of ${MAX_COMMAND_BYTES} bytes`);
    expect((error as Error).message).toContain('.stdin()');
  });

  it('command exactly at the size limit runs on OpenSSH', async () => {
    const filler = 'x'.repeat(MAX_COMMAND_BYTES - 'echo at-limit #'.length);
    const result = await amongNeighbours(() => attempt(() => ssh`echo at-limit #${$.raw(filler)}`));
    expect(result).toMatchObject({ ok: true, stdout: 'at-limit\n' });
  });

  it('large data goes through stdin instead, as the limit message suggests', async () => {
    const data = 'y'.repeat(1024 * 1024);
    const result = await amongNeighbours(() => attempt(() => ssh`wc -c`.stdin(data)));
    expect(result.stdout.trim()).toBe(String(data.length));
  });

  it('invalid escape in the template: InvalidArgumentError, no text dropped, nothing sent', async () => {
    const error = await amongNeighbours(() => attempt(() => ssh`sed -e 's/\(foo\)/\1bar/' ${'/etc/hostname'} --version`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain('invalid escape sequence');
  });

  it('lone UTF-16 surrogate in a value: InvalidArgumentError, nothing sent', async () => {
    await expect(amongNeighbours(() => attempt(() => ssh`echo ${'bad\uD83D'}`))).rejects.toThrow(/lone UTF-16 surrogate/);
  });

  it('output past maxBuffer: OutputLimitError with the bytes kept, its channel closed', async () => {
    const error = await amongNeighbours(() => attempt(() => ssh`head -c 64000000 /dev/zero`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputLimitError);
    expect((error as OutputLimitError).result.stdoutBuffer.length).toBeLessThanOrEqual(16 * 1024 * 1024);
  });

  it('large output within maxBuffer: every byte, exactly', async () => {
    const result = await amongNeighbours(() => attempt(() => ssh`head -c 8000000 /dev/zero | tr '\\0' a`));
    expect(result.stdoutBuffer.length).toBe(8_000_000);
    expect(result.stdoutBuffer.every((byte) => byte === 0x61)).toBe(true);
  });

  it('command that closes its own stdout early: its own exit status and stderr', async () => {
    const error = await amongNeighbours(() => attempt(() => ssh`exec >&-; sleep 0.2; echo still-running >&2; exit 4`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).result).toMatchObject({ exitCode: 4, stdout: '', stderr: 'still-running\n' });
  });

  it('command that starts a daemon (its output detached) and exits: ok at once, the daemon keeps running', async () => {
    // A unique duration marks the daemon's process (the image has no pgrep).
    const duration = `29.${process.pid}`;
    // The pattern does not match its own text, so grep and bash never find themselves.
    const pattern = `2[9][.]${process.pid}`;
    const findDaemon = ['bash', '-c', `grep -l -- '${pattern}' /proc/[0-9]*/cmdline`];
    const started = performance.now();
    const result = await amongNeighbours(() => attempt(() => ssh`nohup sleep ${duration} </dev/null >/dev/null 2>&1 & echo started`));
    expect(result).toMatchObject({ ok: true, stdout: 'started\n' });
    expect(performance.now() - started).toBeLessThan(5_000);
    const running = await server.exec(findDaemon);
    expect(running.exitCode, 'the daemon is still running').toBe(0);
    await server.exec(['bash', '-c', `for f in $(grep -l -- '${pattern}' /proc/[0-9]*/cmdline); do p=\${f#/proc/}; kill \${p%/cmdline}; done`]);
  });

  it('command that backgrounds a child still holding its stdout: its own timeout, with the output so far', async () => {
    const error = await amongNeighbours(() => attempt(() => ssh`sleep 30 & echo started`.timeout(1_500))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeoutError);
    // sshd reported the shell's exit, but keeps the channel open while the child holds the pipe.
    expect((error as CommandTimeoutError).result).toMatchObject({ stdout: 'started\n', ok: false });
  });

  it('the server never saw a malformed request', async () => {
    const logs = await server.logs();
    expect(logs).not.toMatch(/Bad packet length|invalid format|Disconnecting/);
  });
});
