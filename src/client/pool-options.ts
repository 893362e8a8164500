import { existsSync, statSync } from 'node:fs';
import type { PoolConfig } from '../config/types.js';
import { configFilePath } from '../config/openssh/resolve-ssh-config.js';
import { checkPoolRelations, POOL_CONFIG_SCHEMA } from '../config/pool-config.js';
import { InvalidArgumentError } from '../core/errors.js';
import { checkObject, describe, integer, isObjectWithMethod, isPlainObject } from '../core/validation.js';
import type { Check } from '../core/validation.js';
import type { SSHConnectionPoolOptions } from './types.js';

const POOL_OPTIONS_SCHEMA: Record<string, Check> = {
  ...POOL_CONFIG_SCHEMA,
  maxTotalConnections: integer(0, 1_000_000),
  maxOutputMemory: integer(0, Number.MAX_SAFE_INTEGER),
  tracerProvider: (value, path) => {
    if (!isObjectWithMethod(value, 'getTracer')) throw new InvalidArgumentError(`${path} must be a TracerProvider`);
  },
  meterProvider: (value, path) => {
    if (!isObjectWithMethod(value, 'getMeter')) throw new InvalidArgumentError(`${path} must be a MeterProvider`);
  },
  instanceName: (value, path) => {
    // A label value in every series: short, printable, one line.
    if (typeof value !== 'string' || !/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(value) || value.endsWith(' ')) {
      throw new InvalidArgumentError(`${path} must be 1 to 64 printable ASCII characters without leading or trailing spaces, got ${describe(value)}`);
    }
  },
  configFile: checkConfigFile,
};

/**
 * A pool-wide `configFile`: false, or the path of an existing file (`~` expanded). Checked
 * when given, so that a typo fails here rather than at the first command of every target.
 */
export function checkConfigFile(value: unknown, path: string): void {
  if (value === false) return;
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(`${path} must be a file path or false, got ${describe(value)}`);
  const file = configFilePath(value)!;
  if (!existsSync(file)) throw new InvalidArgumentError(`${path}: no such file: ${file}`);
  if (!statSync(file).isFile()) throw new InvalidArgumentError(`${path}: not a file: ${file}`);
}

/** Throws `InvalidArgumentError` naming the first unknown key or impossible value of a pool instance's options. */
export function validatePoolOptions(options: unknown): asserts options is SSHConnectionPoolOptions {
  if (!isPlainObject(options)) throw new InvalidArgumentError(`options must be an object, got ${describe(options)}`);
  checkObject(options, POOL_OPTIONS_SCHEMA, 'options');
  checkPoolRelations(options as PoolConfig, 'options');
}

/** Only the keys of a pool config, e.g. to split pool-wide options from per-key defaults. */
export function pickPoolConfig(options: SSHConnectionPoolOptions): PoolConfig {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(POOL_CONFIG_SCHEMA)) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) picked[key] = value;
  }
  return picked as PoolConfig;
}

