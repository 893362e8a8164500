// Host-key decisions compared with OpenSSH itself. For every known_hosts situation below, the
// real `ssh` client (BatchMode, the same file, the same real sshd) and sshpool must accept or
// reject alike, under `strict` and under `accept-new`; after an `accept-new` that recorded a
// key, both files must read the same, and both clients must then accept under `strict`.
// A row may declare that sshpool is deliberately stricter, with the reason (README, Security model).
//
// Neither client logs in: the host key is checked before authentication, so a refused login
// means the key was accepted, and "Host key verification failed" / HostKeyError that it was
// not. That keeps each decision to one handshake, so the 90 decisions fit in CI.
import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, AuthenticationError, HostKeyError, SSHConnectionPool } from '../../src/index.js';
import type { HostKeyPolicy } from '../../src/index.js';
import { overrideOpenSSHEnvironment } from '../../src/core/openssh-environment.js';
import { generateKeyPair } from '../support/generate-key-pair.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { keyBlob } from '../support/ssh-key-blobs.js';
import { withTimeout } from '../support/with-timeout.js';

const SSH = '/usr/bin/ssh';
type Decision = 'accept' | 'reject';
type Policy = Extract<HostKeyPolicy, 'strict' | 'accept-new'>;
const POLICIES: readonly Policy[] = ['strict', 'accept-new'];

/** Public halves as `type base64`, the middle of a known_hosts line. */
interface Keys {
  /** The real server's keys: ed25519 (its first), ecdsa P-256, RSA. */
  readonly ed: string;
  readonly ecdsa: string;
  readonly rsa: string;
  /** The impostor's only key, ed25519. */
  readonly impostor: string;
  /** Keys no server has. */
  readonly otherEd: string;
  readonly otherEcdsa: string;
  readonly ecdsa384: string;
  readonly dsa: string;
  readonly rsa768: string;
}

interface Context {
  readonly key: Keys;
  /** `[127.0.0.1]:port` of the server this row connects to. */
  readonly hp: string;
  readonly port: number;
}

interface Situation {
  readonly name: string;
  /** Which server answers. @default 'real' */
  readonly server?: 'real' | 'impostor';
  /** Host name both clients connect to. @default '127.0.0.1' */
  readonly host?: string;
  /** known_hosts text, or undefined for no file at all. */
  readonly file: (c: Context) => string | undefined;
  /** What OpenSSH decides, [strict, accept-new]. */
  readonly openssh: readonly [Decision, Decision];
  /** Where sshpool deliberately decides otherwise (always: rejects), and why. */
  readonly stricter?: Partial<Record<Policy, string>>;
  /**
   * The file ends without a newline: OpenSSH appends its line to the last one (corrupting
   * both), sshpool starts a new line.
   */
  readonly recordsOnOwnLine?: true;
}

const lines = (...text: string[]): string => text.map((line) => `${line}\n`).join('');
const hashed = (name: string): string => {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
};
const REVOKED_BARE = 'A @revoked line for the bare host name applies to every port of that host';

