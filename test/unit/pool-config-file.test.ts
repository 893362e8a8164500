// A pool-wide OpenSSH client config: `new SSHConnectionPool({ configFile })` and, for the global
// pool, `$.configFile`. Targets that name no config file of their own resolve through it (jump
// hosts and group members too); a target's own `configFile` wins; bad values fail at once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { $, InvalidArgumentError, SSHConnectionPool } from '../../src/index.js';
import { normalizeTarget, routeText } from '../../src/config/ssh-target.js';

const dir = mkdtempSync(join(tmpdir(), 'sshpool-pool-config-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  $.configFile = undefined;
});

function config(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const key = join(dir, 'id_ed25519');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'pool-config-file', '-f', key]);
// The jump host `web` has no credential in the target: the file's IdentityFile is its key.
const deployConfig = config(
  'deploy_config',
  `Host web\n  HostName web.internal.example\n  Port 2200\n  User deploy\nHost db\n  HostName db.internal.example\n  ProxyJump web\nHost *\n  IdentityFile ${key}\n`,
);
const otherConfig = config('other_config', 'Host web\n  HostName other.example\n');

describe('pool-wide configFile', () => {
  it('resolves the targets of that pool through the file, jump hosts and group members included', () => {
    const pool = new SSHConnectionPool({ configFile: deployConfig });
    expect(pool.configFile).toBe(deployConfig);
    expect($.ssh({ host: 'web', password: 'pw', pool }).host).toBe('web.internal.example');
    const group = $.ssh({ hosts: ['web', 'db'], password: 'pw', pool });
    expect(group.hosts).toEqual(['web.internal.example:2200', 'db.internal.example:22']);
    // db's ProxyJump names `web`, which resolves through the same file.
    expect(routeText(normalizeTarget({ host: 'db', username: 'ops', password: 'pw' }, { configFile: pool.configFile }))).toBe('deploy@web.internal.example:2200 -> ops@db.internal.example:22');
    // The global pool and other pools are not affected.
    expect($.ssh({ host: 'web', password: 'pw', pool: new SSHConnectionPool({ configFile: false }) }).host).toBe('web');
  });

  it('a target\'s own configFile wins over the pool\'s', () => {
    const pool = new SSHConnectionPool({ configFile: deployConfig });
    expect($.ssh({ host: 'web', password: 'pw', pool, configFile: otherConfig }).host).toBe('other.example');
    expect($.ssh({ host: 'web', password: 'pw', pool, configFile: false }).host).toBe('web');
  });

  it('$.configFile sets it for the global pool, from the next $.ssh() on; undefined restores the default', () => {
    const before = $.ssh({ host: 'web', password: 'pw', configFile: false });
    $.configFile = deployConfig;
    expect($.configFile).toBe(deployConfig);
    expect(SSHConnectionPool.getInstance().configFile).toBe(deployConfig);
    expect($.ssh({ host: 'web', password: 'pw' }).host).toBe('web.internal.example');
    expect($.ssh({ hosts: ['db'], password: 'pw' }).hosts).toEqual(['db.internal.example:22']);
    expect(before.host).toBe('web');
    $.configFile = false;
    expect($.ssh({ host: 'web', password: 'pw' }).host).toBe('web');
    $.configFile = undefined;
    expect(SSHConnectionPool.getInstance().configFile).toBeUndefined();
  });

  it('a new global pool after closeAll() keeps $.configFile', async () => {
    $.configFile = deployConfig;
    const first = SSHConnectionPool.getInstance();
    await first.closeAll();
    const second = SSHConnectionPool.getInstance();
    expect(second).not.toBe(first);
    expect(second.configFile).toBe(deployConfig);
  });

  it('refuses what is not false or an existing file, with a precise message', () => {
    const thrown = (run: () => unknown): Error => {
      try {
        run();
      } catch (error) {
        return error as Error;
      }
      throw new Error('did not throw');
    };
    for (const [run, message] of [
      [() => new SSHConnectionPool({ configFile: join(dir, 'missing') }), `options.configFile: no such file: ${join(dir, 'missing')}`],
      [() => new SSHConnectionPool({ configFile: dir }), `options.configFile: not a file: ${dir}`],
      [() => new SSHConnectionPool({ configFile: 42 as never }), 'options.configFile must be a file path or false, got 42'],
      [() => new SSHConnectionPool({ configFile: true as never }), 'options.configFile must be a file path or false, got true'],
      [() => ($.configFile = join(dir, 'missing')), `$.configFile: no such file: ${join(dir, 'missing')}`],
    ] as const) {
      const error = thrown(run);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toBe(message);
    }
    expect($.configFile, 'a refused value changes nothing').toBeUndefined();
  });
});
