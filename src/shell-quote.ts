import { InvalidArgumentError } from './errors.js';
import { describe } from './validation.js';

const RAW = Symbol('sshpool.raw');

/** Text inserted into a command as is, without quoting. Made by `$.raw()`. */
export interface RawShellText {
  readonly [RAW]: string;
}

/** Marks text to be inserted unquoted. Only for trusted text: it can do anything a shell can. */
export function raw(text: string): RawShellText {
  if (typeof text !== 'string') throw new InvalidArgumentError(`$.raw() takes a string, got ${describe(text)}`);
  return Object.freeze({ [RAW]: text, toString: () => text });
}

function isRaw(value: unknown): value is RawShellText {
  return typeof value === 'object' && value !== null && RAW in value;
}

/**
 * POSIX single-quoting: inside '…' no character is special, and a quote itself is written as
 * '\'' (close, escaped quote, reopen). The result is exactly one shell word for any input.
 */
export function quote(text: string): string {
  if (text.includes('\0')) {
    // A NUL cannot travel in an argv string: the remote side would silently truncate it.
    throw new InvalidArgumentError('an interpolated value contains a NUL byte, which no shell argument can carry');
  }
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Something that interpolates as its trimmed stdout: a previous command's result. */
export interface OutputLike {
  readonly stdout: string;
}

/** Recognises the results sshpool creates, so that arbitrary objects are never stringified. */
export type ResultCheck = (value: unknown) => value is OutputLike;

/** Renders one interpolated value as shell words. */
function render(value: unknown, isResult: ResultCheck): string {
  if (isRaw(value)) return value[RAW];
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new InvalidArgumentError(`cannot interpolate the number ${value}`);
    }
    return quote(String(value));
  }
  if (Array.isArray(value)) {
    return value.map((item) => render(item, isResult)).filter((word) => word !== '').join(' ');
  }
  if (isResult(value)) return quote(value.stdout.trim());
  if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
    throw new InvalidArgumentError('cannot interpolate a command that has not finished: await it first');
  }
  throw new InvalidArgumentError(
    `cannot interpolate ${describe(value)}: use a string, number, array, previous result or $.raw()`,
  );
}

/** The command text to run and the same text with every interpolated value masked as `?`. */
export interface BuiltCommand {
  readonly text: string;
  readonly template: string;
}

export function buildCommand(strings: TemplateStringsArray | readonly string[], values: readonly unknown[], isResult: ResultCheck): BuiltCommand {
  let text = strings[0] ?? '';
  let template = text;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const tail = strings[i + 1] ?? '';
    text += render(value, isResult) + tail;
    // Raw text is masked too: it is as likely as any value to carry a secret.
    template += '?' + tail;
  }
  return { text, template };
}