const SITUATIONS: readonly Situation[] = [
  { name: 'no known_hosts file', file: () => undefined, openssh: ['reject', 'accept'] },
  { name: 'empty file', file: () => '', openssh: ['reject', 'accept'] },
  { name: 'ed25519 key recorded for [host]:port', file: (c) => lines(`${c.hp} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  // Regression (issue 8, defect 2): only the ecdsa key known while the server prefers ed25519.
  { name: 'only the ecdsa key recorded; the server also has ed25519', file: (c) => lines(`${c.hp} ${c.key.ecdsa}`), openssh: ['accept', 'accept'] },
  { name: 'only the RSA key recorded', file: (c) => lines(`${c.hp} ${c.key.rsa}`), openssh: ['accept', 'accept'] },
  { name: 'ecdsa and RSA recorded, no ed25519', file: (c) => lines(`${c.hp} ${c.key.rsa}`, `${c.hp} ${c.key.ecdsa}`), openssh: ['accept', 'accept'] },
  { name: 'all three keys recorded', file: (c) => lines(`${c.hp} ${c.key.rsa}`, `${c.hp} ${c.key.ecdsa}`, `${c.hp} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'another ed25519 key recorded', file: (c) => lines(`${c.hp} ${c.key.otherEd}`), openssh: ['reject', 'reject'] },
  { name: 'a wrong ed25519 key and the right ecdsa key', file: (c) => lines(`${c.hp} ${c.key.otherEd}`, `${c.hp} ${c.key.ecdsa}`), openssh: ['reject', 'reject'] },
  { name: 'another ecdsa key of the same curve', file: (c) => lines(`${c.hp} ${c.key.otherEcdsa}`), openssh: ['reject', 'reject'] },
  { name: 'only an ecdsa P-384 key, a curve the server lacks', file: (c) => lines(`${c.hp} ${c.key.ecdsa384}`), openssh: ['reject', 'reject'] },
  { name: 'only a DSA key recorded', file: (c) => lines(`${c.hp} ${c.key.dsa}`), openssh: ['reject', 'reject'] },
  // Regression (issue 8, defect 1): an impostor with a key type the file has no record of.
  { name: 'impostor presenting only ed25519; the ecdsa key is recorded', server: 'impostor', file: (c) => lines(`${c.hp} ${c.key.ecdsa}`), openssh: ['reject', 'reject'] },
  { name: 'impostor; the real ed25519 key is recorded', server: 'impostor', file: (c) => lines(`${c.hp} ${c.key.ed}`), openssh: ['reject', 'reject'] },
  { name: 'impostor on a host never seen', server: 'impostor', file: () => '', openssh: ['reject', 'accept'] },
  { name: 'hashed [host]:port entry', file: (c) => lines(`${hashed(c.hp)} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'hashed entry of the lowercase name, connecting to LocalHost', host: 'LocalHost', file: (c) => lines(`${hashed(`[localhost]:${c.port}`)} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'hashed entry of the mixed-case name, connecting to LocalHost', host: 'LocalHost', file: (c) => lines(`${hashed(`[LocalHost]:${c.port}`)} ${c.key.ed}`), openssh: ['reject', 'accept'] },
  { name: 'plain entry in upper case, connecting to localhost', host: 'localhost', file: (c) => lines(`[LOCALHOST]:${c.port} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'bare host name with the right key, non-standard port', file: (c) => lines(`127.0.0.1 ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'bare host name with another key', file: (c) => lines(`127.0.0.1 ${c.key.otherEd}`), openssh: ['reject', 'accept'] },
  { name: 'hashed bare host name with the right key', file: (c) => lines(`${hashed('127.0.0.1')} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'entry for another port only', file: (c) => lines(`[127.0.0.1]:${c.port + 1} ${c.key.ed}`), openssh: ['reject', 'accept'] },
  { name: 'wildcard pattern', file: (c) => lines(`[127.0.0.*]:${c.port} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  // The bare-name fallback still matches `*`: only negating both names makes the host unknown.
  { name: 'wildcard with [host]:port negated', file: (c) => lines(`*,!${c.hp} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'wildcard with [host]:port and the bare name negated', file: (c) => lines(`*,!${c.hp},!127.0.0.1 ${c.key.ed}`), openssh: ['reject', 'accept'] },
  { name: 'negation of another host', file: (c) => lines(`${c.hp},!other.example ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'several names on one line', file: (c) => lines(`other.example,${c.hp} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: '@revoked key that is also listed', file: (c) => lines(`${c.hp} ${c.key.ed}`, `@revoked ${c.hp} ${c.key.ed}`), openssh: ['reject', 'reject'] },
  { name: '@revoked key, nothing else', file: (c) => lines(`@revoked ${c.hp} ${c.key.ed}`), openssh: ['reject', 'reject'] },
  { name: '@revoked for another key, right key listed', file: (c) => lines(`@revoked ${c.hp} ${c.key.otherEd}`, `${c.hp} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: '@revoked wildcard line against the impostor', server: 'impostor', file: (c) => lines(`@revoked * ${c.key.impostor}`), openssh: ['reject', 'reject'] },
  { name: '@revoked under the bare name, key listed for [host]:port', file: (c) => lines(`${c.hp} ${c.key.ed}`, `@revoked 127.0.0.1 ${c.key.ed}`), openssh: ['accept', 'accept'], stricter: { strict: REVOKED_BARE, 'accept-new': REVOKED_BARE } },
  { name: '@revoked under the bare name only', file: (c) => lines(`@revoked 127.0.0.1 ${c.key.ed}`), openssh: ['reject', 'accept'], stricter: { 'accept-new': REVOKED_BARE } },
  { name: '@cert-authority line only', file: (c) => lines(`@cert-authority ${c.hp} ${c.key.ed}`), openssh: ['reject', 'accept'] },
  { name: 'unknown marker', file: (c) => lines(`@trusted ${c.hp} ${c.key.ed}`), openssh: ['reject', 'accept'] },
  { name: 'corrupt base64 only', file: (c) => lines(`${c.hp} ${c.key.ed.slice(0, -7)}`), openssh: ['reject', 'accept'] },
  { name: 'corrupt line, then the right key', file: (c) => lines(`${c.hp} ${c.key.ed.slice(0, -7)}`, `${c.hp} ${c.key.ed}`), openssh: ['accept', 'accept'] },
  { name: 'type name that does not match the key', file: (c) => lines(`${c.hp} ecdsa-sha2-nistp256 ${c.key.ed.split(' ')[1]}`), openssh: ['reject', 'accept'] },
  { name: 'RSA key below 1024 bits', file: (c) => lines(`${c.hp} ${c.key.rsa768}`), openssh: ['reject', 'accept'] },
  { name: 'missing trailing newline, right key on the last line', file: (c) => `# hosts\n${c.hp} ${c.key.ed}`, openssh: ['accept', 'accept'] },
  { name: 'missing trailing newline, another host on the last line', file: (c) => `other.example ${c.key.otherEd}`, openssh: ['reject', 'accept'], recordsOnOwnLine: true },
  { name: 'CRLF line endings', file: (c) => `# hosts\r\n${c.hp} ${c.key.ed}\r\n`, openssh: ['accept', 'accept'] },
  { name: 'comments, blank lines, leading whitespace and tabs', file: (c) => `# a comment\n\n   \t${c.hp}\t${c.key.ed.replace(' ', '\t ')}\n`, openssh: ['accept', 'accept'] },
  { name: 'key with a trailing comment', file: (c) => lines(`${c.hp} ${c.key.ed} root@host (added 2024)`), openssh: ['accept', 'accept'] },
];

let real: SshdServer;
let impostor: SshdServer;
let keys: Keys;
let dir: string;
let clientKeyFile: string;
const report: string[] = [];

/** Generates a key with ssh-keygen; returns the private key text and the public `type base64`. */
async function sshKeygen(type: string, bits?: number): Promise<{ private: string; public: string }> {
  const file = join(dir, `key-${type}-${randomBytes(4).toString('hex')}`);
  await run('/usr/bin/ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', '', '-f', file]);
  return { private: readFileSync(file, 'utf8'), public: readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ') };
}

function run(file: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (error, _stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stderr: String(stderr) });
    });
  });
}

function publicOf(blob: Buffer): string {
  return `${blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1')} ${blob.toString('base64')}`;
}

/** A 768-bit RSA key: valid wire format, below OpenSSH's minimum size. */
function smallRsa(): string {
  const blob = keyBlob('ssh-rsa');
  // Re-encode with a 768-bit modulus built from the 1024-bit one's top bytes (only the size matters here).
  const e = blob.subarray(15, 18);
  const n = Buffer.concat([Buffer.from([0]), Buffer.alloc(96, 0xc5)]);
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return publicOf(Buffer.concat([str(Buffer.from('ssh-rsa')), str(e), str(n)]));
}

beforeAll(async () => {
  // ssh is given GlobalKnownHostsFile=/dev/null; sshpool reads no global file either.
  overrideOpenSSHEnvironment({ globalKnownHostsFiles: [] });
  dir = mkdtempSync(join(tmpdir(), 'sshpool-parity-'));
  const [ed, ecdsa, rsa, other, dsa] = await Promise.all([
    sshKeygen('ed25519'),
    sshKeygen('ecdsa', 256),
    sshKeygen('rsa', 2048),
    sshKeygen('ed25519'),
    sshKeygen('dsa'),
  ]);
  [real, impostor] = await Promise.all([
    startSshd({ hostKey: ed.private, extraHostKeys: [ecdsa.private, rsa.private] }),
    startSshd({ hostKey: other.private }),
  ]);
  keys = {
    ed: ed.public,
    ecdsa: ecdsa.public,
    rsa: rsa.public,
    impostor: other.public,
    otherEd: publicOf(keyBlob('ssh-ed25519')),
    otherEcdsa: publicOf(keyBlob('ecdsa-sha2-nistp256')),
    ecdsa384: publicOf(keyBlob('ecdsa-sha2-nistp384')),
    dsa: dsa.public,
    rsa768: smallRsa(),
  };
  // A key no server authorises: every login is refused, after the host key decision.
  clientKeyFile = join(dir, 'client_key');
  writeFileSync(clientKeyFile, generateKeyPair('sshpool-parity').private, { mode: 0o600 });
});

afterAll(() => {
  overrideOpenSSHEnvironment(undefined);
  if (report.length > 0) {
    console.log(['| situation | OpenSSH strict | sshpool strict | OpenSSH accept-new | sshpool accept-new |', '|---|---|---|---|---|', ...report].join('\n'));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function openssh(server: SshdServer, host: string, policy: Policy, file: string): Promise<Decision> {
  const { code, stderr } = await run(SSH, [
    '-F', '/dev/null',
    '-p', String(server.port),
    '-i', clientKeyFile,
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', `UserKnownHostsFile=${file}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', `StrictHostKeyChecking=${policy === 'strict' ? 'yes' : 'accept-new'}`,
    '-o', 'HashKnownHosts=no',
    '-o', 'CheckHostIP=no',
    '-o', 'UpdateHostKeys=no',
    '-o', 'ConnectTimeout=10',
    `${server.username}@${host}`,
    'true',
  ]);
  if (stderr.includes('Host key verification failed')) return 'reject';
  if (code !== 0 && stderr.includes('Permission denied')) return 'accept';
  throw new Error(`ssh failed for another reason (exit ${code}): ${stderr}`);
}

async function sshpool(server: SshdServer, host: string, policy: Policy, file: string): Promise<Decision> {
  const pool = new SSHConnectionPool({ maxRetries: 0, connectionTimeout: 10_000 });
  try {
    const ssh = $.ssh({ host, port: server.port, username: server.username, privateKey: readFileSync(clientKeyFile, 'utf8'), hostKey: { policy, knownHostsFile: file }, pool });
    await ssh`true`;
    throw new Error('the login was expected to be refused');
  } catch (error) {
    if (error instanceof HostKeyError) return 'reject';
    if (error instanceof AuthenticationError) return 'accept';
    throw error;
  } finally {
    await withTimeout(pool.closeAll(), 10_000, 'closeAll()');
  }
}

function prepare(path: string, text: string | undefined): void {
  if (existsSync(path)) rmSync(path);
  if (text !== undefined) writeFileSync(path, text);
}

describe('host-key decisions match the OpenSSH client', () => {
  it('covers at least 30 situations', () => {
    expect(SITUATIONS.length).toBeGreaterThanOrEqual(30);
  });

  SITUATIONS.forEach((situation, index) => {
    it(situation.name, async () => {
      const server = situation.server === 'impostor' ? impostor : real;
      const host = situation.host ?? '127.0.0.1';
      const text = situation.file({ key: keys, hp: `[127.0.0.1]:${server.port}`, port: server.port });
      // Both policies and both clients at once: each has its own copy of the file.
      const outcomes = await Promise.all(POLICIES.map(async (policy) => {
        const sshFile = join(dir, `${index}-${policy}-ssh`);
        const poolFile = join(dir, `${index}-${policy}-sshpool`);
        prepare(sshFile, text);
        prepare(poolFile, text);
        const [theirs, ours] = await Promise.all([openssh(server, host, policy, sshFile), sshpool(server, host, policy, poolFile)]);
        return { policy, theirs, ours, sshFile, poolFile };
      }));
      report.push(`| ${situation.name} | ${outcomes.flatMap(({ theirs, ours }) => [theirs, ours === theirs ? ours : `**${ours}**`]).join(' | ')} |`);

      for (const [p, { policy, theirs, ours, sshFile, poolFile }] of outcomes.entries()) {
        expect(theirs, `OpenSSH under ${policy}`).toBe(situation.openssh[p]);
        const stricter = situation.stricter?.[policy];
        if (stricter) expect(ours, `sshpool under ${policy}, deliberately stricter: ${stricter}`).toBe('reject');
        else expect(ours, `sshpool under ${policy}`).toBe(theirs);
        if (policy !== 'accept-new' || ours !== 'accept') continue;
        // Both recorded the same line (or neither recorded anything), and what sshpool recorded
        // makes it accept under strict.
        const recorded = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');
        const expected = situation.recordsOnOwnLine ? recorded(sshFile).replace(text ?? '', `${text}\n`) : recorded(sshFile);
        expect(recorded(poolFile), 'known_hosts after accept-new').toBe(expected);
        expect(await sshpool(server, host, 'strict', poolFile), 'sshpool strict after accept-new').toBe('accept');
      }
    });
  });
});
