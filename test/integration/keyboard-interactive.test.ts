// Keyboard-interactive logins through PAM on OpenSSH: the server allows no other method, so
// the password must travel as the answer to PAM's prompt.
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, AuthenticationError, SSHConnectionPool } from '../../src/index.js';
import type { KeyboardInteractivePrompt } from '../../src/index.js';
import { startSshd, TEST_PASSWORD } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { withTimeout } from '../support/with-timeout.js';

let server: SshdServer;
const pools: SSHConnectionPool[] = [];

beforeAll(async () => {
  server = await startSshd({
    config: { UsePAM: 'yes', KbdInteractiveAuthentication: 'yes', PasswordAuthentication: 'no', PubkeyAuthentication: 'no', AuthenticationMethods: 'keyboard-interactive', MaxSessions: 2 },
  });
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => withTimeout(pool.closeAll(), 10_000, 'closeAll()')));
});

function target(extra: object, options: ConstructorParameters<typeof SSHConnectionPool>[0] = {}) {
  const pool = new SSHConnectionPool(options);
  pools.push(pool);
  return { host: server.host, port: server.port, username: server.username, hostKey: { fingerprints: [server.hostKeyFingerprint] }, pool, ...extra };
}

describe('keyboard-interactive through PAM', () => {
  it("the target's password answers PAM's password prompt", async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const ssh = $.ssh(target({ password: TEST_PASSWORD }, { tracerProvider }));
    expect((await ssh`id -un`).stdout).toBe('tester\n');
    const connect = exporter.getFinishedSpans().find((span) => span.name === 'ssh.connect');
    expect(connect?.attributes['ssh.auth.method']).toBe('keyboard-interactive');
  });

  it('onKeyboardInteractive sees the prompt PAM sends and answers it', async () => {
    const seen: KeyboardInteractivePrompt[][] = [];
    const ssh = $.ssh(target({
      onKeyboardInteractive: async (prompts: readonly KeyboardInteractivePrompt[]) => {
        seen.push([...prompts]);
        return [TEST_PASSWORD];
      },
    }));
    expect((await ssh`echo in`).stdout).toBe('in\n');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual([{ prompt: expect.stringMatching(/password/i) as unknown as string, echo: false }]);
  });

  it('a wrong password is an AuthenticationError that does not show it', async () => {
    const wrong = 'not-the-password-7731';
    const error = await $.ssh(target({ password: wrong }))`true`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(JSON.stringify(error) + (error as Error).message).not.toContain(wrong);
  });
});
