// Permanent connect failures: a wrong password, a key the server does not know, a host key
// that changed under a pinned fingerprint, a known_hosts file or accept-new. Each must fail
// at once with its typed error, be tried exactly once (never retried: retries lock accounts
// and hide attacks), leak no secret into errors or events, and leave nothing open behind.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, AuthenticationError, HostKeyError } from '../../../src/index.js';
import type { SSHConnectionPool, SSHTarget } from '../../../src/index.js';
import { generateKeyPair } from '../../support/generate-key-pair.js';
import { startSshd } from '../../support/sshd.js';
import type { SshdServer } from '../../support/sshd.js';
import { expectNoSecrets, failureOf, newPool, recordEvents, targetFor, tcpSockets, textOf, until } from './shared.js';


// VERBOSE makes sshd log every accepted TCP connection: the server's own count of attempts.
const VERBOSE = { LogLevel: 'VERBOSE' };
const CONNECTION_LINE = /Connection from 127\.0\.0\.1 port \d+ on 127\.0\.0\.1 port \d+/g;

async function connectionsSeen(server: SshdServer): Promise<number> {
  return ((await server.logs()).match(CONNECTION_LINE) ?? []).length;
}

/** Waits until sshd has logged `expected` more connections than `before` (logs reach Docker asynchronously). */
async function expectServerSaw(server: SshdServer, before: number, expected: number): Promise<void> {
  const deadline = performance.now() + 2_000;
  let seen = (await connectionsSeen(server)) - before;
  while (seen < expected && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    seen = (await connectionsSeen(server)) - before;
  }
  // A moment more, so that an unexpected retry would have shown up too.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect((await connectionsSeen(server)) - before, 'TCP connections sshd accepted').toBe(expected);
}

/** The pool holds nothing and the process holds no more TCP sockets than before. */
async function expectNothingLeft(pool: SSHConnectionPool, socketsBefore: number): Promise<void> {
  expect(pool.getStats()).toMatchObject({
    activeConnections: 0,
    idleConnections: 0,
    totalConnections: 0,
    pendingRequests: 0,
    openChannels: 0,
  });
  for (const counts of Object.values(pool.getStats().hosts)) {
    expect(counts).toEqual({ activeConnections: 0, idleConnections: 0, totalConnections: 0, pendingRequests: 0, openChannels: 0 });
  }
  // Closed sockets release their handles on a later tick.
  await until(() => tcpSockets() <= socketsBefore, 2_000, `TCP sockets back to ${socketsBefore} (now ${tcpSockets()})`);
}

let server: SshdServer;
const tempDir = mkdtempSync(join(tmpdir(), 'sshpool-faults-'));

