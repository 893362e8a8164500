// The parts behind .sudo() and .respond() that watch output chunk by chunk, and the checks of
// the interactive modifiers' arguments.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { $, InvalidArgumentError } from '../../../src/index.js';
import { Secret } from '../../../src/core/secret.js';
import { PromptResponder } from '../../../src/command/prompt-responder.js';
import { SudoHandshake } from '../../../src/command/sudo-handshake.js';
import { sudoScript } from '../../../src/command/sudo-script.js';

const SECRET = 'pa55-w0rd-8812';

function handshake(password: string | null = SECRET) {
  const { handshake: spec, script } = sudoScript('id -u', { password: password === null ? undefined : new Secret(password) });
  const written: string[] = [];
  let ended = 0;
  let ready = 0;
  const watcher = new SudoHandshake(spec, (text) => written.push(text), () => ended++, () => ready++);
  return { spec, script, watcher, written, ended: () => ended, ready: () => ready };
}

describe('SudoHandshake', () => {
  it('answers the first prompt with the password, even split across chunks, and releases output after the marker', () => {
    const h = handshake();
    const half = Math.floor(h.spec.prompt.length / 2);
    expect(h.watcher.feed(Buffer.from(h.spec.prompt.slice(0, half)))).toHaveLength(0);
    expect(h.watcher.feed(Buffer.from(h.spec.prompt.slice(half)))).toHaveLength(0);
    expect(h.written).toEqual([`${SECRET}\n`]);
    expect(h.watcher.feed(Buffer.from(`${h.spec.ready}\nfirst words`)).toString()).toBe('first words');
    expect(h.ready()).toBe(1);
    expect(h.watcher.verdict(0)).toBeUndefined();
  });

  it('a second prompt means a wrong password: input ends, the verdict says so', () => {
    const h = handshake();
    h.watcher.feed(Buffer.from(`${h.spec.prompt}Sorry, try again.\n${h.spec.prompt}`));
    expect(h.written).toHaveLength(1);
    expect(h.ended()).toBe(1);
    h.watcher.feed(Buffer.from('sudo: no password was provided\n'));
    expect(h.watcher.verdict(1)).toBe('wrong-password');
    expect(h.watcher.said.toString()).not.toContain(h.spec.prompt);
  });

  it('classifies sudo -n, policy refusals and a missing sudo', () => {
    const required = handshake(null);
    required.watcher.feed(Buffer.from('sudo: a password is required\n'));
    expect(required.watcher.verdict(1)).toBe('password-required');
    const denied = handshake();
    denied.watcher.feed(Buffer.from(`${denied.spec.prompt}alice is not in the sudoers file.\n`));
    expect(denied.watcher.verdict(1)).toBe('not-allowed');
    expect(handshake().watcher.verdict(127)).toBe('not-installed');
  });

  it('the script carries neither the password nor anything derived from it', () => {
    const h = handshake();
    expect(h.script).not.toContain(SECRET);
    expect(h.script).toContain('sudo -k -S -p ');
    expect(handshake(null).script).toContain('sudo -n -- ');
  });
});

describe('PromptResponder', () => {
  it('answers each match once, across chunk boundaries, and remembers the last line', () => {
    const written: string[] = [];
    const responder = new PromptResponder([{ match: /Continue\? \[y\/N\]/, answer: 'y\n' }, { match: 'Name:', answer: new Secret('ada\n') }], (text) => written.push(text));
    responder.feed(Buffer.from('Continue? [y'));
    responder.feed(Buffer.from('/N] '));
    responder.feed(Buffer.from('ok\nName: Continue? [y/N] '));
    expect(written).toEqual(['y\n', 'ada\n', 'y\n']);
    responder.feed(Buffer.from('\nAre you sure? '));
    expect(written).toHaveLength(3);
    expect(responder.lastLine).toBe('Are you sure? ');
  });
});

describe('argument checks', () => {
  const ssh = $.ssh({ host: 'example.invalid', username: 'u', password: 'p', hostKey: 'off' });

  it('sudo() refuses bad users and passwords without showing the password', () => {
    expect(() => ssh`true`.sudo({ user: 'root; id' })).toThrow(InvalidArgumentError);
    const error = (() => {
      try {
        ssh`true`.sudo({ password: `${SECRET}\n` });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error!.message).not.toContain(SECRET);
    expect(() => ssh`true`.sudo({ pasword: 'x' } as never)).toThrow(/pasword is not a known option/);
  });

  it('pty() and respond() check their arguments', () => {
    expect(() => ssh`true`.pty({ cols: 0 })).toThrow(/cols must be an integer/);
    expect(() => ssh`true`.pty({ term: 'x y' })).toThrow(/term must be/);
    expect(() => ssh`true`.respond([])).toThrow(InvalidArgumentError);
    expect(() => ssh`true`.respond([{ match: /x/, answer: 3 as never }])).toThrow(/answer must be a string/);
  });

  it("a target's sudoPassword is refused without being shown, and never shows when inspected", () => {
    expect(() => $.ssh({ host: 'example.invalid', username: 'u', password: 'p', hostKey: 'off', sudoPassword: `${SECRET}\n` })).toThrow(/sudoPassword must be/);
    const secret = new Secret(SECRET);
    expect(`${inspect(secret)} ${JSON.stringify({ secret })} ${String(secret)}`).not.toContain(SECRET);
  });
});
