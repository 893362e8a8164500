// Proof against OpenSSH itself: for every fixture and host, what sshpool resolves from an
// OpenSSH client config equals what `ssh -G -F <fixture> <host>` prints for the same file.
// Values are compared the way ssh -G shows them: its defaults filled in where the file sets
// nothing, paths with tokens expanded where ssh -G expands them (IdentityAgent,
// UserKnownHostsFile) and as written where it does not (IdentityFile).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, hostname, tmpdir, userInfo } from 'node:os';
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
];

const DEFAULT_IDENTITY_FILES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((name) => `~/.ssh/${name}`);

/** The resolved values as `ssh -G` would print them. */
function asSshG(resolved: ResolvedSSHConfig, localUser: string): Record<string, string[]> {
  const user = resolved.user ?? localUser;
  const port = resolved.port ?? 22;
  const tokens: TokenValues = {
    home: homedir(),
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
