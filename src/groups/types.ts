import type { SSHTarget } from '../client/connection-pool.js';
import type { ResolvedPoolConfig } from '../config/pool-config.js';
import type { FanOutResult } from '../core/fan-out-result.js';

export type { FanOutResult } from '../core/fan-out-result.js';

/**
 * How a host group picks the host for each command:
 * - `round-robin`: each host in turn;
 * - `least-used`: the host with the fewest commands running or waiting on it, from the pool's
 *   live state (other users of the same pool count too); ties go round-robin;
 * - `failover`: the first host that is up, in list order (primary first).
 */
export type HostGroupStrategy = 'round-robin' | 'least-used' | 'failover';

/** One member of a host group given as an object. */
export interface HostGroupMember {
  host: string;
  /** @default the group's `port`, else 22 */
  port?: number;
}

/**
 * The circuit breaker of each group member. A member whose connections keep failing is marked
 * down: no command is sent to it until a probe (one connection opened in the background)
 * succeeds. Probes start after `cooldown` ms and back off, doubling up to `maxCooldown`.
 */
export interface CircuitBreakerConfig {
  /**
   * Failed connection opens in a row that mark a host down. Each one already includes the
   * pool's own `maxRetries` attempts, so 1 is not as hasty as it looks.
   * @default 1
   */
  failureThreshold?: number;
  /** ms a host stays down before the first probe. @default 5000 */
  cooldown?: number;
  /** Upper bound of the delay between failed probes, in ms. @default 60000 */
  maxCooldown?: number;
}

/**
 * `$.ssh({ hosts, ... })`: a group of hosts sharing user, credential and settings. Every
 * field of `SSHTarget` but `host` applies to each member.
 */
export interface SSHHostGroupTarget extends Omit<SSHTarget, 'host' | 'port'> {
  /** Members, as host names or `{ host, port }`. At least one; no duplicates. */
  hosts: ReadonlyArray<string | HostGroupMember>;
  /** Port of members given without one. @default 22 */
  port?: number;
  /** @default 'round-robin' */
  strategy?: HostGroupStrategy;
  /** Circuit breaker settings, or `false` to never mark a host down. @default { failureThreshold: 1, cooldown: 5000, maxCooldown: 60000 } */
  circuitBreaker?: CircuitBreakerConfig | false;
  /**
   * Re-run a command on another host when its connection was lost while it ran, for every
   * command of the group (a command's own `.retryable()` wins). Only for commands that are
   * safe to run twice. Commands that never started (their connection could not be opened)
   * always move on to the next host, whatever this says.
   * @default false
   */
  retryable?: boolean;
  /** Hosts a fan-out (`group.all`) runs on at once; `.concurrency(n)` overrides it. @default 10 */
  concurrency?: number;
  /** Name in telemetry (`ssh.group.name`) and errors. @default the members joined by ',' */
  name?: string;
}

/** A group member's state: `probing` is a down host whose probe is running. */
export type HostState = 'up' | 'down' | 'probing';

/** One member as `group.members()` reports it. */
export interface HostGroupMemberStatus {
  /** `host:port` */
  readonly host: string;
  /** The pool name its commands run under (`username@host:port`, `#N` for further credentials). */
  readonly poolName: string;
  readonly state: HostState;
  /** Epoch ms of the next probe while down. */
  readonly retryAt: number | undefined;
  /** The failure that marked it down, while it is down. */
  readonly lastError: Error | undefined;
  /** Its settings, as `pool.resolveConfig()` gives them: group `poolConfig` > `configureHost` rule > defaults. */
  readonly config: ResolvedPoolConfig;
}

/** Extra details of host group events. Never holds a credential. */
export interface HostGroupEventDetails {
  readonly group: string;
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
}

/** Event names and listener arguments of a host group. The first argument is `host:port`. */
export interface HostGroupEvents {
  /** The circuit breaker marked the host down; `error` is the failure that did it. */
  'host:down': [host: string, error: Error, details: HostGroupEventDetails];
  /** A probe (or a command) reached the host again. */
  'host:up': [host: string, details: HostGroupEventDetails];
}

/** Progress of a fan-out, reported as each host finishes. */
export interface FanOutProgress {
  /** The host that just finished. */
  readonly result: FanOutResult;
  /** Its position in the group's host order. */
  readonly index: number;
  /** Hosts finished so far, this one included. */
  readonly done: number;
  readonly total: number;
}
