import genericPool from 'generic-pool';
import type { Pool } from 'generic-pool';
import type { Connector, OpenRequest, OpenResult } from './connector.js';
import type { PoolConnection } from '../ssh/connection.js';

/** One open on its way into generic-pool's create. */
interface Handoff {
  readonly request: OpenRequest;
  readonly deliver: (result: OpenResult) => void;
  /** Set once create took it: from then on the create's own result is what gets delivered. */
  taken: boolean;
}

/** What generic-pool holds: the outcome of one create, successful or not. */
interface StoredResource {
  readonly result: OpenResult;
  /** Until delivered: then let go, as the open it resolves is over. */
  deliver: ((result: OpenResult) => void) | undefined;
  /** Set when the host pool keeps closing the connection itself after the store forgets it. */
  detached: boolean;
}

/**
 * The connections of one pool key as generic-pool keeps them: it owns the cap
 * (`maxConnections`), create and destroy. A connection is borrowed from generic-pool from its
 * open until it is removed, and lent as channel slots by the host pool meanwhile; so
 * generic-pool's own lending, validation and eviction never come into play (the traps listed
 * in docs/architecture.md: an acquire that never settles while create keeps failing, dead idle resources
 * lent out, inert idle timeouts).
 * Invariant: `size <= max`; the host pool calls `open()` only while `size < max`, so every
 * acquire creates at once and no request queues inside generic-pool.
 */
export class ConnectionStore {
  readonly #pool: Pool<StoredResource>;
  readonly #connector: Connector;
  // A few connections per pool key: an exact-size array, replaced on change, is far smaller
  // than a map, and a fleet has one per host.
  #stored: readonly StoredResource[] = [];
  // generic-pool calls create synchronously inside acquire(); this hands it the request.
  #handoff: Handoff | undefined;
  #opening = 0;

  constructor(connector: Connector, max: number) {
    this.#connector = connector;
    this.#pool = genericPool.createPool<StoredResource>(
      new ConnectionStore.#Factory(this),
      { max, min: 0, testOnBorrow: false, evictionRunIntervalMillis: 0, autostart: true },
    );
  }

  /** Connections open or opening: what counts against `maxConnections`. */
  get size(): number {
    return this.#pool.size;
  }

  get max(): number {
    return this.#pool.max;
  }

  /** Opens in flight. */
  get opening(): number {
    return this.#opening;
  }

  /** Opens one connection through the connector. Call only while `size < max`. */
  open(request: OpenRequest): Promise<OpenResult> {
    if (this.#pool.size >= this.#pool.max) throw new Error(`ConnectionStore.open() at capacity (${this.#pool.max})`);
    return new Promise<OpenResult>((deliver) => {
      const handoff: Handoff = { request, deliver, taken: false };
      this.#handoff = handoff;
      this.#opening++;
      // Resources are routed by what they carry, not by which acquire receives them: two
      // creates may finish in either order.
      void this.#pool.acquire().then((resource) => {
        // `concat`: an exact-size copy (a spread with an extra element reserves room for more).
        if (resource.result.ok) this.#stored = this.#stored.concat(resource);
        else void this.#pool.destroy(resource);
        const deliver = resource.deliver;
        resource.deliver = undefined;
        deliver?.(resource.result);
      }, () => {
        // Only a draining generic-pool rejects, and it does so before it creates: the open
        // fails as one that starts after the pool closed, instead of never settling.
        if (handoff.taken) return;
        this.#opening--;
        deliver(this.#connector.closedResult());
      });
      this.#handoff = undefined;
    });
  }

  /**
   * Forgets a connection so that it no longer counts against the cap. `keepOpen`: the caller
   * closes it later (a retired connection finishing its last channels).
   */
  remove(connection: PoolConnection, keepOpen = false): void {
    const resource = this.#find(connection);
    if (!resource) return;
    this.#stored = this.#stored.filter((stored) => stored !== resource);
    resource.detached = keepOpen;
    void this.#pool.destroy(resource).catch(() => {});
  }

  has(connection: PoolConnection): boolean {
    return this.#find(connection) !== undefined;
  }

  #find(connection: PoolConnection): StoredResource | undefined {
    return this.#stored.find((stored) => stored.result.ok && stored.result.connection === connection);
  }

  async close(): Promise<void> {
    await this.#pool.drain().catch(() => {});
    await this.#pool.clear().catch(() => {});
  }

  async #create(): Promise<StoredResource> {
    const handoff = this.#handoff;
    if (!handoff) throw new Error('ConnectionStore: create without a request');
    handoff.taken = true;
    try {
      const result = await this.#connector.open(handoff.request);
      return { result, deliver: handoff.deliver, detached: false };
    } finally {
      this.#opening--;
    }
  }

  async #destroy(resource: StoredResource): Promise<void> {
    if (resource.result.ok && !resource.detached) resource.result.connection.close('shutdown');
  }

  /** generic-pool's factory: one small object over the store instead of two closures per pool key. */
  static readonly #Factory = class implements genericPool.Factory<StoredResource> {
    readonly #store: ConnectionStore;

    constructor(store: ConnectionStore) {
      this.#store = store;
    }

    create(): Promise<StoredResource> {
      return this.#store.#create();
    }

    destroy(resource: StoredResource): Promise<void> {
      return this.#store.#destroy(resource);
    }
  };
}
