import type { OpenResult } from './connector.js';
import type { HostPoolEventStream, OpenPurpose } from './host-pool-events.js';

/** The parts whose state the growth decision reads. */
export interface GrowthParts {
  /** The waiting acquires. */
  readonly pending: { readonly length: number };
  /** The open connections. */
  readonly connections: { usableCount(): number };
  /** Opens in flight and the cap (generic-pool's store). */
  readonly store: { readonly opening: number; readonly size: number; readonly max: number };
  /** Whether an open in flight has finished a key exchange with the server (the connector's `FirstLogin`). */
  readonly contact: { readonly serverAnswering: boolean };
  /** The pool's one open path. */
  readonly opener: Opener;
}

/** How the pool's parts open a connection: through the host pool's one path (connector behind the store). */
export interface Opener {
  open(purpose: OpenPurpose, attempts: number, retryDropsOnly?: boolean): Promise<OpenResult>;
}

/**
 * Decides whether waiting acquires need more connections (tarn.js's one re-entry point for
 * creates): enough opens to cover the waiters at `maxChannelsPerConnection` each, within the
 * cap. Until one connection of the pool key is open, one open alone until an attempt finished a
 * key exchange, so that a server that is down, frozen or refusing costs one attempt at a time, not
 * one per slot (and the connector's `FirstLogin` keeps logins to one at a time until one succeeded).
 * Reports `pool-full` once per saturation.
 */
export class GrowthPolicy {
  readonly #config: { readonly maxChannelsPerConnection: number; readonly maxRetries: number };
  readonly #parts: GrowthParts;
  readonly #events: HostPoolEventStream;
  #saturated = false;

  constructor(config: { readonly maxChannelsPerConnection: number; readonly maxRetries: number }, parts: GrowthParts, events: HostPoolEventStream) {
    this.#config = config;
    this.#parts = parts;
    this.#events = events;
  }

  /** Opens what the waiters need. Call whenever waiters, connections or opens change. */
  grow(): void {
    const { pending, connections, store, opener, contact } = this.#parts;
    const waiting = pending.length;
    if (waiting === 0) return;
    const perConnection = this.#config.maxChannelsPerConnection;
    const uncovered = waiting - store.opening * perConnection;
    const room = store.max - store.size;
    // Until the pool key has a connection, one open alone until an attempt finished its key
    // exchange; then the rest, whose logins wait for the first one's answer (FirstLogin).
    const untested = connections.usableCount() === 0;
    const allowed = !untested || contact.serverAnswering ? room : store.opening === 0 ? Math.min(1, room) : 0;
    const wanted = Math.ceil(uncovered / perConnection);
    for (let i = 0; i < Math.min(wanted, allowed); i++) {
      // Beside a first open that is not through yet, only dropped handshakes are retried (a
      // burst beyond the server's MaxStartups): a server that fails later in the handshake must
      // not get every open's retries at once. The first open retries any transient failure.
      const besideFirst = untested && (store.opening > 0 || i > 0);
      void opener.open('demand', this.#config.maxRetries + 1, besideFirst);
    }
    if (uncovered > room * perConnection && !this.#saturated) {
      this.#saturated = true;
      this.#events.emit({ type: 'pool-full' });
    }
  }

  /** The queue emptied: the next saturation is a new one. */
  queueEmptied(): void {
    this.#saturated = false;
  }
}
