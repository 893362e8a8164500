import type { Clock } from '../core/clock.js';
import type { ProcessHold } from '../core/process-hold.js';
import type { ResolvedPoolConfig } from '../config/pool-config.js';
import type { ConnectionFactory } from '../ssh/connection.js';
import type { ConnectionBudget } from './connection-budget.js';
import type { TunnelKind } from './host-pool-events.js';
import type { ConnectionCounts } from './types.js';

/** Live numbers of one pool key for the observable instruments. */
export interface HostPoolGauges extends ConnectionCounts {
  readonly maxConnections: number;
  /** Channels the connections could carry at once, counting unopened ones at the configured limit. */
  readonly channelCapacity: number;
  readonly reconnectGivenUp: boolean;
  /** Tunnelled connections open now, by kind. */
  readonly tunnelConnections: Readonly<Record<TunnelKind, number>>;
  /** Spare session channels open and waiting for a command. */
  readonly spareChannels: number;
}

export interface HostPoolOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly config: ResolvedPoolConfig;
  /** Opens one connection of this pool key (one attempt). */
  readonly factory: ConnectionFactory;
  readonly budget: ConnectionBudget;
  /** @default the system clock */
  readonly clock?: Clock;
  /** @default the process-wide hold */
  readonly hold?: ProcessHold;
}

export interface CloseOptions {
  /** ms to let running and queued work finish before it is stopped. */
  readonly timeout: number;
}
