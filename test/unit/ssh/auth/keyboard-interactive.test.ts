// Keyboard-interactive logins against the in-process server: a password round, then a
// one-time code, as second-factor PAM stacks ask them.
import { inspect } from 'node:util';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { $, AuthenticationError, ConnectTimeoutError, SSHConnectionPool } from '../../../../src/index.js';
import type { KeyboardInteractivePrompt } from '../../../../src/index.js';
import { EmbeddedSshServer } from '../../../support/embedded-ssh-server.js';

const PASSWORD = 'kbd-password-81f2';
const OTP = '914273';
const TWO_ROUNDS = [[{ prompt: 'Password: ', answer: PASSWORD }], [{ prompt: 'Verification code: ', answer: OTP }]];

const servers: EmbeddedSshServer[] = [];
const pools: SSHConnectionPool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.closeAll()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function serve(rounds = TWO_ROUNDS): Promise<EmbeddedSshServer> {
  const server = await new EmbeddedSshServer({ keyboardInteractive: rounds }).start();
  servers.push(server);
  return server;
}

function newPool(options: ConstructorParameters<typeof SSHConnectionPool>[0] = {}): SSHConnectionPool {
  const pool = new SSHConnectionPool(options);
  pools.push(pool);
  return pool;
}

function target(server: EmbeddedSshServer, pool: SSHConnectionPool, extra: object) {
  return { host: '127.0.0.1', port: server.port, username: server.username, hostKey: { fingerprints: [server.hostKeyFingerprint] }, pool, ...extra };
}

describe('keyboard-interactive logins', () => {
  it('the target password answers the lone password prompt; onKeyboardInteractive the code', async () => {
    const server = await serve();
    const seen: KeyboardInteractivePrompt[][] = [];
    const pool = newPool();
    const ssh = $.ssh(target(server, pool, {
      password: PASSWORD,
      onKeyboardInteractive: async (prompts: readonly KeyboardInteractivePrompt[]) => {
        seen.push([...prompts]);
        return [OTP];
      },
    }));
    expect((await ssh`echo in`).stdout).toBe('in\n');
    expect(seen).toEqual([[{ prompt: 'Verification code: ', echo: false }]]);
  });

  it('onKeyboardInteractive alone answers every round, synchronously too', async () => {
    const server = await serve();
    const ssh = $.ssh(target(server, newPool(), {
      onKeyboardInteractive: (prompts: readonly KeyboardInteractivePrompt[]) => prompts.map((one) => (/code/.test(one.prompt) ? OTP : PASSWORD)),
    }));
    expect((await ssh`echo in`).stdout).toBe('in\n');
  });

  it('is called again for every connection opened, reconnects included', async () => {
    const server = await serve();
    let calls = 0;
    const pool = newPool();
    const ssh = $.ssh(target(server, pool, {
      password: PASSWORD,
      onKeyboardInteractive: () => {
        calls++;
        return [OTP];
      },
    }));
    await ssh`true`;
    // The server drops the connection: the next command opens a new one, which logs in again.
    server.dropAllConnections();
    await expect.poll(() => pool.getStats().totalConnections, { timeout: 10_000 }).toBe(0);
    await ssh`true`;
    expect(calls).toBe(2);
    expect(server.keyboardInteractiveLogins).toBe(2);
  });

  it('a wrong answer is an AuthenticationError that shows no answer', async () => {
    const server = await serve();
    const wrong = 'wrong-code-5521';
    const error = await $.ssh(target(server, newPool(), { password: PASSWORD, onKeyboardInteractive: () => [wrong] }))`true`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    for (const text of [inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error), (error as Error).message]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(PASSWORD);
    }
    expect((error as Error).message).toContain('keyboard-interactive');
  });

  it('waiting for an answer counts against connectionTimeout', async () => {
    const server = await serve();
    const never = new Promise<string[]>(() => {});
    const ssh = $.ssh(target(server, newPool({ connectionTimeout: 500, maxRetries: 0 }), { onKeyboardInteractive: () => never }));
    const error = await ssh`true`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectTimeoutError);
  });

  it('targets with different handlers never share a connection', async () => {
    const server = await serve();
    const pool = newPool();
    const answer = (): string[] => [OTP];
    const first = $.ssh(target(server, pool, { password: PASSWORD, onKeyboardInteractive: answer }));
    const same = $.ssh(target(server, pool, { password: PASSWORD, onKeyboardInteractive: answer }));
    const other = $.ssh(target(server, pool, { password: PASSWORD, onKeyboardInteractive: () => [OTP] }));
    await first`true`;
    await same`true`;
    await other`true`;
    expect(Object.keys(pool.getStats().hosts)).toHaveLength(2);
    expect(server.keyboardInteractiveLogins).toBe(2);
  });

  it('the connect span names the method that logged in, and no answer reaches a span', async () => {
    const server = await serve();
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const ssh = $.ssh(target(server, newPool({ tracerProvider }), { password: PASSWORD, onKeyboardInteractive: () => [OTP] }));
    await ssh`true`;
    const connect = exporter.getFinishedSpans().find((span) => span.name === 'ssh.connect');
    expect(connect?.attributes['ssh.auth.method']).toBe('keyboard-interactive');
    const all = JSON.stringify(exporter.getFinishedSpans().map((span) => ({ attributes: span.attributes, events: span.events })));
    expect(all).not.toContain(OTP);
    expect(all).not.toContain(PASSWORD);
  });
});
