import { InvalidArgumentError } from '../core/errors.js';
import { boolean, checkObject, describe, duration, integer, isPlainObject, nested, nonEmptyString, oneOf } from '../core/validation.js';
import type { Check } from '../core/validation.js';
import type { HealthCheckConfig, PoolConfig, ReconnectConfig, TelemetryConfig } from './types.js';

/** A pool key's settings with every default filled in. */
export interface ResolvedPoolConfig {
  readonly maxConnections: number;
  readonly maxChannelsPerConnection: number;
  readonly warmUpConnections: number;
  readonly idleTimeout: number;
  readonly maxLifetime: number;
  readonly keepAliveInterval: number;
  readonly keepAliveCountMax: number;
  readonly connectionTimeout: number;
  readonly acquireTimeout: number;
  readonly maxRetries: number;
  readonly maxConcurrentConnects: number;
  readonly spareChannels: boolean;
  readonly healthCheck: Required<HealthCheckConfig>;
  readonly reconnect: Required<ReconnectConfig>;
  readonly telemetry: Required<TelemetryConfig>;
}

export const DEFAULT_POOL_CONFIG: ResolvedPoolConfig = Object.freeze({
  maxConnections: 10,
  maxChannelsPerConnection: 5,
  warmUpConnections: 0,
  idleTimeout: 60_000,
  maxLifetime: 0,
  keepAliveInterval: 15_000,
  keepAliveCountMax: 3,
  connectionTimeout: 10_000,
  acquireTimeout: 30_000,
  maxRetries: 2,
  maxConcurrentConnects: 10,
  spareChannels: true,
  healthCheck: Object.freeze({ enabled: false, interval: 30_000, timeout: 5_000, command: 'true' }),
  reconnect: Object.freeze({
    enabled: true,
    maxRetries: 5,
    initialDelay: 200,
    maxDelay: 10_000,
    backoff: 'exponential' as const,
    jitter: true,
  }),
  telemetry: Object.freeze({ acquireSpans: 'all' as const, healthCheckSpans: 'all' as const, captureCommand: false, connectSpans: 'root' as const }),
});

const HEALTH_CHECK_SCHEMA: Record<keyof HealthCheckConfig, Check> = {
  enabled: boolean,
  interval: duration(1),
  timeout: duration(1),
  command: nonEmptyString,
};
const RECONNECT_SCHEMA: Record<keyof ReconnectConfig, Check> = {
  enabled: boolean,
  maxRetries: integer(0, 1000),
  initialDelay: duration(0),
  maxDelay: duration(0),
  backoff: oneOf('exponential', 'linear', 'fixed'),
  jitter: boolean,
};
const TELEMETRY_SCHEMA: Record<keyof TelemetryConfig, Check> = {
  acquireSpans: oneOf('all', 'non-reused', 'none'),
  healthCheckSpans: oneOf('all', 'failures', 'none'),
  captureCommand: boolean,
  connectSpans: oneOf('root', 'child'),
};

export const POOL_CONFIG_SCHEMA: Record<keyof PoolConfig, Check> = {
  maxConnections: integer(1, 10_000),
  maxChannelsPerConnection: integer(1, 1_000),
  warmUpConnections: integer(0, 10_000),
  idleTimeout: duration(0),
  maxLifetime: duration(0),
  keepAliveInterval: duration(0),
  keepAliveCountMax: integer(1, 1_000),
  connectionTimeout: duration(1),
  acquireTimeout: duration(1),
  maxRetries: integer(0, 100),
  maxConcurrentConnects: integer(1, 1_000),
  spareChannels: boolean,
  healthCheck: nested(HEALTH_CHECK_SCHEMA),
  reconnect: nested(RECONNECT_SCHEMA),
  telemetry: nested(TELEMETRY_SCHEMA),
};

/** Throws `InvalidArgumentError` naming the first unknown key or impossible value. */
export function validatePoolConfig(config: unknown, path = 'poolConfig'): asserts config is PoolConfig {
  if (!isPlainObject(config)) throw new InvalidArgumentError(`${path} must be an object, got ${describe(config)}`);
  checkObject(config, POOL_CONFIG_SCHEMA, path);
  checkPoolRelations(config as PoolConfig, path);
}

/** Later layers win field by field; nested objects merge rather than replace. */
export function resolvePoolConfig(...layers: ReadonlyArray<PoolConfig | undefined>): ResolvedPoolConfig {
  let merged: ResolvedPoolConfig = DEFAULT_POOL_CONFIG;
  for (const layer of layers) {
    if (!layer) continue;
    merged = {
      maxConnections: layer.maxConnections ?? merged.maxConnections,
      maxChannelsPerConnection: layer.maxChannelsPerConnection ?? merged.maxChannelsPerConnection,
      warmUpConnections: layer.warmUpConnections ?? merged.warmUpConnections,
      idleTimeout: layer.idleTimeout ?? merged.idleTimeout,
      maxLifetime: layer.maxLifetime ?? merged.maxLifetime,
      keepAliveInterval: layer.keepAliveInterval ?? merged.keepAliveInterval,
      keepAliveCountMax: layer.keepAliveCountMax ?? merged.keepAliveCountMax,
      connectionTimeout: layer.connectionTimeout ?? merged.connectionTimeout,
      acquireTimeout: layer.acquireTimeout ?? merged.acquireTimeout,
      maxRetries: layer.maxRetries ?? merged.maxRetries,
      maxConcurrentConnects: layer.maxConcurrentConnects ?? merged.maxConcurrentConnects,
      spareChannels: layer.spareChannels ?? merged.spareChannels,
      healthCheck: { ...merged.healthCheck, ...stripUndefined(layer.healthCheck) },
      reconnect: { ...merged.reconnect, ...stripUndefined(layer.reconnect) },
      telemetry: { ...merged.telemetry, ...stripUndefined(layer.telemetry) },
    };
  }
  if (merged.warmUpConnections > merged.maxConnections) {
    throw new InvalidArgumentError(
      `warmUpConnections (${merged.warmUpConnections}) cannot exceed maxConnections (${merged.maxConnections})`,
    );
  }
  return merged;
}

export function checkPoolRelations(config: PoolConfig, path: string): void {
  const { warmUpConnections, maxConnections, reconnect } = config;
  if (warmUpConnections !== undefined && maxConnections !== undefined && warmUpConnections > maxConnections) {
    throw new InvalidArgumentError(
      `${path}.warmUpConnections (${warmUpConnections}) cannot exceed ${path}.maxConnections (${maxConnections})`,
    );
  }
  if (reconnect?.initialDelay !== undefined && reconnect.maxDelay !== undefined && reconnect.initialDelay > reconnect.maxDelay) {
    throw new InvalidArgumentError(
      `${path}.reconnect.initialDelay (${reconnect.initialDelay}) cannot exceed ${path}.reconnect.maxDelay (${reconnect.maxDelay})`,
    );
  }
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
