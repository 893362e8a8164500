import { MAX_TIMER_MS } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { endpointLabel, normalizeTarget } from '../config/ssh-target.js';
import type { NormalizedTarget } from '../config/ssh-target.js';
import { describe, isPlainObject } from '../core/validation.js';
import type { SSHTarget } from '../client/connection-pool.js';
import type { HostGroupStrategy, SSHHostGroupTarget } from './types.js';
import { DEFAULT_CIRCUIT_BREAKER } from './circuit-breaker.js';
import type { CircuitBreakerSettings } from './circuit-breaker.js';
import { STRATEGIES } from './strategies.js';

/** One validated member: its own target (the group's shared fields plus host and port). */
export interface MemberSpec {
  /** `host:port` */
  readonly label: string;
  readonly target: SSHTarget;
  readonly normalized: NormalizedTarget;
}

/** A validated group target with every default filled in. */
export interface HostGroupSpec {
  readonly name: string;
  readonly strategy: HostGroupStrategy;
  /** Undefined: no circuit breaker (`circuitBreaker: false`). */
  readonly circuitBreaker: CircuitBreakerSettings | undefined;
  readonly retryable: boolean;
  readonly concurrency: number;
  readonly members: readonly MemberSpec[];
}

export const DEFAULT_FAN_OUT_CONCURRENCY = 10;

const GROUP_KEYS = new Set(['hosts', 'strategy', 'circuitBreaker', 'retryable', 'concurrency', 'name']);
const BREAKER_KEYS = new Set(['failureThreshold', 'cooldown', 'maxCooldown']);

/** A member label: `host:port`, with IPv6 addresses in brackets so the port stays readable. */

function positiveInteger(value: unknown, path: string, max = MAX_TIMER_MS): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(`${path} must be an integer from 1 to ${max}, got ${describe(value)}`);
  }
  return value;
}

function circuitBreakerOf(value: unknown): CircuitBreakerSettings | undefined {
  if (value === undefined) return DEFAULT_CIRCUIT_BREAKER;
  if (value === false) return undefined;
  if (!isPlainObject(value)) throw new InvalidArgumentError(`circuitBreaker must be an object or false, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    if (!BREAKER_KEYS.has(key)) throw new InvalidArgumentError(`circuitBreaker.${key} is not a known option (known: ${[...BREAKER_KEYS].join(', ')})`);
  }
  const given = value as Record<string, unknown>;
  const settings = {
    failureThreshold: given['failureThreshold'] === undefined ? DEFAULT_CIRCUIT_BREAKER.failureThreshold : positiveInteger(given['failureThreshold'], 'circuitBreaker.failureThreshold', 1_000),
    cooldown: given['cooldown'] === undefined ? DEFAULT_CIRCUIT_BREAKER.cooldown : positiveInteger(given['cooldown'], 'circuitBreaker.cooldown'),
    maxCooldown: given['maxCooldown'] === undefined ? undefined : positiveInteger(given['maxCooldown'], 'circuitBreaker.maxCooldown'),
  };
  const maxCooldown = settings.maxCooldown ?? Math.max(settings.cooldown, DEFAULT_CIRCUIT_BREAKER.maxCooldown);
  if (maxCooldown < settings.cooldown) {
    throw new InvalidArgumentError(`circuitBreaker.maxCooldown (${maxCooldown}) cannot be less than circuitBreaker.cooldown (${settings.cooldown})`);
  }
  return Object.freeze({ ...settings, maxCooldown });
}

/** Validates `$.ssh({ hosts, ... })` and builds one target per member. */
/** `configFile`: the pool's, for members whose target names none. */
export function normalizeGroupTarget(group: SSHHostGroupTarget, configFile?: string | false): HostGroupSpec {
  if (!isPlainObject(group)) throw new InvalidArgumentError(`the host group must be an object, got ${describe(group)}`);
  const { hosts, strategy = 'round-robin', retryable = false, concurrency = DEFAULT_FAN_OUT_CONCURRENCY } = group;
  if ('host' in group) throw new InvalidArgumentError('a host group takes hosts: [...], not host');
  if (!Array.isArray(hosts) || hosts.length === 0) {
    const got = Array.isArray(hosts) ? 'an empty array' : describe(hosts);
    throw new InvalidArgumentError(`hosts must be a non-empty array of host names or { host, port } objects, got ${got}`);
  }
  if (!STRATEGIES.includes(strategy)) {
    throw new InvalidArgumentError(`strategy must be one of ${STRATEGIES.join(', ')}, got ${describe(strategy)}`);
  }
  if (typeof retryable !== 'boolean') throw new InvalidArgumentError(`retryable must be a boolean, got ${describe(retryable)}`);
  positiveInteger(concurrency, 'concurrency', 10_000);
  const circuitBreaker = circuitBreakerOf(group.circuitBreaker);

  // Every other field is shared by the members and validated as part of each member's target.
  const shared: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(group)) if (!GROUP_KEYS.has(key) && key !== 'pool') shared[key] = value;
  const members: MemberSpec[] = [];
  const seen = new Set<string>();
  hosts.forEach((entry: unknown, index) => {
    let host: unknown;
    let port: unknown = group.port;
    if (typeof entry === 'string') {
      host = entry;
    } else if (isPlainObject(entry)) {
      for (const key of Object.keys(entry)) {
        if (key !== 'host' && key !== 'port') throw new InvalidArgumentError(`hosts[${index}].${key} is not a known option (known: host, port)`);
      }
      host = (entry as Record<string, unknown>)['host'];
      port = (entry as Record<string, unknown>)['port'] ?? group.port;
    } else {
      throw new InvalidArgumentError(`hosts[${index}] must be a host name or { host, port }, got ${describe(entry)}`);
    }
    const target = { ...shared, host, ...(port === undefined ? {} : { port }) } as SSHTarget;
    let normalized: NormalizedTarget;
    try {
      normalized = normalizeTarget(target, { configFile });
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      // Name the member: "hosts[2]: target.port must be ..." says where to look.
      throw new InvalidArgumentError(`hosts[${index}]: ${error.message}`);
    }
    const label = endpointLabel(normalized.host, normalized.port);
    if (seen.has(label)) throw new InvalidArgumentError(`hosts[${index}]: ${label} is listed twice`);
    seen.add(label);
    members.push({ label, target, normalized });
  });

  const name = group.name ?? members.map((member) => member.label).join(',');
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError(`name must be a non-empty string, got ${describe(name)}`);
  return { name, strategy, circuitBreaker, retryable, concurrency, members };
}
