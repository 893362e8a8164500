// One line of an ssh_config file, split exactly as OpenSSH 9.x splits it (readconf.c
// process_config_line_depth): the keyword by misc.c strdelim (whitespace, one `=`, double
// quotes), the arguments by misc.c argv_split with comments (single and double quotes,
// backslash escapes, `#` a comment only where a word starts). `Match` lines keep their raw
// rest: ssh reads their criteria with strdelim, not argv_split.

/** One directive as written, with where it was written. */
export interface ConfigEntry {
  readonly file: string;
  /** 1-based */
  readonly line: number;
  /** Lowercased keyword: OpenSSH keywords are case-insensitive. */
  readonly keyword: string;
  /** Keyword as written, for messages. */
  readonly name: string;
  /** Arguments as ssh's argv_split gives them (quotes and escapes removed). */
  readonly args: readonly string[];
  /** The text after the keyword, as written: what ssh reads `Match` and `ProxyJump` from. */
  readonly rest: string;
}

/** A directive as split; `rest` is the text after the keyword (for `Match`). */
export interface SplitLine {
  readonly name: string;
  readonly rest: string;
  readonly args: readonly string[];
}

/** Why a line cannot be read, in ssh's words. */
export type LineProblem = 'no-argument' | 'invalid-quotes';

const WHITESPACE = ' \t\r\n';

/** Undefined for blank and comment lines; a problem for lines ssh rejects. */
export function splitConfigLine(raw: string): SplitLine | { readonly problem: LineProblem; readonly name: string } | undefined {
  // Trailing whitespace and form feeds go; the first character is never stripped (as ssh's loop).
  let end = raw.length;
  while (end > 1 && ' \t\r\n\f'.includes(raw[end - 1]!)) end--;
  const line = raw.slice(0, end);
  if (line === '') return undefined;

  let cursor: Cursor = { text: line, at: 0 };
  let keyword = strdelim(cursor);
  if (keyword === '') keyword = strdelim(cursor);
  if (keyword === undefined || keyword === '' || keyword.startsWith('\n') || keyword.startsWith('#')) return undefined;

  cursor = skipWhitespace(cursor);
  if (cursor.at < 0 || cursor.at >= cursor.text.length) return { problem: 'no-argument', name: keyword };
  const rest = cursor.text.slice(cursor.at);
  const args = argvSplit(rest, true);
  if (args === undefined) return { problem: 'invalid-quotes', name: keyword };
  return { name: keyword, rest, args };
}

/** A position in a string; `at` -1 is strdelim's NULL (nothing left). */
export interface Cursor {
  text: string;
  at: number;
}

function skipWhitespace(cursor: Cursor): Cursor {
  if (cursor.at < 0) return cursor;
  let at = cursor.at;
  while (at < cursor.text.length && WHITESPACE.includes(cursor.text[at]!)) at++;
  return { text: cursor.text, at };
}

/**
 * misc.c strdelim: the next token, splitting on whitespace, one `=`, or a double-quoted
 * string. Undefined is its NULL (no token, or an unmatched quote). Advances `cursor`.
 */
export function strdelim(cursor: Cursor): string | undefined {
  if (cursor.at < 0) return undefined;
  const { text } = cursor;
  const start = cursor.at;
  let stop = start;
  while (stop < text.length && !` \t\r\n"=`.includes(text[stop]!)) stop++;
  if (stop >= text.length) {
    cursor.at = -1;
    return text.slice(start);
  }
  if (text[stop] === '"') {
    // The quote is removed; the token runs from `start` (what came before the quote, if
    // anything) to the next quote.
    const close = text.indexOf('"', stop + 1);
    if (close < 0) {
      cursor.at = -1;
      return undefined;
    }
    const token = text.slice(start, stop) + text.slice(stop + 1, close);
    cursor.at = close + 1 + span(text, close + 1);
    return token;
  }
  const token = text.slice(start, stop);
  const sawEquals = text[stop] === '=';
  let at = stop + 1 + span(text, stop + 1);
  if (!sawEquals && text[at] === '=') at = at + 1 + span(text, at + 1);
  cursor.at = at;
  return token;
}

/** strspn(text + from, WHITESPACE) */
function span(text: string, from: number): number {
  let at = from;
  while (at < text.length && WHITESPACE.includes(text[at]!)) at++;
  return at - from;
}

/**
 * misc.c argv_split: words separated by spaces and tabs; `'` and `"` quote (and may start or
 * end inside a word); `\` escapes a quote, a backslash, or (outside quotes) a space, and is
 * kept before anything else; with `terminateOnComment`, `#` at the start of a word ends the
 * line. Undefined for an unterminated quote.
 */
export function argvSplit(text: string, terminateOnComment: boolean): string[] | undefined {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (terminateOnComment && c === '#') break;
    let quote = '';
    let arg = '';
    for (; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === '\\') {
        const next = text[i + 1];
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          i++;
          arg += next;
        } else {
          arg += ch;
        }
      } else if (quote === '' && (ch === ' ' || ch === '\t')) {
        break;
      } else if (quote === '' && (ch === '"' || ch === "'")) {
        quote = ch;
      } else if (quote !== '' && ch === quote) {
        quote = '';
      } else {
        arg += ch;
      }
    }
    args.push(arg);
    if (i >= text.length) {
      if (quote !== '') return undefined;
      break;
    }
  }
  return args;
}
