import type { ResolvedPoolConfig } from '../config/pool-config.js';
import type { PoolConfig } from '../config/types.js';
import { isPlainObject } from '../core/validation.js';

/**
 * The fields of a later target's `poolConfig` that its pool key, created earlier with other
 * settings, does not run with: `maxConnections (asked 5, in force 10)`, nested ones dotted.
 */
export function ignoredPoolConfigFields(asked: PoolConfig, inForce: ResolvedPoolConfig): string[] {
  const fields: string[] = [];
  const compare = (path: string, want: unknown, have: unknown): void => {
    if (want === undefined || Object.is(want, have)) return;
    fields.push(`${path} (asked ${show(want)}, in force ${show(have)})`);
  };
  for (const [key, value] of Object.entries(asked)) {
    const current = (inForce as unknown as Record<string, unknown>)[key];
    if (isPlainObject(value)) {
      for (const [inner, innerValue] of Object.entries(value)) {
        compare(`${key}.${inner}`, innerValue, isPlainObject(current) ? current[inner] : undefined);
      }
    } else {
      compare(key, value, current);
    }
  }
  return fields;
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}
