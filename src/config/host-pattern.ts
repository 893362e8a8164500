import { InvalidArgumentError } from '../core/errors.js';
import { describe } from '../core/validation.js';

/** A `configureHost` pattern: a RegExp, or a glob where `*` is any run and `?` one character. */
export function compileHostPattern(pattern: RegExp | string): (host: string) => boolean {
  if (pattern instanceof RegExp) {
    // A global or sticky RegExp keeps lastIndex between calls and would match every other time.
    const safe = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return (host) => safe.test(host);
  }
  if (typeof pattern !== 'string' || pattern === '') {
    throw new InvalidArgumentError(`configureHost() takes a RegExp or a glob string, got ${describe(pattern)}`);
  }
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  const regexp = new RegExp(`^${source}$`, 'i');
  return (host) => regexp.test(host);
}
