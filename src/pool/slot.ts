import type { ChannelOutcome } from '../command/channel-contract.js';
import type { PoolConnection } from '../ssh/connection.js';
import type { AcquireOutcome } from './host-pool-events.js';
import type { PoolEntry } from './pool-entry.js';

/** One channel slot on one connection, held by one command or lease. */
export interface Slot {
  readonly entry: PoolEntry;
  readonly connection: PoolConnection;
  readonly outcome: AcquireOutcome;
  readonly waitMs: number;
  /** Clock time the slot was granted. */
  readonly grantedAt: number;
  /** Lent as a place on the connection's open SFTP channel, already joined (`PoolEntry.joinSftp`). */
  readonly ridesSftp?: boolean;
}

/** How a command's channel ended, and the slot it ran on. */
export interface ExecOutcome {
  readonly channel: ChannelOutcome;
  readonly slot: Slot;
}
