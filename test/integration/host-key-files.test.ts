// Which files decide a host key, compared with OpenSSH itself: the user's known_hosts files
// (two, as UserKnownHostsFile's default `~/.ssh/known_hosts ~/.ssh/known_hosts2`), the global
// ones (`/etc/ssh/ssh_known_hosts`, `ssh_known_hosts2`; here files in a temporary directory
// given to both clients), `UserKnownHostsFile none`, and RevokedHostKeys as a KRL made by
// `ssh-keygen -k` (by key, by SHA256 fingerprint, with a certificate section) or a key list.
// For each row, the real `ssh` (BatchMode) and sshpool decide against the same real sshd,
// under `strict` and `accept-new`; a row may say sshpool is deliberately stricter, and why.
// Neither logs in: a refused login means an accepted key (see host-key-parity.test.ts).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, AuthenticationError, HostKeyError, SSHConnectionPool } from '../../src/index.js';
import type { HostKeyVerification } from '../../src/index.js';
import { overrideOpenSSHEnvironment } from '../../src/core/openssh-environment.js';
import { generateKeyPair } from '../support/generate-key-pair.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { withTimeout } from '../support/with-timeout.js';

type Decision = 'accept' | 'reject';
type Policy = 'strict' | 'accept-new';
const POLICIES: readonly Policy[] = ['strict', 'accept-new'];

/** The four known_hosts files of a row, and the revoked keys file; undefined: absent. */
interface Files {
  readonly user?: string;
  readonly user2?: string;
  readonly global?: string;
  readonly global2?: string;
  /** `UserKnownHostsFile none` */
  readonly userNone?: true;
  /** Revoked keys: a KRL made from this `ssh-keygen -k` spec, or a plain list. */
  readonly revoked?: { readonly krl: string } | { readonly list: string } | 'missing';
}

interface Row {
  readonly name: string;
  readonly files: (c: { hp: string; key: string; other: string; keyFingerprint: string }) => Files;
  readonly openssh: readonly [Decision, Decision];
  readonly stricter?: Partial<Record<Policy, string>>;
}

const ROWS: readonly Row[] = [
  { name: 'key in ~/.ssh/known_hosts2 only', files: (c) => ({ user2: `${c.hp} ${c.key}\n` }), openssh: ['accept', 'accept'] },
  { name: 'another key in ~/.ssh/known_hosts2 only: CHANGED, never accepted as new', files: (c) => ({ user2: `${c.hp} ${c.other}\n` }), openssh: ['reject', 'reject'] },
  { name: 'another key in ssh_known_hosts (global) only', files: (c) => ({ global: `${c.hp} ${c.other}\n` }), openssh: ['reject', 'reject'] },
  { name: 'another key in ssh_known_hosts2 (global) only', files: (c) => ({ global2: `${c.hp} ${c.other}\n` }), openssh: ['reject', 'reject'] },
  { name: 'the right key in the user file, another in the global one', files: (c) => ({ user: `${c.hp} ${c.key}\n`, global: `${c.hp} ${c.other}\n` }), openssh: ['accept', 'accept'] },
  { name: 'key in ssh_known_hosts2 (global) only', files: (c) => ({ global2: `${c.hp} ${c.key}\n` }), openssh: ['accept', 'accept'] },
  { name: '@revoked in the global file, key listed in the user file', files: (c) => ({ user: `${c.hp} ${c.key}\n`, global: `@revoked ${c.hp} ${c.key}\n` }), openssh: ['reject', 'reject'] },
  { name: 'UserKnownHostsFile none, key in the global file', files: (c) => ({ userNone: true, user: `${c.hp} ${c.other}\n`, global: `${c.hp} ${c.key}\n` }), openssh: ['accept', 'accept'] },
  {
    name: 'UserKnownHostsFile none, host unknown (the ~/.ssh/known_hosts with another key is not read)',
    files: (c) => ({ userNone: true, user: `${c.hp} ${c.other}\n` }),
    // ssh too refuses: with no user file there is nowhere to record the new key.
    openssh: ['reject', 'reject'],
  },
  { name: 'RevokedHostKeys: KRL revoking the key (ssh-keygen -k)', files: (c) => ({ user: `${c.hp} ${c.key}\n`, revoked: { krl: `${c.key}\n` } }), openssh: ['reject', 'reject'] },
  { name: 'RevokedHostKeys: KRL revoking the key by SHA256 fingerprint', files: (c) => ({ user: `${c.hp} ${c.key}\n`, revoked: { krl: `hash: ${c.keyFingerprint}\n` } }), openssh: ['reject', 'reject'] },
  { name: 'RevokedHostKeys: KRL revoking another key', files: (c) => ({ user: `${c.hp} ${c.key}\n`, revoked: { krl: `${c.other}\n` } }), openssh: ['accept', 'accept'] },
  { name: 'RevokedHostKeys: KRL with only a certificate serial', files: (c) => ({ user: `${c.hp} ${c.key}\n`, revoked: { krl: 'serial: 1\n' } }), openssh: ['accept', 'accept'] },
  { name: 'RevokedHostKeys: key list naming the key', files: (c) => ({ user: `${c.hp} ${c.key}\n`, revoked: { list: `# revoked\n${c.other}\n${c.key} old host key\n` } }), openssh: ['reject', 'reject'] },
  { name: 'RevokedHostKeys: key list naming another key', files: (c) => ({ user: `${c.hp} ${c.key}\n`, revoked: { list: `${c.other}\n` } }), openssh: ['accept', 'accept'] },
  { name: 'RevokedHostKeys: file missing (fails closed)', files: (c) => ({ user: `${c.hp} ${c.key}\n`, revoked: 'missing' }), openssh: ['reject', 'reject'] },
  { name: 'RevokedHostKeys: the key revoked, host never seen, accept-new', files: (c) => ({ revoked: { list: `${c.key}\n` } }), openssh: ['reject', 'reject'] },
];

