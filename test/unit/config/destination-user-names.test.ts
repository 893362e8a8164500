// A user name goes into pool names, spans, metric labels, events and getStats(): a password
// written into a destination (`user:password@host`) must never become one, nor appear in the
// error that refuses it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { $, InvalidArgumentError } from '../../../src/index.js';
import { normalizeTarget } from '../../../src/config/ssh-target.js';
import { parseJumpHost } from '../../../src/config/openssh/proxy-jump.js';

const PASSWORD = 'Hunter2-pw';
const dir = mkdtempSync(join(tmpdir(), 'sshpool-destination-users-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(run: () => unknown): InvalidArgumentError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    const { message } = error as InvalidArgumentError;
    expect(message).not.toContain(PASSWORD);
    expect(message).not.toContain('deploy');
    return error as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe("regression: ssh://user:pw@host made 'user:pw' the user name, shown in spans, labels, events and getStats()", () => {
  const base = { configFile: false as const, password: 'x' };

  it.each([
    ['ssh://deploy:PW@db.example:2222', 'a URL destination'],
    ['deploy:PW@db.example', 'a plain destination'],
    ['ssh://deploy:PW@[::1]:22/', 'a URL with an IPv6 host'],
  ])('refuses %s (%s) with InvalidArgumentError that does not echo it', (destination) => {
    const error = refusal(() => normalizeTarget(destination.replace('PW', PASSWORD)));
    expect(error.code).toBe('ERR_SSHPOOL_INVALID_ARGUMENT');
    expect(error.message).toMatch(/':' in its user name \(not shown\)/);
    expect(() => $.ssh(destination.replace('PW', PASSWORD))).toThrow(InvalidArgumentError);
  });

  it('refuses it as a jump hop, given as a string or a list, and as a ProxyJump in a config file', () => {
    refusal(() => normalizeTarget({ ...base, host: 'db.example', jump: `deploy:${PASSWORD}@bastion` }));
    refusal(() => normalizeTarget({ ...base, host: 'db.example', jump: ['ops@bastion-1', `ssh://deploy:${PASSWORD}@bastion-2:2200`] }));
    const configFile = join(dir, 'config');
    writeFileSync(configFile, `Host db\n  HostName db.example\n  ProxyJump ops@bastion-1,deploy:${PASSWORD}@bastion-2\n`, { mode: 0o600 });
    const error = refusal(() => normalizeTarget({ host: 'db', configFile, password: 'x' }));
    expect(error.message).toContain('"…@bastion-2"');
  });

  it("refuses ':' in an explicit username, and '@' in an explicit host, without echoing either", () => {
    expect(refusal(() => normalizeTarget({ ...base, host: 'db.example', username: `deploy:${PASSWORD}` })).message).toMatch(/target\.username contains ':'/);
    expect(refusal(() => normalizeTarget({ ...base, host: `deploy:${PASSWORD}@db.example` })).message).toMatch(/target\.host contains '@'/);
  });

  it('other malformed hops are named by their host part only', () => {
    expect(refusal(() => normalizeTarget({ ...base, host: 'db.example', jump: `deploy@bastion:99999` })).message).toContain('"…@bastion:99999" has an invalid port');
    expect(refusal(() => normalizeTarget(`deploy @bastion`)).message).toContain('has an invalid user name (not shown)');
  });

  it('still takes ordinary user names, from destinations and fields', () => {
    expect(normalizeTarget({ ...base, host: 'db.example', username: 'deploy' }).endpoint).toBe('deploy@db.example:22');
    expect(parseJumpHost('ssh://deploy@db.example:2222', 'target')).toEqual({ username: 'deploy', host: 'db.example', port: 2222 });
    expect(parseJumpHost('ops@bastion:2200', 'jump')).toEqual({ username: 'ops', host: 'bastion', port: 2200 });
  });
});
