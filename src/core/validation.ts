// Generic checks and renderings shared by every module that validates caller input.
import { MAX_TIMER_MS } from './clock.js';
import { InvalidArgumentError } from './errors.js';

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

/** Checks one option value; throws `InvalidArgumentError` naming `path`. */
export type Check = (value: unknown, path: string) => void;

export const integer = (min: number, max: number): Check => (value, path) => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${path} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
};
export const duration = (min: number): Check => integer(min, MAX_TIMER_MS);
export const boolean: Check = (value, path) => {
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`${path} must be a boolean, got ${describe(value)}`);
};
export const oneOf = (...allowed: string[]): Check => (value, path) => {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new InvalidArgumentError(`${path} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`);
  }
};
export const nonEmptyString: Check = (value, path) => {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidArgumentError(`${path} must be a non-empty string, got ${describe(value)}`);
  }
};

/** An object option checked against `schema`. */
export const nested = (schema: Record<string, Check>): Check => (value, path) => {
  if (!isPlainObject(value)) throw new InvalidArgumentError(`${path} must be an object, got ${describe(value)}`);
  checkObject(value, schema, path);
};

/** Throws `InvalidArgumentError` for the first unknown key of `value` or the first value its check refuses. */
export function checkObject(value: Record<string, unknown>, schema: Record<string, Check>, path: string): void {
  for (const [key, field] of Object.entries(value)) {
    const check = schema[key];
    if (!check) {
      const known = Object.keys(schema).join(', ');
      throw new InvalidArgumentError(`${path}.${key} is not a known option (known: ${known})`);
    }
    if (field !== undefined) check(field, `${path}.${key}`);
  }
}

