// How a target is resolved against an OpenSSH client config: explicit fields win, the config
// fills the rest, jump routes resolve into hops that are pool keys of their own,
// and whatever the config asks for that sshpool does not do is named, never dropped silently.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { $, InvalidArgumentError, PrivateKeyError, resolveSSHConfig, SSHConfigError } from '../../../src/index.js';
import { normalizeTarget, previousHop, routeText } from '../../../src/config/ssh-target.js';
import { overrideOpenSSHEnvironment } from '../../../src/core/openssh-environment.js';

const dir = mkdtempSync(join(tmpdir(), 'sshpool-target-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, passphrase = ''): string {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', path]);
  return path;
}
const plainKey = keyFile('plain_ed25519');
const lockedKey = keyFile('locked_ed25519', 'correct horse');

function config(text: string): string {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}`);
  // Writable by nobody else whatever the umask: sshpool, like ssh, refuses other config files.
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

let savedSock: string | undefined;
beforeEach(() => {
  savedSock = process.env['SSH_AUTH_SOCK'];
  delete process.env['SSH_AUTH_SOCK'];
});
afterEach(() => {
  if (savedSock === undefined) delete process.env['SSH_AUTH_SOCK'];
  else process.env['SSH_AUTH_SOCK'] = savedSock;
  vi.restoreAllMocks();
});

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('resolving a target through the ssh config', () => {
  const webConfig = (): string =>
    config(`Host web-1\n  HostName 10.9.8.7\n  User deploy\n  Port 2202\n  IdentityFile ${plainKey}\n  ConnectTimeout 4\n  ServerAliveInterval 9\n  ServerAliveCountMax 2\n`);

  it('takes host name, user, port and key of an alias from the config', () => {
    const target = normalizeTarget({ host: 'web-1', configFile: webConfig() });
    expect(target).toMatchObject({ host: '10.9.8.7', username: 'deploy', port: 2202, endpoint: 'deploy@10.9.8.7:2202' });
    expect(target.credentials.identities?.map((identity) => identity.source)).toEqual([plainKey]);
  });

  it('reads ~/.ssh/config by default, and accepts a bare alias string with an optional user, like ssh', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'config'), `Host web-1\n  HostName 10.9.8.7\n  User deploy\n  IdentityFile ${plainKey}\n`, { mode: 0o600 });
    overrideOpenSSHEnvironment({ home });
    try {
      expect(normalizeTarget('web-1').endpoint).toBe('deploy@10.9.8.7:22');
      expect(normalizeTarget('ops@web-1').endpoint).toBe('ops@10.9.8.7:22');
      expect(normalizeTarget({ host: 'web-1' }).endpoint).toBe('deploy@10.9.8.7:22');
    } finally {
      overrideOpenSSHEnvironment(undefined);
    }
  });

  it('lets explicit fields win over the config, field by field', () => {
    const target = normalizeTarget({ host: 'web-1', configFile: webConfig(), username: 'root', port: 22, password: 'pw', poolConfig: { keepAliveInterval: 1000 } });
    expect(target).toMatchObject({ host: '10.9.8.7', username: 'root', port: 22 });
    // ConnectTimeout and ServerAliveCountMax come from the file, keepAliveInterval from the target.
    expect(target.poolConfig).toEqual({ connectionTimeout: 4000, keepAliveInterval: 1000, keepAliveCountMax: 2 });
  });

  it('an explicit privateKey replaces the config IdentityFiles', () => {
    const target = normalizeTarget({ host: 'web-1', configFile: webConfig(), privateKey: execFileSync('cat', [lockedKey]), passphrase: 'correct horse' });
    expect(target.credentials.identities?.map((identity) => identity.source)).toEqual(['target.privateKey']);
  });

  it('configFile: false ignores the config entirely', () => {
    const target = normalizeTarget({ host: 'web-1', configFile: false, username: 'u', password: 'pw' });
    expect(target).toMatchObject({ host: 'web-1', port: 22, username: 'u' });
  });

  it('a configFile that does not exist is an SSHConfigError naming it', () => {
    const error = thrown(() => normalizeTarget({ host: 'web-1', configFile: join(dir, 'missing'), password: 'pw' }));
    expect(error).toBeInstanceOf(SSHConfigError);
    expect((error as Error).message).toContain(join(dir, 'missing'));
  });

  it('defaults the user to the local user name, as ssh does', () => {
    expect(normalizeTarget({ host: 'h', configFile: false, password: 'pw' }).username).toBe(userInfo().username);
  });

  it('maps StrictHostKeyChecking, UserKnownHostsFile, GlobalKnownHostsFile and HostKeyAlias to the host-key policy', () => {
    const file = config('Host h\n  StrictHostKeyChecking accept-new\n  UserKnownHostsFile /k/one /k/two\n  GlobalKnownHostsFile /k/global\n  HostKeyAlias h-alias\n');
    expect(normalizeTarget({ host: 'h', configFile: file, password: 'pw' }).hostKey).toEqual({
      policy: 'accept-new',
      knownHostsFile: '/k/one',
      fingerprints: undefined,
      alias: 'h-alias',
      extraKnownHostsFiles: ['/k/two'],
      globalKnownHostsFiles: ['/k/global'],
    });
    // An explicit policy wins; the files and alias of the config stay.
    expect(normalizeTarget({ host: 'h', configFile: file, password: 'pw', hostKey: 'strict' }).hostKey).toMatchObject({ policy: 'strict', knownHostsFile: '/k/one', alias: 'h-alias' });
  });

  it('never turns StrictHostKeyChecking no into "accept any key": a changed key is still refused', () => {
    const file = config('Host h\n  StrictHostKeyChecking no\n');
    expect(normalizeTarget({ host: 'h', configFile: file, password: 'pw' }).hostKey.policy).toBe('accept-new');
  });
});

describe('jump hosts', () => {
  // Hops named by string authenticate the way ssh would: here, with the default agent.
  beforeEach(() => {
    process.env['SSH_AUTH_SOCK'] = '/tmp/agent-for-hops.sock';
  });
  const file = (): string =>
    config('Host inner\n  HostName 10.1.0.5\n  ProxyJump ops@bastion:2222,relay\nHost bastion\n  HostName bastion.example\n  ProxyJump outer\nHost direct\n  ProxyJump none\nHost *\n  User u\n  PasswordAuthentication yes\n');

  it('resolves a ProxyJump chain into a route, each hop through the config, the first hop\'s own ProxyJump first', () => {
    const target = normalizeTarget({ host: 'inner', configFile: file(), password: 'pw' });
    expect(target.route.map((hop) => hop.endpoint)).toEqual(['u@outer:22', 'ops@bastion.example:2222', 'u@relay:22']);
  });

  it('resolves ProxyJump none to a direct connection', () => {
    expect(normalizeTarget({ host: 'direct', configFile: file(), password: 'pw' }).route).toEqual([]);
  });

  it('takes an explicit jump list over the config, and jump: false turns the config\'s off', () => {
    const target = normalizeTarget({ host: 'inner', configFile: file(), password: 'pw', jump: ['a@j1:2200', { host: 'j2', username: 'b', password: 'x' }] });
    expect(target.route.map((hop) => hop.endpoint)).toEqual(['a@j1:2200', 'b@j2:22']);
    expect(normalizeTarget({ host: 'inner', configFile: file(), password: 'pw', jump: false }).route).toEqual([]);
  });

  it('refuses a jump loop instead of recursing forever', () => {
    const loop = config('Host a\n  ProxyJump b\nHost b\n  ProxyJump a\nHost *\n  User u\n');
    expect(() => normalizeTarget({ host: 'a', configFile: loop, password: 'pw' })).toThrow(/loop/);
  });

  it('rejects a malformed jump host with the value named', () => {
    expect(() => normalizeTarget({ host: 'x', configFile: false, password: 'pw', jump: 'u@host:99999' })).toThrow(InvalidArgumentError);
  });

  it('accepts a target with jump hosts: the pool dials through them', () => {
    expect(normalizeTarget({ host: 'inner', configFile: file(), password: 'pw' }).route).toHaveLength(3);
    expect(() => $.ssh({ host: 'inner', configFile: file(), password: 'pw' })).not.toThrow();
  });

  it('makes each hop a pool key of its own, reached through the hops before it', () => {
    const target = normalizeTarget({ host: 'inner', configFile: file(), password: 'pw' });
    const relay = previousHop(target)!;
    expect(relay.endpoint).toBe('u@relay:22');
    expect(relay.route.map((hop) => hop.endpoint)).toEqual(['u@outer:22', 'ops@bastion.example:2222']);
    expect(previousHop(previousHop(relay)!)!.route).toEqual([]);
    expect(previousHop(previousHop(previousHop(relay)!)!)).toBeUndefined();
    // The same host reached directly is a different pool key from the hop reached through others.
    expect(relay.identity).not.toBe(normalizeTarget({ host: 'relay', configFile: file(), password: 'pw', jump: false }).identity);
    expect(routeText(target)).toBe('u@outer:22 -> ops@bastion.example:2222 -> u@relay:22 -> u@10.1.0.5:22');
  });
});

describe('what sshpool does not do is named', () => {
  it('refuses ProxyCommand with the file and line', () => {
    const file = config('Host p\n  ProxyCommand nc %h %p\n');
    const error = thrown(() => normalizeTarget({ host: 'p', configFile: file, password: 'pw' }));
    expect(error).toBeInstanceOf(SSHConfigError);
    expect(error).toMatchObject({ file, line: 2 });
    expect((error as Error).message).toMatch(/ProxyCommand is not supported/);
  });

  it('refuses Match exec instead of running a command from the config, or skipping it', () => {
    const file = config('Match host e exec "touch /tmp/sshpool-should-not-exist"\n  User x\n');
    expect(() => normalizeTarget({ host: 'e', configFile: file, password: 'pw' })).toThrow(/Match exec is not supported/);
    // A Match exec block that does not concern the host is no obstacle.
    expect(normalizeTarget({ host: 'other', configFile: file, password: 'pw' }).host).toBe('other');
  });

  it('warns once about a directive that applies and would change the connection', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const file = config('Host w\n  Ciphers aes128-ctr\n  LogLevel DEBUG\n  ForwardAgent yes\n');
    normalizeTarget({ host: 'w', configFile: file, password: 'pw' });
    normalizeTarget({ host: 'w', configFile: file, password: 'pw' });
    const messages = warn.mock.calls.map((call) => String(call[0]));
    expect(messages).toEqual([`${file} line 2: Ciphers is not supported by sshpool and is ignored: the connection may differ from what ssh would do`, expect.stringMatching(/line 4: ForwardAgent from a config file is ignored/)]);
  });

  // A typical developer config, and a fully explicit target (host, port, user, key).
  const developerConfig = (extra = ''): string =>
    config(
      'Host *\n  Ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com\n  SendEnv LANG LC_*\n  SetEnv TERM=xterm\n' +
        '  ForwardAgent yes\n  AddKeysToAgent yes\n  PreferredAuthentications publickey,password\n  CertificateFile ~/.ssh/id_cert.pub\n' +
        `  ServerAliveInterval 30\n${extra}`,
    );

  it('warns once per file and keyword, however many targets and lines use it', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const file = developerConfig('Host db-*\n  Ciphers aes128-ctr\n');
    for (const host of ['web-1', 'web-2', 'db-1', 'db-2']) {
      normalizeTarget({ host, port: 2222, username: 'deploy', privateKey: readFileSync(plainKey), forwardAgent: false, configFile: file });
    }
    const messages = warn.mock.calls.map((call) => String(call[0]));
    expect(messages).toEqual([`${file} line 2: Ciphers is not supported by sshpool and is ignored: the connection may differ from what ssh would do`]);
  });

  it('does not warn about what a fully explicit target overrules or what cannot change a connection', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const file = developerConfig();
    const explicit = { host: 'web-1', port: 2222, username: 'deploy', privateKey: readFileSync(plainKey), configFile: file };
    // SendEnv/SetEnv (session environment), AddKeysToAgent (interactive), PreferredAuthentications and
    // CertificateFile (the target names its credential), ForwardAgent (the target decides): no warning.
    normalizeTarget({ ...explicit, forwardAgent: false });
    expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([expect.stringMatching(/line 2: Ciphers is not supported/)]);
    // They are still listed for whoever asks.
    const keywords = resolveSSHConfig('web-1', { configFile: file })?.notices.map((notice) => notice.keyword);
    expect(keywords).toEqual(expect.arrayContaining(['SendEnv', 'SetEnv', 'AddKeysToAgent', 'PreferredAuthentications', 'CertificateFile', 'ForwardAgent']));
  });

  it('warns about authentication settings and ForwardAgent when the target leaves them to the config', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const file = developerConfig(`  IdentityFile ${plainKey}\n`);
    normalizeTarget({ host: 'web-1', configFile: file, agent: false });
    normalizeTarget({ host: 'web-2', configFile: file, agent: false });
    const messages = warn.mock.calls.map((call) => String(call[0]));
    expect(messages).toHaveLength(4);
    expect(messages).toEqual(
      expect.arrayContaining([/line 2: Ciphers/, /line 5: ForwardAgent/, /line 7: PreferredAuthentications/, /line 8: CertificateFile/].map((re) => expect.stringMatching(re))),
    );
  });
});

describe('keys and agents', () => {
  it('uses $SSH_AUTH_SOCK when the target gives no credential, as ssh does', () => {
    process.env['SSH_AUTH_SOCK'] = '/tmp/some-agent.sock';
    expect(normalizeTarget({ host: 'h', configFile: false }).credentials.agent).toBe('/tmp/some-agent.sock');
  });

  it('does not add the default agent to a target that names its own credential', () => {
    process.env['SSH_AUTH_SOCK'] = '/tmp/some-agent.sock';
    expect(normalizeTarget({ host: 'h', configFile: false, password: 'pw' }).credentials.agent).toBeUndefined();
  });

  it('IdentityAgent none turns the default agent off; agent: false too', () => {
    process.env['SSH_AUTH_SOCK'] = '/tmp/some-agent.sock';
    const file = config(`Host h\n  IdentityAgent none\n  IdentityFile ${plainKey}\n`);
    expect(normalizeTarget({ host: 'h', configFile: file }).credentials.agent).toBeUndefined();
    expect(normalizeTarget({ host: 'h', configFile: false, agent: false, password: 'pw' }).credentials.agent).toBeUndefined();
  });

  it('says what it looked for when there is no credential at all', () => {
    expect(() => normalizeTarget({ host: 'h', configFile: false })).toThrow(/needs a credential.*SSH_AUTH_SOCK is not set/);
  });

  it('forwardAgent without an agent is refused', () => {
    expect(() => normalizeTarget({ host: 'h', configFile: false, password: 'pw', forwardAgent: true })).toThrow(/forwardAgent needs an agent/);
  });

  it('an encrypted IdentityFile without passphrase, and nothing else to offer, is a PrivateKeyError', () => {
    const file = config(`Host h\n  IdentityFile ${lockedKey}\n`);
    // The .pub file lets an agent that holds the key use it; with no agent there is nothing to offer.
    rmSync(`${lockedKey}.pub`, { force: true });
    const error = thrown(() => normalizeTarget({ host: 'h', configFile: file }));
    expect(error).toBeInstanceOf(PrivateKeyError);
    expect(error).toMatchObject({ reason: 'passphrase-required', source: lockedKey });
  });

  it('decrypts an encrypted IdentityFile with the target\'s passphrase', () => {
    const file = config(`Host h\n  IdentityFile ${lockedKey}\n`);
    const target = normalizeTarget({ host: 'h', configFile: file, passphrase: 'correct horse' });
    expect(target.credentials.identities?.[0]?.privateKey).toBeDefined();
  });

  it('expands ~ and %-tokens in IdentityFile with the final user, host and port', () => {
    const file = config(`Host tok\n  HostName tok.example\n  User deploy\n  IdentityFile ${dir}/%r-%h-%p-%n\n`);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const target = normalizeTarget({ host: 'tok', configFile: file, password: 'pw' });
    expect(target.credentials.skipped).toEqual([`${dir}/deploy-tok.example-22-tok skipped: no such file`]);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(`IdentityFile ${dir}/deploy-tok.example-22-tok does not exist`), expect.anything());
  });
});

describe('trusted as ssh trusts them: the home, the config file, the key files', () => {
  it('takes ~ from the password database, not $HOME (under sudo -E, $HOME is another user\'s)', () => {
    const elsewhere = join(dir, 'someone-elses-home');
    mkdirSync(join(elsewhere, '.ssh'), { recursive: true });
    writeFileSync(join(elsewhere, '.ssh', 'config'), 'Host web-1\n  HostName 10.6.6.6\n', { mode: 0o600 });
    const savedHome = process.env['HOME'];
    process.env['HOME'] = elsewhere;
    try {
      const target = normalizeTarget({ host: 'web-1', password: 'pw' });
      expect(target.host).not.toBe('10.6.6.6');
      expect(target.hostKey.knownHostsFile).toBe(join(userInfo().homedir, '.ssh', 'known_hosts'));
      expect(target.hostKey.extraKnownHostsFiles).toEqual([join(userInfo().homedir, '.ssh', 'known_hosts2')]);
    } finally {
      process.env['HOME'] = savedHome;
    }
  });

  it('refuses ~/.ssh/config writable by others: "Bad owner or permissions", as ssh', () => {
    const home = join(dir, 'unsafe-home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'config'), 'Host web-1\n  HostName 10.9.8.7\n', { mode: 0o600 });
    chmodSync(join(home, '.ssh', 'config'), 0o646);
    overrideOpenSSHEnvironment({ home });
    try {
      expect(() => normalizeTarget({ host: 'web-1', password: 'pw' })).toThrow(SSHConfigError);
      expect(() => normalizeTarget({ host: 'web-1', password: 'pw' })).toThrow(`Bad owner or permissions on ${join(home, '.ssh', 'config')}`);
      chmodSync(join(home, '.ssh', 'config'), 0o644);
      expect(normalizeTarget({ host: 'web-1', password: 'pw' }).host).toBe('10.9.8.7');
    } finally {
      overrideOpenSSHEnvironment(undefined);
    }
  });

  it('refuses a private key file its group or others may read, with ssh\'s message (ssh-keygen -y refuses it too)', () => {
    const key = keyFile('open_ed25519');
    chmodSync(key, 0o644);
    const reference = spawnSync('ssh-keygen', ['-y', '-f', key], { encoding: 'utf8' });
    expect(reference.status).not.toBe(0);
    expect(reference.stderr).toContain(`Permissions 0644 for '${key}' are too open.`);
    const file = config(`Host k\n  IdentityFile ${key}\n`);
    let caught: unknown;
    try {
      normalizeTarget({ host: 'k', configFile: file, agent: false });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PrivateKeyError);
    expect((caught as PrivateKeyError).reason).toBe('unprotected');
    expect((caught as PrivateKeyError).message).toContain('UNPROTECTED PRIVATE KEY FILE!');
    expect((caught as PrivateKeyError).message).toContain(`Permissions 0644 for '${key}' are too open.`);
    chmodSync(key, 0o600);
    expect(normalizeTarget({ host: 'k', configFile: file, agent: false }).credentials.identities).toHaveLength(1);
  });

  it('reads a config again when it changes (parsed once per change, not once per target)', () => {
    const file = config('Host web-1\n  HostName 10.0.0.1\n');
    expect(normalizeTarget({ host: 'web-1', configFile: file, password: 'pw' }).host).toBe('10.0.0.1');
    expect(normalizeTarget({ host: 'web-1', configFile: file, password: 'pw' }).host).toBe('10.0.0.1');
    writeFileSync(file, 'Host web-1\n  HostName 10.0.0.2\n');
    utimesSync(file, new Date(0), new Date(0));
    expect(normalizeTarget({ host: 'web-1', configFile: file, password: 'pw' }).host).toBe('10.0.0.2');
  });
});
