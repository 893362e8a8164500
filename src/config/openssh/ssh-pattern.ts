// OpenSSH's pattern language (ssh_config(5) PATTERNS, match.c): `*` is any run of characters,
// `?` exactly one, nothing else is special. Not the glob of general-purpose config parsers, whose `?` may
// also matches nothing and whose Host lines split on commas, which OpenSSH does not do.

const compiled = new Map<string, RegExp>();

/** One pattern against one string, case-sensitive, as OpenSSH's match_pattern(). */
export function matchPattern(text: string, pattern: string): boolean {
  let regexp = compiled.get(pattern);
  if (!regexp) {
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[\\s\\S]*').replaceAll('?', '[\\s\\S]');
    regexp = new RegExp(`^${source}$`);
    compiled.set(pattern, regexp);
  }
  return regexp.test(text);
}

/**
 * A comma-separated pattern list as OpenSSH's match_pattern_list(): a matching negated entry
 * (`!pattern`) wins over any positive one. Returns 1 (match), 0 (no match) or -1 (negated match).
 * `caseFold` lowercases the list and the text, as match_hostname() does for `Match host`.
 */
export function matchPatternList(text: string, list: string, caseFold: boolean): 1 | 0 | -1 {
  const subject = caseFold ? text.toLowerCase() : text;
  let matched: 1 | 0 = 0;
  for (const raw of list.split(',')) {
    const entry = caseFold ? raw.toLowerCase() : raw;
    const negated = entry.startsWith('!');
    if (matchPattern(subject, negated ? entry.slice(1) : entry)) {
      if (negated) return -1;
      matched = 1;
    }
  }
  return matched;
}

/**
 * A `Host` line: each argument is one pattern (commas are literal), matched case-sensitively
 * against the name as given; a matching negated argument makes the whole line not match.
 */
export function matchHostLine(host: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (matchPattern(host, negated ? pattern.slice(1) : pattern)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}
