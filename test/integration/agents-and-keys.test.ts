// ssh-agent, encrypted keys and ~/.ssh/config against a real OpenSSH server and a real
// ssh-agent started by the test. sshd logs every publickey attempt (LogLevel VERBOSE), which
// is how the order of offered keys is checked from the server's side.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, AuthenticationError, HostKeyError, PrivateKeyError, SSHConnectionPool } from '../../src/index.js';
import { startSshAgent } from '../support/ssh-agent.js';
import type { TestAgent } from '../support/ssh-agent.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

const FIXTURE_KEYS = join(import.meta.dirname, '..', 'fixtures', 'keys');
const PASSPHRASE = 'sshpool-test';
const dir = mkdtempSync(join(tmpdir(), 'sshpool-agents-keys-'));

/** A private copy of a fixture key with mode 0600 (git does not keep it; ssh-add insists). */
function privateCopy(name: string): string {
  const path = join(dir, name);
  copyFileSync(join(FIXTURE_KEYS, name), path);
  chmodSync(path, 0o600);
  try {
    copyFileSync(join(FIXTURE_KEYS, `${name}.pub`), `${path}.pub`);
  } catch {
    // Not every fixture has a .pub file.
  }
  return path;
}

function newKey(name: string): { path: string; publicKey: string; fingerprint: string } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path]);
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim(), fingerprint };
}

const publicKeyOf = (name: string): string => readFileSync(join(FIXTURE_KEYS, `${name}.pub`), 'utf8').trim();

let server: SshdServer;
let pool: SSHConnectionPool;
let agent: TestAgent;
let strangerAgent: TestAgent;
const authorized = newKey('agent_authorized');
const stranger = newKey('agent_stranger');
// The agent also holds a decrypted copy of this encrypted fixture key.
const encryptedInAgent = privateCopy('openssh_ed25519_encrypted');

beforeAll(async () => {
  server = await startSshd({
    config: { LogLevel: 'VERBOSE' },
    authorizedKeys: [
      authorized.publicKey,
      publicKeyOf('openssh_ed25519_encrypted'),
      publicKeyOf('openssh_rsa_encrypted'),
      publicKeyOf('pem_rsa_encrypted'),
      publicKeyOf('pem_ecdsa_encrypted'),
      publicKeyOf('pem_rsa'),
    ],
  });
  pool = new SSHConnectionPool();
  agent = await startSshAgent();
  agent.add(stranger.path); // first in the agent's order, and not authorised
  agent.add(authorized.path);
  const decrypted = join(dir, 'decrypted_copy');
  copyFileSync(encryptedInAgent, decrypted);
  chmodSync(decrypted, 0o600);
  execFileSync('ssh-keygen', ['-q', '-p', '-P', PASSPHRASE, '-N', '', '-f', decrypted]);
  agent.add(decrypted);
  strangerAgent = await startSshAgent();
  strangerAgent.add(stranger.path);
});