let server: SshdServer;
let dir: string;
let clientKeyFile: string;
let caPublic: string;
let keys: { key: string; other: string; keyFingerprint: string };

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sshpool-host-key-files-'));
  const keygen = async (name: string): Promise<string> => {
    await run('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, name)]);
    return readFileSync(join(dir, name), 'utf8');
  };
  const [hostKey] = await Promise.all([keygen('host'), keygen('other'), keygen('ca')]);
  server = await startSshd({ hostKey });
  const publicOf = (name: string): string => readFileSync(join(dir, `${name}.pub`), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const fingerprint = (await run('/usr/bin/ssh-keygen', ['-l', '-f', join(dir, 'host.pub')])).stdout.split(' ')[1]!;
  keys = { key: publicOf('host'), other: publicOf('other'), keyFingerprint: fingerprint };
  caPublic = join(dir, 'ca.pub');
  clientKeyFile = join(dir, 'client_key');
  writeFileSync(clientKeyFile, generateKeyPair('sshpool-files').private, { mode: 0o600 });
});

afterAll(() => {
  overrideOpenSSHEnvironment(undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Writes a row's files for one client; returns their paths. */
async function prepare(base: string, files: Files): Promise<Record<'user' | 'user2' | 'global' | 'global2' | 'revoked', string>> {
  mkdirSync(base, { recursive: true });
  const paths = { user: join(base, 'known_hosts'), user2: join(base, 'known_hosts2'), global: join(base, 'ssh_known_hosts'), global2: join(base, 'ssh_known_hosts2'), revoked: join(base, 'revoked') };
  for (const name of ['user', 'user2', 'global', 'global2'] as const) {
    const text = files[name];
    if (text !== undefined) writeFileSync(paths[name], text);
  }
  const revoked = files.revoked;
  if (revoked !== undefined && revoked !== 'missing') {
    if ('list' in revoked) {
      writeFileSync(paths.revoked, revoked.list);
    } else {
      writeFileSync(`${paths.revoked}.spec`, revoked.krl);
      const made = await run('/usr/bin/ssh-keygen', ['-k', '-f', paths.revoked, '-s', caPublic, `${paths.revoked}.spec`]);
      if (made.code !== 0) throw new Error(`ssh-keygen -k failed: ${made.stderr}`);
    }
  }
  return paths;
}

async function openssh(policy: Policy, files: Files, paths: Awaited<ReturnType<typeof prepare>>): Promise<Decision> {
  const { code, stderr } = await run('/usr/bin/ssh', [
    '-F', '/dev/null',
    '-p', String(server.port),
    '-i', clientKeyFile,
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', `UserKnownHostsFile=${files.userNone ? 'none' : `${paths.user} ${paths.user2}`}`,
    '-o', `GlobalKnownHostsFile=${paths.global} ${paths.global2}`,
    ...(files.revoked === undefined ? [] : ['-o', `RevokedHostKeys=${paths.revoked}`]),
    '-o', `StrictHostKeyChecking=${policy === 'strict' ? 'yes' : 'accept-new'}`,
    '-o', 'HashKnownHosts=no',
    '-o', 'CheckHostIP=no',
    '-o', 'UpdateHostKeys=no',
    '-o', 'ConnectTimeout=10',
    `${server.username}@${server.host}`,
    'true',
  ]);
  if (/Host key verification failed|revoked|Error checking host key/.test(stderr)) return 'reject';
  if (code !== 0 && stderr.includes('Permission denied')) return 'accept';
  throw new Error(`ssh failed for another reason (exit ${code}): ${stderr}`);
}

async function sshpool(policy: Policy, files: Files, paths: Awaited<ReturnType<typeof prepare>>): Promise<{ decision: Decision; error?: HostKeyError }> {
  const pool = new SSHConnectionPool({ maxRetries: 0, connectionTimeout: 10_000 });
  const hostKey: HostKeyVerification = {
    policy,
    knownHostsFile: files.userNone ? false : paths.user,
    extraKnownHostsFiles: files.userNone ? [] : [paths.user2],
    globalKnownHostsFiles: [paths.global, paths.global2],
  };
  if (files.revoked !== undefined) hostKey.revokedHostKeys = paths.revoked;
  try {
    await $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: readFileSync(clientKeyFile, 'utf8'), hostKey, pool })`true`;
    throw new Error('the login was expected to be refused');
  } catch (error) {
    if (error instanceof HostKeyError) return { decision: 'reject', error };
    if (error instanceof AuthenticationError) return { decision: 'accept' };
    throw error;
  } finally {
    await withTimeout(pool.closeAll(), 10_000, 'closeAll()');
  }
}

describe('the known_hosts file set and RevokedHostKeys decide as in OpenSSH', () => {
  ROWS.forEach((row, index) => {
    it(row.name, async () => {
      const files = row.files({ hp: `[${server.host}]:${server.port}`, ...keys });
      const outcomes = await Promise.all(POLICIES.map(async (policy) => {
        const [theirPaths, ourPaths] = await Promise.all([prepare(join(dir, `${index}-${policy}-ssh`), files), prepare(join(dir, `${index}-${policy}-sshpool`), files)]);
        const [theirs, ours] = await Promise.all([openssh(policy, files, theirPaths), sshpool(policy, files, ourPaths)]);
        return { policy, theirs, ours, ourPaths };
      }));
      for (const [p, { policy, theirs, ours, ourPaths }] of outcomes.entries()) {
        expect(theirs, `OpenSSH under ${policy}`).toBe(row.openssh[p]);
        const stricter = row.stricter?.[policy];
        expect(ours.decision, stricter ? `sshpool under ${policy}, deliberately stricter: ${stricter}` : `sshpool under ${policy}`).toBe(stricter ? 'reject' : theirs);
        // Never a key written to a file that ssh would not write to.
        if (files.userNone) expect(readFileSync(ourPaths.user, 'utf8')).toBe(files.user);
        for (const name of ['user2', 'global', 'global2'] as const) {
          if (files[name] === undefined) expect(existsSync(ourPaths[name]), `${name} created`).toBe(false);
          else expect(readFileSync(ourPaths[name], 'utf8'), `${name} unchanged`).toBe(files[name]);
        }
        if (files.revoked !== undefined && ours.decision === 'reject' && row.openssh[p] === 'reject') expect(ours.error?.reason).toMatch(/revoked|mismatch/);
      }
    });
  });

  it('reads ~/.ssh/known_hosts2 and the global files by default, the global ones from the injected paths', async () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    const global = join(dir, 'default-global');
    writeFileSync(global, `[${server.host}]:${server.port} ${keys.other}\n`);
    overrideOpenSSHEnvironment({ home, globalKnownHostsFiles: [global] });
    const pool = new SSHConnectionPool({ maxRetries: 0, connectionTimeout: 10_000 });
    try {
      const attempt = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: readFileSync(clientKeyFile, 'utf8'), hostKey: 'accept-new', pool })`true`;
      await expect(attempt).rejects.toMatchObject({ reason: 'mismatch' });
      await expect(attempt).rejects.toThrow(global);
      expect(existsSync(join(home, '.ssh', 'known_hosts')), 'the impostor key appended').toBe(false);
    } finally {
      overrideOpenSSHEnvironment(undefined);
      await withTimeout(pool.closeAll(), 10_000, 'closeAll()');
    }
  });
});
