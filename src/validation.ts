// Generic checks and renderings shared by every module that validates caller input.

/** A plain `{...}` object: not an array, a class instance or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An object that has `method` as a function (duck-typing for providers from other copies of a package). */
export function isObjectWithMethod(value: unknown, method: string): boolean {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[method] === 'function';
}

/**
 * A short, secret-free rendering of a rejected value for error messages. Strings are never
 * echoed, however short: a password pasted into the wrong field (username, fingerprints) must
 * not reach a log through the message that rejects it.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      if (value === '') return 'an empty string';
      return value.length === 1 ? 'a string of 1 character' : `a string of ${value.length} characters`;
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return String(value);
    case 'function':
      return 'a function';
    default:
      return `an object`;
  }
}
