// Reads an OpenSSH client config file with the `ssh-config` package's parser and turns it into
// a list of items with file and line, following `Include` the way ssh(1) does: relative paths
// are relative to ~/.ssh, wildcards expand in lexical order, no match is not an error, and
// inclusion nests at most 16 deep.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import SSHConfig from 'ssh-config';
import type { Line } from 'ssh-config';
import { SSHConfigError } from '../../core/errors.js';
import { matchPattern } from './ssh-pattern.js';
import { expandTilde } from './ssh-tokens.js';

/** One directive as written, with where it was written. */
export interface ConfigEntry {
  readonly file: string;
  /** 1-based */
  readonly line: number;
  /** Lowercased keyword: OpenSSH keywords are case-insensitive. */
  readonly keyword: string;
  /** Keyword as written, for messages. */
  readonly name: string;
  /** Arguments with quotes removed. */
  readonly args: readonly string[];
}

export type ConfigItem =
  | { readonly kind: 'host' | 'match' | 'option'; readonly entry: ConfigEntry }
  | { readonly kind: 'include'; readonly entry: ConfigEntry; readonly files: readonly ConfigFile[] };

export interface ConfigFile {
  readonly path: string;
  readonly items: readonly ConfigItem[];
}

const MAX_INCLUDE_DEPTH = 16;

/** Reads and parses `path` and everything it includes. `home` anchors `~` and relative includes. */
export function loadConfigFile(path: string, home: string): ConfigFile {
  return load(path, home, 0);
}

function load(path: string, home: string, depth: number): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SSHConfigError(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, path, undefined, { cause: error });
  }
  let parsed: SSHConfig;
  try {
    parsed = SSHConfig.parse(text);
  } catch (error) {
    throw new SSHConfigError(`cannot parse: ${(error as Error).message}`, path, undefined, { cause: error });
  }
  const items: ConfigItem[] = [];
  let line = 1;
  // Lines carry their surrounding whitespace (newlines included) in `before`/`after`: counting
  // those newlines in document order gives each directive its line number.
  const visit = (node: Line): void => {
    line += countNewlines(node.before);
    if (node.type === SSHConfig.DIRECTIVE && node.param !== '') {
      const entry: ConfigEntry = {
        file: path,
        line,
        keyword: node.param.toLowerCase(),
        name: node.param,
        args: typeof node.value === 'string' ? (node.value === '' ? [] : [node.value]) : node.value.map((part) => part.val),
      };
      if (entry.keyword === 'host' || entry.keyword === 'match') {
        if (entry.args.length === 0) throw new SSHConfigError(`${entry.name} needs an argument`, path, line);
        items.push({ kind: entry.keyword, entry });
      } else if (entry.keyword === 'include') {
        if (depth + 1 > MAX_INCLUDE_DEPTH) throw new SSHConfigError(`Include nested more than ${MAX_INCLUDE_DEPTH} deep`, path, line);
        const files = entry.args.flatMap((pattern) => expandInclude(pattern, home, entry)).map((file) => load(file, home, depth + 1));
        items.push({ kind: 'include', entry, files });
      } else {
        items.push({ kind: 'option', entry });
      }
    }
    line += countNewlines(node.after);
    if ('config' in node) for (const child of node.config) visit(child);
  };
  for (const node of parsed) visit(node);
  return { path, items };
}

function countNewlines(text: string): number {
  let count = 0;
  for (const char of text) if (char === '\n') count++;
  return count;
}

/** Files an `Include` argument names, sorted as glob(3) returns them. */
function expandInclude(pattern: string, home: string, entry: ConfigEntry): string[] {
  const where = `${entry.file} line ${entry.line}`;
  let path = expandTilde(pattern, home, where);
  if (!isAbsolute(path)) path = join(home, '.ssh', path);
  const segments = path.split('/').filter((segment) => segment !== '');
  let candidates = ['/'];
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    const next: string[] = [];
    for (const dir of candidates) {
      if (!/[*?]/.test(segment)) {
        next.push(join(dir, segment));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        // glob(3) leaves dot files to patterns that start with a dot.
        if (name.startsWith('.') && !segment.startsWith('.')) continue;
        if (matchPattern(name, segment)) next.push(join(dir, name));
      }
    }
    candidates = last ? next : next.filter(isDirectory);
  }
  return candidates.filter(isFile);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
