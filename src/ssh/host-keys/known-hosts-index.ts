// known_hosts files read once per change and looked up by name without scanning every line:
// a file is split into fields once (kept while its device, inode, size, mtime and ctime stay
// the same), plain names are indexed, and what a name finds is remembered. Hashed lines can
// only be tested by hashing the name with each line's salt; `warmKnownHosts` does that ahead
// of a connect, in slices between which the event loop runs, so the synchronous lookup during
// the handshake finds the answer ready.
import { createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { checkKnownHostsLine, hostFieldMatches, parseHashedHost, splitKnownHostsLine } from './known-hosts.js';
import type { KnownHostEntry, KnownHostsLineFields } from './known-hosts.js';

/** An entry and the file it came from. */
export interface KnownHostFileEntry extends KnownHostEntry {
  readonly file: string;
}

/** What a file says about one name, or why it cannot be used (a missing file is empty). */
export type KnownHostsLookup = { readonly entries: readonly KnownHostFileEntry[]; readonly problem?: undefined } | { readonly entries?: undefined; readonly problem: string };

interface HashedLine {
  readonly fields: KnownHostsLineFields;
  salt: Buffer | undefined;
  hash: Buffer | undefined;
  /** Malformed `|1|` field: the line never matches. */
  invalid: boolean;
}

/** Lines read or hashed per slice by warmKnownHosts before it lets the event loop run. */
const SLICE = 1_000;
/** Names remembered per file version. */
const MAX_NAMES = 1_024;
const MAX_FILES = 64;

class KnownHostsIndex {
  /** Literal names (lowercase) to the lines that list them. */
  readonly #byName = new Map<string, KnownHostsLineFields[]>();
  /** Lines with wildcards or negations: matched one by one. */
  readonly #patterns: KnownHostsLineFields[] = [];
  readonly #hashed: HashedLine[] = [];
  readonly #found = new Map<string, readonly KnownHostFileEntry[]>();
  readonly #checked = new Map<KnownHostsLineFields, KnownHostFileEntry | undefined>();

  private constructor(
    readonly file: string,
    readonly signature: string,
  ) {}

  static fromText(file: string, signature: string, text: string): KnownHostsIndex {
    const index = new KnownHostsIndex(file, signature);
    const lines = text.split('\n');
    index.#addLines(lines, 0, lines.length);
    return index;
  }

  /** The same as fromText, in slices with the event loop running between them. */
  static async fromTextSliced(file: string, signature: string, text: string): Promise<KnownHostsIndex> {
    const index = new KnownHostsIndex(file, signature);
    const lines = text.split('\n');
    for (let start = 0; start < lines.length; start += SLICE) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      index.#addLines(lines, start, Math.min(start + SLICE, lines.length));
    }
    return index;
  }

  #addLines(lines: readonly string[], from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const fields = splitKnownHostsLine(lines[i]!, i + 1);
      if (!fields) continue;
      if (fields.hosts.startsWith('|')) {
        this.#hashed.push({ fields, salt: undefined, hash: undefined, invalid: false });
      } else if (/[*?!]/.test(fields.hosts)) {
        this.#patterns.push(fields);
      } else {
        for (const name of new Set(fields.hosts.toLowerCase().split(','))) {
          if (name === '') continue;
          const list = this.#byName.get(name);
          if (list) list.push(fields);
          else this.#byName.set(name, [fields]);
        }
      }
    }
  }

  /** The usable entries naming `name` (known_hosts form, e.g. `[host]:2222`), in file order. */
  lookup(name: string): readonly KnownHostFileEntry[] {
    const lower = name.toLowerCase();
    const found = this.#found.get(lower);
    if (found) return found;
    return this.#remember(lower, this.#hashedMatches(lower, 0, this.#hashed.length));
  }

  /** The same as lookup, hashing in slices with the event loop running between them. */
  async warm(name: string): Promise<void> {
    const lower = name.toLowerCase();
    if (this.#found.has(lower)) return;
    const matches: KnownHostsLineFields[] = [];
    for (let start = 0; start < this.#hashed.length; start += SLICE) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      matches.push(...this.#hashedMatches(lower, start, Math.min(start + SLICE, this.#hashed.length)));
    }
    if (!this.#found.has(lower)) this.#remember(lower, matches);
  }

  #hashedMatches(lower: string, from: number, to: number): KnownHostsLineFields[] {
    const matches: KnownHostsLineFields[] = [];
    for (let i = from; i < to; i++) {
      const line = this.#hashed[i]!;
      if (line.invalid) continue;
      if (!line.salt) {
        const parsed = parseHashedHost(line.fields.hosts);
        if (!parsed) {
          line.invalid = true;
          continue;
        }
        line.salt = parsed.salt;
        line.hash = Buffer.from(parsed.hash, 'base64');
      }
      if (createHmac('sha1', line.salt).update(lower).digest().equals(line.hash!)) matches.push(line.fields);
    }
    return matches;
  }

  #remember(lower: string, hashed: readonly KnownHostsLineFields[]): readonly KnownHostFileEntry[] {
    const candidates = [...(this.#byName.get(lower) ?? []), ...hashed, ...this.#patterns.filter((fields) => hostFieldMatches(fields.hosts, lower))];
    candidates.sort((a, b) => a.line - b.line);
    const entries: KnownHostFileEntry[] = [];
    for (const fields of candidates) {
      let entry = this.#checked.get(fields);
      if (!this.#checked.has(fields)) {
        const checked = checkKnownHostsLine(fields);
        entry = checked && { ...checked, file: this.file };
        this.#checked.set(fields, entry);
      }
      if (entry) entries.push(entry);
    }
    if (this.#found.size >= MAX_NAMES) this.#found.delete(this.#found.keys().next().value!);
    this.#found.set(lower, entries);
    return entries;
  }
}

const indexes = new Map<string, KnownHostsIndex>();

function signatureOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

function remember(index: KnownHostsIndex): KnownHostsIndex {
  indexes.delete(index.file);
  if (indexes.size >= MAX_FILES) indexes.delete(indexes.keys().next().value!);
  indexes.set(index.file, index);
  return index;
}

function problemOf(file: string, error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
  // A directory or an unreadable file will not fix itself on retry: a permanent rejection.
  const what = code === 'EISDIR' ? 'is a directory, not a known_hosts file' : `cannot be read (${code ?? 'unknown error'})`;
  return `${file} ${what}`;
}

/** The current index of `file`: undefined for a missing file, a string for a problem. */
function indexOf(file: string): KnownHostsIndex | string | undefined {
  let stats: BigIntStats;
  try {
    stats = statSync(file, { bigint: true });
    if (stats.isDirectory()) return `${file} is a directory, not a known_hosts file`;
  } catch (error) {
    return problemOf(file, error);
  }
  const signature = signatureOf(stats);
  const cached = indexes.get(file);
  if (cached?.signature === signature) return cached;
  try {
    return remember(KnownHostsIndex.fromText(file, signature, readFileSync(file, 'utf8')));
  } catch (error) {
    return problemOf(file, error);
  }
}

/** What `files`, in order, say about `name`. */
export function lookupKnownHosts(files: readonly string[], name: string): KnownHostsLookup {
  const entries: KnownHostFileEntry[] = [];
  for (const file of files) {
    const index = indexOf(file);
    if (typeof index === 'string') return { problem: index };
    if (index) entries.push(...index.lookup(name));
  }
  return { entries };
}

/**
 * Reads `files` and looks `names` up ahead of a connect, without blocking the event loop for
 * long. Never rejects: whatever fails here is found and reported by the lookup itself.
 */
export async function warmKnownHosts(files: readonly string[], names: readonly string[]): Promise<void> {
  for (const file of files) {
    try {
      const stats = await stat(file, { bigint: true });
      if (stats.isDirectory()) continue;
      const signature = signatureOf(stats);
      let index = indexes.get(file);
      if (index?.signature !== signature) index = remember(await KnownHostsIndex.fromTextSliced(file, signature, await readFile(file, 'utf8')));
      for (const name of names) await index.warm(name);
    } catch {
      // Reported by lookupKnownHosts.
    }
  }
}
