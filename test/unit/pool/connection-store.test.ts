// ConnectionStore: generic-pool as the holder of a pool key's connections and their cap, over
// the real Connector and a factory the test answers by hand.
import { describe, expect, it } from 'vitest';
import { AuthenticationError } from '../../../src/core/errors.js';
import { ConnectionBudget } from '../../../src/pool/connection-budget.js';
import { ConnectionStore } from '../../../src/pool/connection-store.js';
import { Connector } from '../../../src/pool/connector.js';
import type { OpenResult } from '../../../src/pool/connector.js';
import type { PoolConnection } from '../../../src/ssh/connection.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeConnection, FakeConnectionLayer } from '../../support/fake-connections.js';
import { deferred, RecordedEvents } from '../../support/pool-parts.js';
import type { Deferred } from '../../support/pool-parts.js';

const endpoint = { poolName: 'u@fake:22', host: 'fake', port: 22 };

function setup(max = 2) {
  const clock = new FakeClock();
  const layer = new FakeConnectionLayer(clock);
  const calls: Array<Deferred<PoolConnection>> = [];
  const factory = (): Promise<PoolConnection> => {
    const call = deferred<PoolConnection>();
    calls.push(call);
    return call.promise;
  };
  const connector = new Connector({
    endpoint, factory, budget: new ConnectionBudget(0), budgetMember: { closeOneIdleConnection: () => false }, clock,
    events: new RecordedEvents(), maxConcurrentConnects: max, closed: new AbortController().signal,
    proven: () => false, serverReached: () => {},
    backoff: { enabled: true, maxRetries: 1, initialDelay: 10, maxDelay: 10, backoff: 'fixed', jitter: false },
  });
  const store = new ConnectionStore(connector, max);
  const open = () => {
    const outcome: { result?: OpenResult } = {};
    void store.open({ purpose: 'demand', attempts: 1, stillWanted: () => true }).then((result) => (outcome.result = result));
    return outcome;
  };
  return { store, calls, open, connection: () => new FakeConnection(layer) };
}

describe('connection store', () => {
  it('counts an open against the cap from its start, and as opening until it ends', async () => {
    const { store, open, calls, connection } = setup(2);
    open();
    expect(store.size).toBe(1);
    expect(store.opening).toBe(1);
    expect(store.max).toBe(2);
    await settle();
    calls[0]!.resolve(connection());
    await settle();
    expect(store.size).toBe(1);
    expect(store.opening).toBe(0);
  });

  it('refuses an open at the cap instead of queueing it inside generic-pool', () => {
    const { store, open } = setup(1);
    open();
    expect(() => store.open({ purpose: 'demand', attempts: 1, stillWanted: () => true })).toThrow('ConnectionStore.open() at capacity (1)');
  });

  it('hands a failed open to its caller as a result and frees its place under the cap', async () => {
    const { store, open, calls } = setup(1);
    const outcome = open();
    await settle();
    const denied = new AuthenticationError('denied', endpoint);
    calls[0]!.reject(denied);
    await settle();
    expect(outcome.result).toMatchObject({ ok: false, error: denied });
    expect(store.size).toBe(0);
    expect(store.opening).toBe(0);
  });

  it('frees the place of a failed open before its caller hears of it, so the caller may open again at once', async () => {
    const { store, calls } = setup(1);
    let sizeSeen: number | undefined;
    const done = store.open({ purpose: 'demand', attempts: 1, stillWanted: () => true }).then(() => (sizeSeen = store.size));
    await settle();
    calls[0]!.reject(new AuthenticationError('denied', endpoint));
    await done;
    expect(sizeSeen).toBe(0);
  });

  it('routes each connection to the open that made it, whichever finishes first', async () => {
    const { open, calls, connection, store } = setup(2);
    const first = open();
    const second = open();
    await settle();
    expect(calls).toHaveLength(2);
    const a = connection();
    const b = connection();
    calls[1]!.resolve(b);
    await settle();
    expect(second.result).toMatchObject({ ok: true, connection: b });
    expect(first.result).toBeUndefined();
    calls[0]!.resolve(a);
    await settle();
    expect(first.result).toMatchObject({ ok: true, connection: a });
    expect(store.has(a) && store.has(b)).toBe(true);
  });

  it('forgets a removed connection so it no longer counts against the cap, and closes it', async () => {
    const { store, open, calls, connection } = setup(1);
    open();
    await settle();
    const c = connection();
    calls[0]!.resolve(c);
    await settle();
    store.remove(c);
    await settle();
    expect(store.has(c)).toBe(false);
    expect(store.size).toBe(0);
    expect(c.closeReason).toBe('shutdown');
    expect(() => open()).not.toThrow();
  });

  it('leaves a removed connection open when its caller keeps closing it itself (keepOpen)', async () => {
    const { store, open, calls, connection } = setup(1);
    open();
    await settle();
    const retiring = connection();
    calls[0]!.resolve(retiring);
    await settle();
    store.remove(retiring, true);
    await settle();
    expect(store.size).toBe(0);
    expect(retiring.usable).toBe(true);
  });

  it('ignores the removal of a connection it does not hold', async () => {
    const { store, open, calls, connection } = setup(2);
    open();
    await settle();
    const held = connection();
    calls[0]!.resolve(held);
    await settle();
    const stranger = connection();
    store.remove(stranger);
    await settle();
    expect(store.size).toBe(1);
    expect(stranger.usable).toBe(true);
  });

  it('regression: an open after close never settled and stayed opening — it fails as an open after the pool closed', async () => {
    const { store, open, calls } = setup(1);
    await store.close();
    const outcome = open();
    await settle();
    expect(outcome.result).toMatchObject({ ok: false, attemptId: undefined });
    expect(outcome.result?.ok === false && outcome.result.error.message).toBe('The pool for u@fake:22 closed while connecting');
    expect(store.opening).toBe(0);
    expect(calls).toHaveLength(0);
  });

  it('closes only once every connection it holds has been removed', async () => {
    const { store, open, calls, connection } = setup(1);
    open();
    await settle();
    const c = connection();
    calls[0]!.resolve(c);
    await settle();
    let closed = false;
    void store.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false);
    store.remove(c);
    await settle();
    expect(closed).toBe(true);
  });
});
