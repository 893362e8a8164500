// Proof against OpenSSH itself: for every fixture and host, what sshpool resolves from an
// OpenSSH client config equals what `ssh -G -F <fixture> <host>` prints for the same file.
// Values are compared the way ssh -G shows them: its defaults filled in where the file sets
// nothing, paths with tokens expanded where ssh -G expands them (IdentityAgent,
// UserKnownHostsFile) and as written where it does not (IdentityFile).
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SSHConfigError } from '../../../../src/core/errors.js';
import { resolveSSHConfig } from '../../../../src/index.js';
import type { ResolvedSSHConfig } from '../../../../src/index.js';
import { parseJumpHost } from '../../../../src/config/openssh/proxy-jump.js';
import { expandPath } from '../../../../src/config/openssh/ssh-tokens.js';
import type { TokenValues } from '../../../../src/config/openssh/ssh-tokens.js';
import { sshG } from '../../../support/ssh-g.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'ssh-config');
// A copy with @FIXTURES@ replaced: Include paths must be absolute (relative ones are relative to ~/.ssh).
const dir = mkdtempSync(join(tmpdir(), 'sshpool-ssh-g-'));
cpSync(FIXTURES, dir, { recursive: true });
// Whatever the checkout's umask: ssh and sshpool refuse Includes that others may write.
for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) if (entry.isFile()) chmodSync(join(entry.parentPath, entry.name), 0o644);
for (const name of ['include.conf']) {
  const path = join(dir, name);
  writeFileSync(path, readFileSync(path, 'utf8').replaceAll('@FIXTURES@', dir));
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  readonly file: string;
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
}

const CASES: Case[] = [
  { file: 'basic.conf', host: 'web-1' },
  { file: 'basic.conf', host: 'web-2' },
  { file: 'basic.conf', host: 'web-legacy' },
  { file: 'basic.conf', host: 'db1' },
  { file: 'basic.conf', host: 'db12' },
  { file: 'basic.conf', host: 'WEB-UPPER' },
  { file: 'basic.conf', host: 'web-upper' },
  { file: 'basic.conf', host: 'Web-1' },
  { file: 'basic.conf', host: 'web-1', user: 'alice', port: 2999 },
  { file: 'basic.conf', host: 'unlisted.example.org' },
  { file: 'match.conf', host: 'app' },
  { file: 'match.conf', host: 'app', user: 'ops' },
  { file: 'match.conf', host: 'bastion' },
  { file: 'match.conf', host: 'other' },
  { file: 'match.conf', host: 'x.internal.example', user: 'jump' },
  { file: 'proxyjump.conf', host: 'inner' },
  { file: 'proxyjump.conf', host: 'direct' },
  { file: 'proxyjump.conf', host: 'db.private' },
  { file: 'proxyjump.conf', host: 'bastion' },
  { file: 'proxyjump.conf', host: 'anything' },
  { file: 'include.conf', host: 'staging' },
  { file: 'include.conf', host: 'prod-web' },
  { file: 'include.conf', host: 'prod-db' },
  { file: 'include.conf', host: 'shared' },
  { file: 'include.conf', host: 'elsewhere' },
  { file: 'tokens.conf', host: 'tok' },
  { file: 'tokens.conf', host: 'tok', user: 'other', port: 2200 },
  { file: 'tokens.conf', host: 'env-agent' },
  { file: 'tokens.conf', host: 'agent-none' },
  // The tokenizer: quotes, escapes, comments, `=`.
  { file: 'tokenizer.conf', host: 'single-quoted' },
  { file: 'tokenizer.conf', host: 'escaped' },
  { file: 'tokenizer.conf', host: 'comments' },
  { file: 'tokenizer.conf', host: 'mixed' },
  { file: 'tokenizer.conf', host: 'equals' },
  { file: 'tokenizer.conf', host: 'quoted-host' },
  { file: 'tokenizer.conf', host: 'other' },
  { file: 'tokenizer.conf', host: 'none-files' },
  { file: 'tokenizer.conf', host: 'ignore-unknown' },
];