beforeAll(async () => {
  server = await startSshd({ config: VERBOSE });
});
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe('credentials the server rejects', () => {
  it('fails a wrong password at once with AuthenticationError, one attempt, no secret anywhere, nothing left open', async () => {
    const password = 'wrong-Pa55word-that-must-never-be-printed';
    const pool = newPool();
    const recorder = recordEvents(pool);
    const target = targetFor(server, pool, { privateKey: undefined, password });
    const socketsBefore = tcpSockets();
    const seenBefore = await connectionsSeen(server);

    const started = performance.now();
    const error = await failureOf($.ssh(target)`echo never`);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_AUTH', transient: false, port: server.port, host: server.host });
    expect(elapsed).toBeLessThan(2_000);

    expect(recorder.count('connection:failed')).toBe(1);
    expect(recorder.named('connection:failed')[0]!.args[1]).toBe(error);
    await expectServerSaw(server, seenBefore, 1);
    const logs = await server.logs();
    expect((logs.match(/Failed password for tester/g) ?? []).length).toBe(1);

    expectNoSecrets(textOf(error) + textOf(recorder.events), [password]);
    expect(pool.getMetrics()).toMatchObject({ connectionsFailed: 1, connectionsCreated: 0 });
    await expectNothingLeft(pool, socketsBefore);
    console.info(`wrong password: AuthenticationError after ${Math.round(elapsed)} ms`);
  });

  it('costs the server one failed login when many commands wait, however many connections the burst started', async () => {
    const pool = newPool();
    const recorder = recordEvents(pool);
    const target = targetFor(server, pool, { privateKey: undefined, password: 'not-the-password' });
    const seenBefore = await connectionsSeen(server);
    const failedLoginsBefore = ((await server.logs()).match(/Failed password for tester/g) ?? []).length;
    const socketsBefore = tcpSockets();
    // 12 waiters over 5 channels per connection: the pool opens up to three connections for them.
    const started = performance.now();
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => failureOf($.ssh(target)`true`)));
    expect(outcomes.every((e) => e instanceof AuthenticationError)).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
    // The first failure fails every waiter. The other opens started once the first reached the
    // server, ran their key exchange beside it and waited for its login: they end without one.
    await expectNothingLeft(pool, socketsBefore);
    const failedOpens = recorder.count('connection:failed');
    expect(failedOpens).toBe(3);
    expect(pool.getMetrics().connectionsFailed).toBe(failedOpens);
    await expectServerSaw(server, seenBefore, failedOpens);
    const failedLogins = ((await server.logs()).match(/Failed password for tester/g) ?? []).length - failedLoginsBefore;
    expect(failedLogins, 'failed logins sshd logged').toBe(1);
    console.info(`12 commands with a wrong password: ${failedOpens} connection attempts, ${failedLogins} failed login at the server`);
  });

  it('costs one failed login when the server ends the login after a refusal (MaxAuthTries 1), never retried', async () => {
    const strict = await startSshd({ config: { ...VERBOSE, MaxAuthTries: 1 } });
    const pool = newPool();
    const recorder = recordEvents(pool);
    const target = targetFor(strict, pool, { privateKey: undefined, password: 'not-the-password' });
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => failureOf($.ssh(target)`true`)));
    for (const outcome of outcomes) expect(outcome).toBeInstanceOf(AuthenticationError);
    await until(() => pool.getStats().totalConnections === 0, 5_000, 'no connection left');
    const logs = await strict.logs();
    // sshd ends the connection at its first failure ("Too many authentication failures"): a
    // transient error, were it not for the refusal before it, and the next waiting attempt
    // would log in and fail again.
    expect((logs.match(/Failed password for tester/g) ?? []).length, 'failed logins sshd logged').toBe(1);
    console.info(`MaxAuthTries 1, 12 commands with a wrong password: ${recorder.count('connection:failed')} failed opens, 1 failed login`);
  });

  it('fails a key the server has not authorised with AuthenticationError, without the key text anywhere', async () => {
    const stranger = generateKeyPair('not-authorised');
    const pool = newPool();
    const recorder = recordEvents(pool);
    const target = targetFor(server, pool, { privateKey: stranger.private });
    const socketsBefore = tcpSockets();
    const seenBefore = await connectionsSeen(server);

    const started = performance.now();
    const error = await failureOf($.ssh(target)`echo never`);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: 'ERR_SSHPOOL_AUTH', transient: false });
    expect(elapsed).toBeLessThan(2_000);
    expect(recorder.count('connection:failed')).toBe(1);
    await expectServerSaw(server, seenBefore, 1);

    expectNoSecrets(textOf(error) + textOf(recorder.events), [stranger.private]);
    await expectNothingLeft(pool, socketsBefore);
  });
});

