import { describe, expect, it } from 'vitest';
import { $, InvalidArgumentError, quote } from '../../../src/index.js';
import { isRemoteCommandResult, RemoteCommandResult } from '../../../src/core/command-result.js';
import { buildCommand } from '../../../src/command/shell-quote.js';

const build = (strings: TemplateStringsArray, ...values: unknown[]) => buildCommand(strings, values, isRemoteCommandResult);

describe('shell quoting', () => {
  it('wraps every value in single quotes and escapes embedded quotes', () => {
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote('')).toBe("''");
    expect(quote('-rf')).toBe("'-rf'");
  });

  it('turns an array into one quoted word per element', () => {
    expect(build`ls ${['a b', 'c']}`.text).toBe("ls 'a b' 'c'");
    expect(build`ls ${[]}`.text).toBe('ls ');
  });

  it('quotes numbers and interpolates a previous result as its trimmed stdout', () => {
    const previous = new RemoteCommandResult({ stdout: '  /srv/app \n', stderr: '', exitCode: 0, signal: null, ok: true, durationMs: 1, host: 'h', command: 'pwd', template: 'pwd' });
    expect(build`cd ${previous} && sleep ${2}`.text).toBe("cd '/srv/app' && sleep '2'");
  });

  it('inserts $.raw() text unquoted', () => {
    expect(build`ls ${$.raw('*.log')}`.text).toBe('ls *.log');
  });

  it('keeps $.raw() text as it was checked: nothing on the value can change what is inserted', () => {
    const text = $.raw('ls');
    expect(Object.getOwnPropertySymbols(text)).toEqual([]);
    expect(Object.keys(text)).toEqual([]);
    expect(String(text)).toBe('ls');
    // An object that only looks like one is an object, which cannot be interpolated.
    expect(() => build`${{ toString: () => 'rm -rf /' }}`).toThrow(InvalidArgumentError);
  });

  it('masks every interpolated value, raw ones included, in the template', () => {
    expect(build`rm -rf ${'/tmp/x'} ${$.raw('--force')}`.template).toBe('rm -rf ? ?');
  });

  it('refuses values that cannot be one argument', () => {
    expect(() => build`echo ${'a\0b'}`).toThrow(InvalidArgumentError);
    expect(() => build`echo ${{ a: 1 }}`).toThrow(InvalidArgumentError);
    expect(() => build`echo ${undefined}`).toThrow(InvalidArgumentError);
    expect(() => build`echo ${null}`).toThrow(InvalidArgumentError);
    expect(() => build`echo ${Number.NaN}`).toThrow(InvalidArgumentError);
    expect(() => build`echo ${Promise.resolve('x')}`).toThrow(/await it first/);
  });
});
