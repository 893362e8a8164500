import { InvalidArgumentError } from '../core/errors.js';
import { describe } from '../core/validation.js';

/**
 * Text inserted into a command as is, without quoting. Made by `$.raw()`. Its text is private:
 * nothing can change it after `$.raw()` checked it.
 */
export class RawShellText {
  readonly #text: string;

  /** @internal Use `$.raw()`, which checks the text first. */
  constructor(text: string) {
    this.#text = text;
  }

  toString(): string {
    return this.#text;
  }
}

/** Marks text to be inserted unquoted. Only for trusted text: it can do anything a shell can. */
export function raw(text: string): RawShellText {
  if (typeof text !== 'string') throw new InvalidArgumentError(`$.raw() takes a string, got ${describe(text)}`);
  checkEncodable(text, 'the text given to $.raw()');
  return new RawShellText(text);
}

/** ES2024's String.prototype.isWellFormed (Node 20+), beyond the ES2023 library the project compiles against. */
interface WellFormedCheckable {
  isWellFormed(): boolean;
}

// With the u flag a surrogate range matches only code units that are not half of a pair.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Refuses a NUL: it ends the command early on the server (OpenSSH drops the whole connection for it). */
export function checkNoNul(text: string, what: string): void {
  if (text.includes('\0')) {
    throw new InvalidArgumentError(`${what} contains a NUL byte, which no command or argument can carry; pass binary data with .stdin()`);
  }
}

/** Refuses a lone UTF-16 surrogate: it has no UTF-8 form, and Node would send U+FFFD instead. */
export function checkWellFormed(text: string, what: string): void {
  // The native check first: the regex below only runs to name the culprit.
  if ((text as unknown as WellFormedCheckable).isWellFormed()) return;
  const surrogate = LONE_SURROGATE.exec(text);
  if (surrogate) {
    const unit = surrogate[0].charCodeAt(0).toString(16).toUpperCase();
    throw new InvalidArgumentError(
      `${what} contains a lone UTF-16 surrogate (U+${unit} at index ${surrogate.index}), which has no UTF-8 encoding; ` +
        'it would reach the server as U+FFFD',
    );
  }
}

/** Refuses text that cannot travel as the UTF-8 bytes of an SSH exec request unchanged. */
export function checkEncodable(text: string, what: string): void {
  checkNoNul(text, what);
  checkWellFormed(text, what);
}

/**
 * POSIX single-quoting: inside '…' no character is special, and a quote itself is written as
 * '\'' (close, escaped quote, reopen). The result is exactly one shell word for any input.
 */
export function quote(text: string): string {
  checkEncodable(text, 'an interpolated value');
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
  if (value instanceof RawShellText) return value.toString();
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

/**
 * The text of template segment `index`. A segment with an invalid escape sequence (`\1`,
 * `\x`, `\u{}` misused...) has no cooked value: it is refused rather than dropped or read
 * raw, since dropping loses text and reading it raw would give `\(` a different meaning in
 * that one segment than everywhere else.
 */
function segment(strings: TemplateStringsArray | readonly string[], index: number): string {
  const cooked = strings[index];
  if (typeof cooked === 'string') {
    checkEncodable(cooked, 'the command template text');
    return cooked;
  }
  const rawText = (strings as TemplateStringsArray).raw?.[index];
  if (rawText === undefined) return '';
  const excerpt = rawText.length > 60 ? `${rawText.slice(0, 60)}…` : rawText;
  throw new InvalidArgumentError(
    `the command template has an invalid escape sequence in its text \`${excerpt}\` ` +
      '(JavaScript template literals allow no \\1, \\x without hex digits, or \\u without a code point); ' +
      'write a double backslash (\\\\1) to send a backslash, or pass the text through $.raw(String.raw`...`)',
  );
}

export function buildCommand(strings: TemplateStringsArray | readonly string[], values: readonly unknown[], isResult: ResultCheck): BuiltCommand {
  let text = segment(strings, 0);
  let template = text;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const tail = segment(strings, i + 1);
    text += render(value, isResult) + tail;
    // Raw text is masked too: it is as likely as any value to carry a secret.
    template += '?' + tail;
  }
  return { text, template };
}