describe('host keys', () => {
  it('accepts, pins and records the original key, then rejects the changed key of a replacement server', async () => {
    const original = await startSshd({ config: VERBOSE });
    const knownHostsFile = join(tempDir, 'known_hosts');
    writeFileSync(knownHostsFile, `${original.knownHostsLine}\n`);
    const acceptNewFile = join(tempDir, 'accept-new', 'known_hosts');
    const pool = newPool();
    const recorder = recordEvents(pool);
    const targets: Record<string, SSHTarget> = {
      pinned: targetFor(original, pool),
      knownHosts: targetFor(original, pool, { hostKey: { knownHostsFile } }),
      acceptNew: targetFor(original, pool, { hostKey: { policy: 'accept-new', knownHostsFile: acceptNewFile } }),
    };
    for (const target of Object.values(targets)) expect((await $.ssh(target)`echo trusted`).stdout).toBe('trusted\n');
    // accept-new recorded the key it met, in the format of the fixture's known_hosts line.
    expect(readFileSync(acceptNewFile, 'utf8')).toBe(`${original.knownHostsLine}\n`);
    // A second connection under accept-new finds the key and does not append it again.
    const again = newPool();
    await $.ssh({ ...targets.acceptNew!, pool: again })`true`;
    expect(readFileSync(acceptNewFile, 'utf8')).toBe(`${original.knownHostsLine}\n`);
    await again.closeAll();

    // The host is "reinstalled": same address and port, new host key.
    await original.remove();
    await until(() => pool.getStats().totalConnections === 0, 5_000, 'connections to the removed server closed');
    const replacement = await startSshd({ port: original.port, config: VERBOSE });
    expect(replacement.hostKeyFingerprint).not.toBe(original.hostKeyFingerprint);
    const socketsBefore = tcpSockets();
    const seenBefore = await connectionsSeen(replacement);
    const failedBefore = recorder.count('connection:failed');

    const expectations: Record<string, string> = { pinned: 'not-pinned', knownHosts: 'mismatch', acceptNew: 'mismatch' };
    for (const [name, target] of Object.entries(targets)) {
      const started = performance.now();
      const error = await failureOf($.ssh(target)`echo intercepted`);
      expect(error, name).toBeInstanceOf(HostKeyError);
      expect(error, name).toMatchObject({
        code: 'ERR_SSHPOOL_HOST_KEY',
        reason: expectations[name],
        transient: false,
        fingerprint: replacement.hostKeyFingerprint,
        keyType: 'ssh-ed25519',
      });
      expect(performance.now() - started, name).toBeLessThan(2_000);
      expectNoSecrets(textOf(error), [original.privateKey, original.hostKey, replacement.hostKey]);
    }
    // One failed open per target, one TCP connection each at the server: no retry.
    expect(recorder.count('connection:failed') - failedBefore).toBe(3);
    await expectServerSaw(replacement, seenBefore, 3);
    // The changed key was not recorded by accept-new.
    expect(readFileSync(acceptNewFile, 'utf8')).toBe(`${original.knownHostsLine}\n`);
    expectNoSecrets(textOf(recorder.events), [original.privateKey, original.hostKey, replacement.hostKey]);
    await expectNothingLeft(pool, socketsBefore);
  });

  it("rejects an unknown host under 'strict' with reason 'unknown', and a listed one with a different key as 'mismatch'", async () => {
    const pool = newPool();
    const emptyFile = join(tempDir, 'empty_known_hosts');
    writeFileSync(emptyFile, '');
    const unknown = await failureOf($.ssh(targetFor(server, pool, { hostKey: { knownHostsFile: emptyFile } }))`true`);
    expect(unknown).toBeInstanceOf(HostKeyError);
    expect(unknown).toMatchObject({ reason: 'unknown', fingerprint: server.hostKeyFingerprint });
    const otherKey = generateKeyPair('other-host');
    const line = server.knownHostsLine.split(' ').slice(0, 2).join(' ') + ' ' + otherKey.public.split(' ')[1];
    const wrongFile = join(tempDir, 'wrong_known_hosts');
    writeFileSync(wrongFile, `${line}\n`);
    const mismatch = await failureOf($.ssh(targetFor(server, pool, { hostKey: { knownHostsFile: wrongFile } }))`true`);
    expect(mismatch).toMatchObject({ code: 'ERR_SSHPOOL_HOST_KEY', reason: 'mismatch' });
  });
});