afterAll(async () => {
  await pool?.closeAll();
  await agent?.stop();
  await strangerAgent?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const base = () => ({
  host: server.host,
  port: server.port,
  username: server.username,
  configFile: false as const,
  hostKey: { fingerprints: [server.hostKeyFingerprint] },
  pool,
});

/** Fingerprints sshd logged for publickey attempts since `from`, in order. */
/**
 * The public keys the login that was just accepted offered, in order. sshd's log of an earlier
 * test's connection can arrive late, after `from`: only the lines of the accepted login's own
 * connection (its client port) count, and the accepted line is waited for.
 */
async function publickeyAttempts(from: number): Promise<Array<{ outcome: string; fingerprint: string }>> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const log = (await server.logs()).slice(from);
    const lines = [...log.matchAll(/(Failed|Accepted) publickey for \S+ from \S+ port (\d+) ssh2: \S+ (SHA256:\S+)/g)]
      .map((m) => ({ outcome: m[1]!, port: m[2]!, fingerprint: m[3]! }));
    const accepted = lines.filter((line) => line.outcome === 'Accepted').at(-1);
    if (accepted || performance.now() > deadline) {
      return lines.filter((line) => !accepted || line.port === accepted.port).map(({ outcome, fingerprint }) => ({ outcome, fingerprint }));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('ssh-agent', () => {
  it('authenticates with $SSH_AUTH_SOCK when the target names no credential, as ssh does', async () => {
    const saved = process.env['SSH_AUTH_SOCK'];
    process.env['SSH_AUTH_SOCK'] = agent.socket;
    try {
      const { host, port, username, configFile, hostKey } = base();
      const pooled = new SSHConnectionPool();
      const result = await $.ssh({ host, port, username, configFile, hostKey, pool: pooled })`whoami`;
      expect(result.stdout.trim()).toBe(server.username);
      await pooled.closeAll();
    } finally {
      if (saved === undefined) delete process.env['SSH_AUTH_SOCK'];
      else process.env['SSH_AUTH_SOCK'] = saved;
    }
  });

  it('offers the agent keys in the agent\'s order: the server sees the stranger refused, then the authorised key accepted', async () => {
    const from = (await server.logs()).length;
    await $.ssh({ ...base(), agent: agent.socket, poolConfig: { idleTimeout: 1 } })`true`;
    const attempts = await publickeyAttempts(from);
    expect(attempts.slice(0, 2)).toEqual([
      { outcome: 'Failed', fingerprint: stranger.fingerprint },
      { outcome: 'Accepted', fingerprint: authorized.fingerprint },
    ]);
  });

  it('fails with AuthenticationError naming each key it tried and where it came from', async () => {
    const error = await $.ssh({ ...base(), agent: strangerAgent.socket })`true`.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    // The pool name carries #N: this endpoint is also reached with other credentials in this file.
    expect((error as Error).message).toMatch(
      new RegExp(`^Authentication failed for ${server.username}@${server.host}:${server.port}(#\\d+)?: the server accepted none of the offered credentials `),
    );
    expect((error as Error).message).toContain(`(tried agent key ssh-ed25519 ${stranger.fingerprint} (agent_stranger))`);
  });

  it('with IdentitiesOnly, offers only the configured key, through the agent that holds it, even though it is encrypted', async () => {
    const config = join(dir, 'identities-only.conf');
    writeFileSync(config, `Host only\n  HostName ${server.host}\n  Port ${server.port}\n  User ${server.username}\n  IdentityFile ${encryptedInAgent}\n  IdentitiesOnly yes\n  IdentityAgent ${agent.socket}\n`);
    const from = (await server.logs()).length;
    const result = await $.ssh({ host: 'only', configFile: config, hostKey: { fingerprints: [server.hostKeyFingerprint] }, pool })`echo via-agent`;
    expect(result.stdout).toBe('via-agent\n');
    const attempts = await publickeyAttempts(from);
    expect(attempts.map((attempt) => attempt.fingerprint)).not.toContain(stranger.fingerprint);
    expect(attempts.at(-1)?.outcome).toBe('Accepted');
  });

  it('forwards the agent only when forwardAgent is true', async () => {
    const probe = 'if [ -S "$SSH_AUTH_SOCK" ]; then echo forwarded; else echo "none:${SSH_AUTH_SOCK:-unset}"; fi';
    const forwarded = await $.ssh({ ...base(), agent: agent.socket, forwardAgent: true })`sh -c ${probe}`;
    expect(forwarded.stdout).toBe('forwarded\n');
    const plain = await $.ssh({ ...base(), agent: agent.socket })`sh -c ${probe}`;
    expect(plain.stdout).toBe('none:unset\n');
  });
});

describe('encrypted keys on a real server', () => {
  for (const name of ['openssh_ed25519_encrypted', 'openssh_rsa_encrypted', 'pem_rsa_encrypted', 'pem_ecdsa_encrypted']) {
    it(`logs in with ${name} and its passphrase`, async () => {
      const result = await $.ssh({ ...base(), privateKey: readFileSync(join(FIXTURE_KEYS, name)), passphrase: PASSPHRASE })`echo ${name}`;
      expect(result.stdout).toBe(`${name}\n`);
    });
  }

  it('a wrong passphrase is a PrivateKeyError at once, before any connection is made', () => {
    const poolKeysBefore = Object.keys(pool.getStats().hosts).length;
    const started = performance.now();
    expect(() => $.ssh({ ...base(), privateKey: readFileSync(join(FIXTURE_KEYS, 'pem_rsa_encrypted')), passphrase: 'wrong' })).toThrow(PrivateKeyError);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(Object.keys(pool.getStats().hosts)).toHaveLength(poolKeysBefore);
  });
});

describe('~/.ssh/config on a real server', () => {
  it('reaches an alias with HostName, Port, User, IdentityFile and UserKnownHostsFile from the file', async () => {
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${server.knownHostsLine}\n`);
    const config = join(dir, 'alias.conf');
    writeFileSync(config, `Host web-1\n  HostName ${server.host}\n  Port ${server.port}\n  User ${server.username}\n  IdentityFile ${privateCopy('pem_rsa')}\n  UserKnownHostsFile ${knownHosts}\n  StrictHostKeyChecking yes\n`);
    const result = await $.ssh({ host: 'web-1', configFile: config, pool })`whoami`;
    expect(result.stdout.trim()).toBe(server.username);
  });

  it('looks the host key up under HostKeyAlias, and refuses when the alias has no entry', async () => {
    const keyLine = server.knownHostsLine.replace(/^\S+/, 'web-key-alias');
    const knownHosts = join(dir, 'known_hosts_alias');
    writeFileSync(knownHosts, `${keyLine}\n`);
    const config = join(dir, 'alias-key.conf');
    const body = (alias: string) =>
      `Host web-2\n  HostName ${server.host}\n  Port ${server.port}\n  User ${server.username}\n  IdentityFile ${privateCopy('pem_rsa')}\n  UserKnownHostsFile ${knownHosts}\n  HostKeyAlias ${alias}\n`;
    writeFileSync(config, body('web-key-alias'));
    expect((await $.ssh({ host: 'web-2', configFile: config, pool })`echo aliased`).stdout).toBe('aliased\n');
    writeFileSync(config, body('no-such-alias'));
    const error = await $.ssh({ host: 'web-2', configFile: config, pool })`true`.then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostKeyError);
    expect((error as Error).message).toContain('Host key for no-such-alias is not known');
  });
});
