// Reads an OpenSSH client config file the way ssh(1) 9.x reads it (readconf.c): lines split by
// its own tokenizer (config-line.ts), files refused when others could have written them, and
// `Include` followed: relative paths are relative to ~/.ssh, wildcards expand in lexical order,
// no match is not an error, and inclusion nests at most 16 deep.
//
// Each file is parsed once per change: the parse is kept with the file's identity (device,
// inode), size, mtime and ctime, checked with one stat per file and lookup, so a large config
// is not parsed again on every `$.ssh()`.
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { SSHConfigError } from '../../core/errors.js';
import { openSSHEnvironment } from '../../core/openssh-environment.js';
import { splitConfigLine } from './config-line.js';
import type { ConfigEntry } from './config-line.js';
import { OPENSSH_KEYWORDS } from './ssh-keywords.js';
import { matchPattern } from './ssh-pattern.js';
import { expandTilde } from './ssh-tokens.js';
import { validateDirective } from './validate-directive.js';

export type { ConfigEntry } from './config-line.js';

export type ConfigItem =
  /** `unknown`: a keyword no OpenSSH knows; an error unless `IgnoreUnknown` covers it. */
  | { readonly kind: 'host' | 'match' | 'option' | 'unknown'; readonly entry: ConfigEntry }
  | { readonly kind: 'include'; readonly entry: ConfigEntry; readonly files: readonly ConfigFile[] };

export interface ConfigFile {
  readonly path: string;
  readonly items: readonly ConfigItem[];
  /** Identity and version of this file and of everything it includes: equal means the same text. */
  readonly signature: string;
}

const MAX_INCLUDE_DEPTH = 16;

/** A file's items before its Includes are expanded (what the cache keeps). */
type ParsedItem = { readonly kind: 'host' | 'match' | 'option' | 'unknown' | 'include'; readonly entry: ConfigEntry };

interface CachedParse {
  readonly signature: string;
  readonly items: readonly ParsedItem[];
}

const MAX_CACHED_FILES = 256;
const parsed = new Map<string, CachedParse>();

/**
 * Reads and parses `path` and everything it includes. `home` anchors `~` and relative
 * includes. Every file must be owned by the user or root and writable by nobody else, as ssh
 * requires of ~/.ssh/config and of everything it includes.
 */
export function loadConfigFile(path: string, home: string): ConfigFile {
  return load(path, home, 0);
}

function load(path: string, home: string, depth: number): ConfigFile {
  const parse = parseCached(path);
  const signatures = [`${path}@${parse.signature}`];
  const items = parse.items.map((item): ConfigItem => {
    if (item.kind !== 'include') return item as ConfigItem;
    const { entry } = item;
    if (depth + 1 > MAX_INCLUDE_DEPTH) throw new SSHConfigError(`Include nested more than ${MAX_INCLUDE_DEPTH} deep`, path, entry.line);
    const files = entry.args.flatMap((pattern) => expandInclude(pattern, home, entry)).map((file) => load(file, home, depth + 1));
    signatures.push(`[${files.map((file) => file.signature).join(',')}]`);
    return { kind: 'include', entry, files };
  });
  return { path, items, signature: signatures.join(' ') };
}

function parseCached(path: string): CachedParse {
  const cached = parsed.get(path);
  if (cached) {
    const stats = statOrThrow(path);
    checkOwnership(path, stats);
    if (signatureOf(stats) === cached.signature) return cached;
  }
  let text: string;
  let stats: BigIntStats;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    stats = fstatSync(fd, { bigint: true });
    checkOwnership(path, stats);
    text = readFileSync(fd, 'utf8');
  } catch (error) {
    if (error instanceof SSHConfigError) throw error;
    throw new SSHConfigError(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, path, undefined, { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const fresh = { signature: signatureOf(stats), items: parseText(text, path) };
  if (parsed.size >= MAX_CACHED_FILES && !parsed.has(path)) parsed.delete(parsed.keys().next().value!);
  parsed.set(path, fresh);
  return fresh;
}

function statOrThrow(path: string): BigIntStats {
  try {
    return statSync(path, { bigint: true });
  } catch (error) {
    throw new SSHConfigError(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, path, undefined, { cause: error });
  }
}

function signatureOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/**
 * readconf.c's SSHCONF_CHECKPERM: whoever can write a config file decides which hosts and keys
 * are trusted (UserKnownHostsFile, HostKeyAlias, ProxyJump).
 */
function checkOwnership(path: string, stats: BigIntStats): void {
  if (process.platform === 'win32') return;
  const uid = BigInt(openSSHEnvironment().uid);
  if ((stats.uid !== 0n && stats.uid !== uid) || (stats.mode & 0o022n) !== 0n) {
    const why = (stats.mode & 0o022n) !== 0n ? `writable by ${(stats.mode & 0o020n) !== 0n ? 'its group' : 'others'}` : `owned by uid ${stats.uid}`;
    throw new SSHConfigError(`Bad owner or permissions on ${path} (${why}; it must be owned by you or root and writable only by its owner, as ssh requires)`, path);
  }
}

function parseText(text: string, path: string): ParsedItem[] {
  const items: ParsedItem[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    const raw = lines[index]!;
    // ssh reads lines as C strings: a NUL ends the line.
    const nul = raw.indexOf('\0');
    const split = splitConfigLine(nul < 0 ? raw : raw.slice(0, nul));
    if (split === undefined) continue;
    if ('problem' in split) {
      throw new SSHConfigError(split.problem === 'invalid-quotes' ? 'invalid quotes' : `no argument after keyword "${split.name.toLowerCase()}"`, path, line);
    }
    const entry: ConfigEntry = { file: path, line, keyword: split.name.toLowerCase(), name: split.name, args: split.args, rest: split.rest };
    if (!OPENSSH_KEYWORDS.has(entry.keyword)) {
      items.push({ kind: 'unknown', entry });
      continue;
    }
    validateDirective(entry);
    const kind = entry.keyword === 'host' || entry.keyword === 'match' || entry.keyword === 'include' ? entry.keyword : 'option';
    items.push({ kind, entry });
  }
  return items;
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