const DEFAULT_IDENTITY_FILES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((name) => `~/.ssh/${name}`);

/** The resolved values as `ssh -G` would print them. */
function asSshG(resolved: ResolvedSSHConfig, localUser: string): Record<string, string[]> {
  const user = resolved.user ?? localUser;
  const port = resolved.port ?? 22;
  const tokens: TokenValues = {
    // ssh's `~` is the password database's home, not $HOME.
    home: userInfo().homedir,
    localUser,
    uid: String(userInfo().uid),
    localHost: hostname(),
    host: resolved.hostname,
    originalHost: resolved.host,
    port,
    user,
    hostKeyAlias: resolved.hostKeyAlias,
    proxyJump: resolved.proxyJump,
  };
  const expand = (value: string): string => expandPath(value, tokens, process.env, 'test');
  const yesNo = (value: boolean | undefined): string => (value ? 'yes' : 'no');
  const strict = { yes: 'true', no: 'false', ask: 'ask', 'accept-new': 'accept-new' }[resolved.strictHostKeyChecking ?? 'ask'];
  const agent = resolved.identityAgent;
  const view: Record<string, string[]> = {
    hostname: [resolved.hostname],
    user: [user],
    port: [String(port)],
    identityfile: resolved.identityFiles.length > 0 ? [...resolved.identityFiles] : DEFAULT_IDENTITY_FILES,
    identitiesonly: [yesNo(resolved.identitiesOnly)],
    connecttimeout: [resolved.connectTimeout === undefined ? 'none' : String(resolved.connectTimeout)],
    serveraliveinterval: [String(resolved.serverAliveInterval ?? 0)],
    serveralivecountmax: [String(resolved.serverAliveCountMax ?? 3)],
    stricthostkeychecking: [strict],
    userknownhostsfile: [(resolved.userKnownHostsFiles ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']).map(expand).join(' ')],
    globalknownhostsfile: [(resolved.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']).join(' ')],
    forwardagent: [resolved.forwardAgent ?? 'no'],
  };
  if (resolved.proxyJump !== undefined) view['proxyjump'] = [asSshGPrintsProxyJump(resolved.proxyJump)];
  if (resolved.hostKeyAlias !== undefined) view['hostkeyalias'] = [resolved.hostKeyAlias];
  if (resolved.revokedHostKeys !== undefined) view['revokedhostkeys'] = [resolved.revokedHostKeys];
  // ssh -G prints SSH_AUTH_SOCK, $VAR and none as written, paths expanded.
  if (agent !== undefined) view['identityagent'] = [agent === 'SSH_AUTH_SOCK' || agent === 'none' || /^\$[A-Za-z_]\w*$/.test(agent) ? agent : expand(agent)];
  return view;
}

/** ssh keeps the hops before the last as written and prints the last one as [user@]host[:port]. */
function asSshGPrintsProxyJump(value: string): string {
  const hops = value.split(',');
  const last = parseJumpHost(hops.pop()!, 'test');
  const printed = `${last.username ? `${last.username}@` : ''}${last.host}${last.port ? `:${last.port}` : ''}`;
  return [...hops, printed].join(',');
}

function fromSshG(values: ReadonlyMap<string, string[]>, keywords: readonly string[]): Record<string, string[]> {
  const picked: Record<string, string[]> = {};
  for (const keyword of keywords) {
    const value = values.get(keyword);
    if (value !== undefined) picked[keyword] = value;
  }
  return picked;
}

const COMPARED = [
  'hostname', 'user', 'port', 'identityfile', 'identitiesonly', 'identityagent', 'proxyjump', 'connecttimeout', 'serveraliveinterval',
  'serveralivecountmax', 'stricthostkeychecking', 'userknownhostsfile', 'globalknownhostsfile', 'hostkeyalias', 'forwardagent',
  'revokedhostkeys',
];

describe('ssh -G parity', () => {
  const localUser = userInfo().username;
  for (const testCase of CASES) {
    const flags = `${testCase.user ? ` -l ${testCase.user}` : ''}${testCase.port ? ` -p ${testCase.port}` : ''}`;
    it(`${testCase.file}: ${testCase.host}${flags} resolves as ssh -G prints it`, () => {
      const file = join(dir, testCase.file);
      const reference = sshG(file, testCase.host, testCase);
      expect(reference.ok, reference.stderr).toBe(true);
      const options: { configFile: string; user?: string; port?: number } = { configFile: file };
      if (testCase.user !== undefined) options.user = testCase.user;
      if (testCase.port !== undefined) options.port = testCase.port;
      const resolved = resolveSSHConfig(testCase.host, options)!;
      expect(asSshG(resolved, localUser)).toEqual(fromSshG(reference.values, COMPARED));
    });
  }

  // ssh checks every directive's value as it reads the file, in blocks that do not apply too.
  for (const host of ['bad-port', 'bad-strict']) {
    it(`invalid.conf: ${host} is refused, as ssh refuses the whole file, with the first bad line named`, () => {
      const file = join(dir, 'invalid.conf');
      expect(sshG(file, host).ok).toBe(false);
      const error = (() => {
        try {
          resolveSSHConfig(host, { configFile: file });
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(SSHConfigError);
      expect((error as SSHConfigError).line).toBe(2);
    });
  }
});

/** What sshpool does with a config, beside what ssh -G does with the same file. */
function refusal(file: string, host: string): SSHConfigError | undefined {
  try {
    resolveSSHConfig(host, { configFile: file });
  } catch (error) {
    if (error instanceof SSHConfigError) return error;
    throw error;
  }
  return undefined;
}

describe('configs ssh refuses are refused, in ssh\'s words', () => {
  let count = 0;
  /** A config (and files it names) in a fresh directory, every file mode 0644 unless changed. */
  function write(files: Record<string, string>): string {
    const base = join(dir, `refused-${++count}`);
    mkdirSync(base);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(base, name), text.replaceAll('@DIR@', base), { mode: 0o644 });
    return base;
  }

  // `sshRefuses: false`: Debian's ssh (its user-group-modes patch) accepts a group-writable file
  // when the group is the user's own private group; upstream OpenSSH refuses, and so does sshpool.
  const UNSAFE: Array<{ name: string; change: (path: string) => void; sshRefuses: boolean }> = [
    { name: 'writable by others', change: (path) => chmodSync(path, 0o666), sshRefuses: true },
    { name: 'writable by its group', change: (path) => chmodSync(path, 0o664), sshRefuses: false },
    { name: 'owned by another user', change: (path) => chownSync(path, 12_345, 12_345), sshRefuses: true },
  ];
  for (const { name, change, sshRefuses } of UNSAFE) {
    it(`an Include ${name}: "Bad owner or permissions"${sshRefuses ? ', as ssh' : ' (as upstream ssh; Debian\'s accepts its private group)'}`, () => {
      const base = write({ 'main.conf': 'Host web\n  Include @DIR@/inc.conf\n', 'inc.conf': '  UserKnownHostsFile /tmp/attacker_known_hosts\n' });
      change(join(base, 'inc.conf'));
      const reference = sshG(join(base, 'main.conf'), 'web');
      expect(reference.ok).toBe(!sshRefuses);
      if (sshRefuses) expect(reference.stderr).toContain(`Bad owner or permissions on ${join(base, 'inc.conf')}`);
      expect(refusal(join(base, 'main.conf'), 'web')?.message).toContain(`Bad owner or permissions on ${join(base, 'inc.conf')}`);
      // Whether or not the block applies: ssh reads (and checks) every Include.
      expect(sshG(join(base, 'main.conf'), 'elsewhere').ok).toBe(!sshRefuses);
      expect(refusal(join(base, 'main.conf'), 'elsewhere')).toBeInstanceOf(SSHConfigError);
    });
  }

  it('a config file writable by others is refused even when named explicitly (ssh -F does not check; deliberately stricter)', () => {
    const base = write({ 'main.conf': 'Host web\n  HostName 10.0.0.1\n' });
    chmodSync(join(base, 'main.conf'), 0o666);
    expect(sshG(join(base, 'main.conf'), 'web').ok).toBe(true);
    expect(refusal(join(base, 'main.conf'), 'web')?.message).toContain('Bad owner or permissions');
  });

  const BAD_LINES: Array<{ name: string; text: string; ssh: RegExp; ours: RegExp; line: number }> = [
    { name: 'a misspelled keyword', text: 'Host web\n  HostNmae 10.0.0.1\n', ssh: /line 2: Bad configuration option: hostnmae/, ours: /line 2: Bad configuration option: hostnmae/, line: 2 },
    { name: 'a misspelled keyword in a block that does not apply', text: 'Host other\n  UserKnownHostFile /tmp/kh\nHost web\n  User u\n', ssh: /Bad configuration option: userknownhostfile/, ours: /Bad configuration option: userknownhostfile/, line: 2 },
    { name: 'an unterminated quote', text: 'Host web\n  HostName "10.0.0.1\n', ssh: /line 2: invalid quotes/, ours: /line 2: invalid quotes/, line: 2 },
    { name: 'extra arguments', text: 'Host web\n  HostName a b\n', ssh: /line 2: keyword hostname extra arguments at end of line/, ours: /line 2: HostName has extra arguments/, line: 2 },
    { name: 'UserKnownHostsFile none beside a file', text: 'Host web\n  UserKnownHostsFile none /tmp/kh\n', ssh: /"none" argument must appear alone/, ours: /"none" argument must appear alone/, line: 2 },
    { name: 'a keyword without argument', text: 'Host web\n  User\n', ssh: /line 2: no argument after keyword "user"/, ours: /line 2: no argument after keyword "user"/, line: 2 },
  ];
  for (const { name, text, ssh, ours, line } of BAD_LINES) {
    it(`${name}: refused as ssh refuses it`, () => {
      const base = write({ 'main.conf': text });
      const reference = sshG(join(base, 'main.conf'), 'web');
      expect(reference.ok).toBe(false);
      expect(reference.stderr).toMatch(ssh);
      const error = refusal(join(base, 'main.conf'), 'web');
      expect(error?.message).toMatch(ours);
      expect(error?.line).toBe(line);
    });
  }

  // Where ssh would run a command to decide, sshpool refuses rather than guess either way.
  const COMMANDS: Array<{ name: string; text: string }> = [
    { name: 'Match !exec (ProxyJump inside)', text: 'Match host web !exec "exit 1"\n  ProxyJump bastion\n' },
    { name: 'Match exec (ProxyJump inside)', text: 'Match host web exec "exit 0"\n  ProxyJump bastion\n' },
    { name: 'Match exec after a criterion that matches', text: 'Match originalhost web !exec "exit 1" user *\n  ProxyJump bastion\n' },
  ];
  for (const { name, text } of COMMANDS) {
    it(`${name}: ssh runs the command and applies the block; sshpool refuses`, () => {
      const base = write({ 'main.conf': text });
      expect(sshG(join(base, 'main.conf'), 'web').values.get('proxyjump')).toEqual(['bastion']);
      expect(refusal(join(base, 'main.conf'), 'web')?.message).toMatch(/Match !?exec is not supported/);
    });
  }

  it('Match exec after a criterion that does not match: ssh skips the command, and so the block; so does sshpool', () => {
    const base = write({ 'main.conf': 'Match host other !exec "exit 1"\n  ProxyJump bastion\n' });
    expect(sshG(join(base, 'main.conf'), 'web').values.get('proxyjump')).toBeUndefined();
    expect(resolveSSHConfig('web', { configFile: join(base, 'main.conf') })?.proxyJump).toBeUndefined();
  });

  it('KnownHostsCommand: ssh runs it to find host keys; sshpool refuses (fails closed)', () => {
    const base = write({ 'main.conf': 'Host web\n  KnownHostsCommand /bin/true\n' });
    expect(sshG(join(base, 'main.conf'), 'web').ok).toBe(true);
    expect(refusal(join(base, 'main.conf'), 'web')?.message).toMatch(/KnownHostsCommand is not supported/);
  });
});
