// What a command error puts into logs: a one-line message whose stderr tail cannot carry
// terminal control, and a JSON form bounded whatever the command printed. Commands run under a
// real /bin/sh on the in-process server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, CommandFailedError, CommandTimeoutError, ERROR_JSON_OUTPUT_CHARS, SSHConnectionPool } from '../../../src/index.js';
import type { CommandError, CommandErrorJSON } from '../../../src/index.js';
import { STDERR_TAIL_CHARS, stderrTail } from '../../../src/command/error-mapping.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';

let server: EmbeddedSshServer;
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;

beforeAll(async () => {
  server = await new EmbeddedSshServer().start();
  pool = new SSHConnectionPool();
  ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
});

afterAll(async () => {
  await pool.closeAll();
  await server.stop();
});

async function rejection(command: PromiseLike<unknown>): Promise<CommandError> {
  try {
    await command;
  } catch (error) {
    return error as CommandError;
  }
  throw new Error('expected the command to reject');
}

// C0 (newlines and tabs included), DEL, C1, line separators, bidi overrides and isolates.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('the stderr tail of CommandFailedError.message', () => {
  it('regression: control characters in stderr reached terminals and logs through the message — they are stripped', async () => {
    const error = await rejection(ssh`printf '\\033]0;owned\\007\\033[2J\\033[1;31mred\\033[0m\\r\\n2026-01-01 INFO forged line\\n\\342\\200\\256txt.exe\\t\\302\\233x' >&2; exit 1`);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error.message).not.toMatch(CONTROL);
    expect(error.message).toMatch(/exited with code 1: red 2026-01-01 INFO forged line txt\.exe x$/);
    // The raw bytes are still in the result for whoever reads them.
    expect(error.stderr).toContain('\u001b[2J');
  });

  it('can hold what the remote shell echoes back, such as a missing .cwd() directory (documented)', async () => {
    const error = await rejection(ssh`true`.cwd('/no/such/dir-with\nnewline'));
    expect(error.message).not.toMatch(CONTROL);
    expect(error.message).toContain('/no/such/dir-with newline');
  });

  it(`keeps the last ${STDERR_TAIL_CHARS} characters after a '…', never half a surrogate pair`, async () => {
    const error = await rejection(ssh`head -c 5000 /dev/zero | tr '\\0' x >&2; printf 'END' >&2; exit 2`);
    const tail = error.message.slice(error.message.indexOf(': ') + 2);
    expect(tail).toBe(`…${'x'.repeat(STDERR_TAIL_CHARS - 3)}END`);
    // 300 code units from the end start on the second half of a pair: that half is dropped.
    expect(stderrTail(`${'😀'.repeat(400)}b`)).toBe(`…${'😀'.repeat((STDERR_TAIL_CHARS - 2) / 2)}b`);
    expect(stderrTail('\n\t  \u001b[0m\n')).toBe('');
  });
});

describe('JSON.stringify(error): a short form for logs', () => {
  it('regression: JSON.stringify(error) held the whole output (up to 2 × 16 MiB) — it keeps the end of each stream and the sizes', async () => {
    const error = await rejection(ssh`head -c 3000000 /dev/zero | tr '\\0' o; head -c 2000000 /dev/zero | tr '\\0' e >&2; exit 5`.maxBuffer(4_000_000));
    const json = JSON.stringify(error);
    expect(json.length).toBeLessThan(2 * ERROR_JSON_OUTPUT_CHARS + 1_000);
    const parsed = JSON.parse(json) as CommandErrorJSON;
    expect(parsed).toMatchObject({ name: 'CommandFailedError', code: 'ERR_SSHPOOL_COMMAND_FAILED', message: error.message });
    expect(parsed.result).toMatchObject({ exitCode: 5, ok: false, stdoutBytes: 3_000_000, stderrBytes: 2_000_000, template: expect.stringContaining('head -c') });
    expect(parsed.result.stdout).toBe(`…${'o'.repeat(ERROR_JSON_OUTPUT_CHARS)}`);
    expect(parsed.result.stderr).toBe(`…${'e'.repeat(ERROR_JSON_OUTPUT_CHARS)}`);
    // The whole output is still the result's.
    expect(error.result.stdout.length).toBe(3_000_000);
    expect(JSON.stringify(error.result).length).toBeGreaterThan(5_000_000);
  });

  it("keeps a subclass's own fields and short output whole", async () => {
    const error = await rejection(ssh`echo partial; sleep 10`.timeout(1500));
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: 'CommandTimeoutError', timeoutMs: 1500, result: { stdout: 'partial\n', stdoutBytes: 8 } });
  });
});
