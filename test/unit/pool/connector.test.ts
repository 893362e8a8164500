// Connector: the one path that opens a connection — a budget permit, a place under
// maxConcurrentConnects, attempts with backoff — driven by a factory the test answers by hand.
import { describe, expect, it } from 'vitest';
import { AuthenticationError, ConnectError, ConnectTimeoutError } from '../../../src/core/errors.js';
import { recordConnectPhases } from '../../../src/ssh/connect-phases.js';
import { ConnectionBudget } from '../../../src/pool/connection-budget.js';
import { Connector } from '../../../src/pool/connector.js';
import type { OpenRequest, OpenResult } from '../../../src/pool/connector.js';
import type { ConnectAttemptHooks, PoolConnection } from '../../../src/ssh/connection.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeConnection, FakeConnectionLayer } from '../../support/fake-connections.js';
import { deferred, RecordedEvents } from '../../support/pool-parts.js';
import type { Deferred } from '../../support/pool-parts.js';

const endpoint = { poolName: 'u@fake:22', host: 'fake', port: 22 };
const refused = (): ConnectError => new ConnectError('Cannot connect to u@fake:22: ECONNREFUSED', endpoint, true);
/** What sshd beyond its MaxStartups does: accepts the TCP connection, then closes it before the key exchange. */
const dropped = (): ConnectError => {
  const error = new ConnectError('Connection to u@fake:22 closed during the SSH handshake', endpoint, true);
  recordConnectPhases(error, [{ phase: 'tcp-connected', at: 0 }]);
  return error;
};
const BACKOFF = { enabled: true, maxRetries: 5, initialDelay: 100, maxDelay: 1_000, backoff: 'exponential' as const, jitter: false };

function setup(options: { maxConcurrentConnects?: number; budget?: ConnectionBudget } = {}) {
  const clock = new FakeClock();
  const layer = new FakeConnectionLayer(clock);
  const events = new RecordedEvents();
  const budget = options.budget ?? new ConnectionBudget(0);
  const member = { closeOneIdleConnection: () => false };
  budget.join(member);
  const closer = new AbortController();
  // Each factory call waits for the test to answer it.
  const calls: Array<Deferred<PoolConnection> & { at: number; hooks: ConnectAttemptHooks | undefined }> = [];
  const factory = (hooks?: ConnectAttemptHooks): Promise<PoolConnection> => {
    const call = { ...deferred<PoolConnection>(), at: clock.now(), hooks };
    calls.push(call);
    return call.promise;
  };
  const connector = new Connector({
    endpoint, factory, budget, budgetMember: member, clock, events,
    maxConcurrentConnects: options.maxConcurrentConnects ?? 2, backoff: BACKOFF, closed: closer.signal,
    proven: () => false, serverReached: () => {},
  });
  const open = (request: Partial<OpenRequest> = {}) => {
    const outcome: { result?: OpenResult; rejected?: unknown } = {};
    connector.open({ purpose: 'demand', attempts: 1, stillWanted: () => true, ...request })
      .then((result) => (outcome.result = result), (error: unknown) => (outcome.rejected = error));
    return outcome;
  };
  const connection = (): FakeConnection => new FakeConnection(layer);
  return { clock, events, budget, member, closer, calls, connector, open, connection };
}

describe('connector', () => {
  it('opens through the factory and reports connect-started then connected for one attempt', async () => {
    const { open, calls, events, connection } = setup();
    const outcome = open({ purpose: 'warm-up' });
    await settle();
    expect(calls).toHaveLength(1);
    const opened = connection();
    calls[0]!.resolve(opened);
    await settle();
    expect(outcome.result).toMatchObject({ ok: true, connection: opened });
    expect(events.types()).toEqual(['connect-started', 'connected']);
    const [started] = events.of('connect-started');
    expect(started).toMatchObject({ purpose: 'warm-up' });
    expect(events.of('connected')).toEqual([{ type: 'connected', attemptId: started!.attemptId, connection: opened, durationMs: opened.connectDurationMs }]);
    expect(outcome.result?.attemptId).toBe(started!.attemptId);
  });

  it('keeps the budget permit of an open that succeeded, and gives back the permit of one that failed', async () => {
    const { open, calls, budget, connection } = setup();
    open();
    open();
    await settle();
    expect(budget.used).toBe(2);
    calls[0]!.resolve(connection());
    calls[1]!.reject(new AuthenticationError('denied', endpoint));
    await settle();
    expect(budget.used).toBe(1);
  });

  it('waits for a budget permit before connecting', async () => {
    const budget = new ConnectionBudget(1);
    const other = { closeOneIdleConnection: () => false };
    budget.join(other);
    await budget.acquire(other);
    const { open, calls } = setup({ budget });
    const outcome = open();
    await settle();
    expect(calls).toHaveLength(0);
    budget.release();
    await settle();
    expect(calls).toHaveLength(1);
    expect(outcome).toEqual({});
  });

  it('gives up without an attempt when its pool leaves the budget while it waits for a permit', async () => {
    const budget = new ConnectionBudget(1);
    const other = { closeOneIdleConnection: () => false };
    budget.join(other);
    await budget.acquire(other);
    const { open, calls, events, member } = setup({ budget });
    const outcome = open();
    await settle();
    budget.leave(member);
    await settle();
    expect(calls).toHaveLength(0);
    expect(events.all).toEqual([]);
    expect(outcome.result).toMatchObject({ ok: false, attemptId: undefined });
    expect(outcome.result?.ok === false && outcome.result.error.message).toBe('The pool for u@fake:22 closed while connecting');
  });

  it('gives up an open that gets its place at the connect gate only after nobody wants it: no attempt, no event', async () => {
    const { open, calls, events, budget } = setup({ maxConcurrentConnects: 1 });
    let wanted = true;
    open();
    const queued = open({ stillWanted: () => wanted });
    await settle();
    expect(calls).toHaveLength(1);
    // The commands the queued open was for failed meanwhile (say, with the first open's refused login).
    wanted = false;
    calls[0]!.reject(new ConnectError('Authentication failed', endpoint, false));
    await settle();
    expect(calls).toHaveLength(1);
    expect(queued.result).toMatchObject({ ok: false, unneeded: true, attemptId: undefined });
    expect(events.types()).toEqual(['connect-started', 'connect-failed']);
    expect(budget.used).toBe(0);
  });

  it('retries only dropped handshakes for an open that asks so (beside a pool key\'s first open)', async () => {
    const { open, calls, clock } = setup();
    const outcome = open({ attempts: 3, retryDropsOnly: true });
    await settle();
    const dropped = new ConnectError('Connection closed during the SSH handshake', endpoint, true);
    recordConnectPhases(dropped, [{ phase: 'tcp-connected', at: 0 }]);
    calls[0]!.reject(dropped);
    await settle();
    await clock.advance(1_000);
    await settle();
    expect(calls).toHaveLength(2);
    // Lost after the key exchange: not retried.
    const lost = new ConnectError('Connection closed during the SSH handshake', endpoint, true);
    recordConnectPhases(lost, [{ phase: 'tcp-connected', at: 0 }, { phase: 'key-exchanged', at: 1 }]);
    calls[1]!.reject(lost);
    await settle();
    await clock.advance(1_000);
    await settle();
    expect(calls).toHaveLength(2);
    expect(outcome.result).toMatchObject({ ok: false, error: lost });
  });

  it('ends the attempts waiting for a login turn when the pool closes', async () => {
    const { open, calls, connector, closer } = setup({ maxConcurrentConnects: 2 });
    open();
    open();
    await settle();
    expect(calls[0]!.hooks!.loginTurn()).toBe('granted');
    const waiting = calls[1]!.hooks!.loginTurn();
    closer.abort();
    connector.close();
    await expect(waiting).resolves.toBe('closed');
  });

  it('passes each attempt hooks of its own, and tells the first login gate how each ended', async () => {
    const { open, calls, connection } = setup({ maxConcurrentConnects: 3 });
    const hooks: Array<ConnectAttemptHooks | undefined> = [];
    open();
    open();
    await settle();
    expect(calls).toHaveLength(2);
    for (const call of calls) hooks.push(call.hooks);
    expect(hooks[0]).toBeDefined();
    expect(hooks[0]).not.toBe(hooks[1]);
    // The first to ask logs in; the second waits for its answer.
    expect(hooks[0]!.loginTurn()).toBe('granted');
    const second = hooks[1]!.loginTurn();
    expect(second).toBeInstanceOf(Promise);
    calls[0]!.resolve(connection());
    await expect(second).resolves.toBe('granted');
  });

  it('connects at most maxConcurrentConnects at once; the next starts when one ends', async () => {
    const { open, calls, connection } = setup({ maxConcurrentConnects: 2 });
    open();
    open();
    open();
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]!.reject(refused());
    await settle();
    expect(calls).toHaveLength(3);
    calls[0]!.resolve(connection());
    calls[2]!.resolve(connection());
  });

  it('halves the handshakes it runs at once when the server drops one (MaxStartups), once per burst', async () => {
    const { open, calls, connector, connection } = setup({ maxConcurrentConnects: 8 });
    for (let i = 0; i < 12; i++) open();
    await settle();
    expect(calls).toHaveLength(8);
    // Three handshakes of the same burst dropped: one halving, not three.
    for (const call of calls.slice(0, 3)) call.reject(dropped());
    await settle();
    expect(connector.concurrentConnects).toBe(4);
    // 5 still in flight: none of the waiting opens starts until fewer than 4 run.
    expect(calls).toHaveLength(8);
    calls[3]!.resolve(connection());
    calls[4]!.resolve(connection());
    await settle();
    expect(calls).toHaveLength(9);
    for (const call of calls.slice(5)) call.resolve(connection());
    await settle();
    for (const call of calls.slice(9)) call.resolve(connection());
  });

  it('does not count a refused connection or a timeout as a dropped handshake', async () => {
    const { open, calls, connector } = setup({ maxConcurrentConnects: 8 });
    open();
    open();
    await settle();
    calls[0]!.reject(refused());
    calls[1]!.reject(new ConnectTimeoutError('Connecting to u@fake:22 timed out after 10 ms', endpoint, 10));
    await settle();
    expect(connector.concurrentConnects).toBe(8);
  });

  it('raises the number again by one after a full round of completed handshakes, up to maxConcurrentConnects', async () => {
    const { open, calls, connector, connection } = setup({ maxConcurrentConnects: 4 });
    open();
    await settle();
    calls[0]!.reject(dropped());
    await settle();
    expect(connector.concurrentConnects).toBe(2);
    for (let i = 0; i < 2; i++) {
      open();
      await settle();
      calls.at(-1)!.resolve(connection());
      await settle();
    }
    expect(connector.concurrentConnects).toBe(3);
    for (let i = 0; i < 10; i++) {
      open();
      await settle();
      calls.at(-1)!.resolve(connection());
      await settle();
    }
    expect(connector.concurrentConnects).toBe(4);
  });

  it('retries a transient failure after the configured backoff, up to its attempts', async () => {
    const { open, calls, clock, events, connection } = setup();
    const outcome = open({ attempts: 3 });
    await settle();
    calls[0]!.reject(refused());
    await clock.advance(99);
    expect(calls).toHaveLength(1);
    await clock.advance(1);
    expect(calls.map((call) => call.at)).toEqual([0, 100]);
    calls[1]!.reject(refused());
    await clock.advance(200);
    expect(calls.map((call) => call.at)).toEqual([0, 100, 300]);
    const opened = connection();
    calls[2]!.resolve(opened);
    await settle();
    expect(outcome.result).toMatchObject({ ok: true, connection: opened });
    expect(events.types()).toEqual(['connect-started', 'connect-failed', 'connect-started', 'connect-failed', 'connect-started', 'connected']);
  });

  it('answers with the last failure once its attempts are used up', async () => {
    const { open, calls, clock, budget } = setup();
    const outcome = open({ attempts: 2 });
    await settle();
    calls[0]!.reject(refused());
    await clock.advance(100);
    const last = refused();
    calls[1]!.reject(last);
    await settle();
    expect(calls).toHaveLength(2);
    expect(outcome.result).toMatchObject({ ok: false, error: last });
    expect(budget.used).toBe(0);
  });

  it('never retries a permanent failure', async () => {
    const { open, calls, clock, events } = setup();
    const outcome = open({ attempts: 5 });
    await settle();
    const denied = new AuthenticationError('denied', endpoint);
    calls[0]!.reject(denied);
    await clock.advance(10_000);
    expect(calls).toHaveLength(1);
    expect(outcome.result).toMatchObject({ ok: false, error: denied });
    expect(events.of('connect-failed')).toMatchObject([{ error: denied }]);
  });

  it('stops retrying once nobody wants the connection any more', async () => {
    const { open, calls, clock } = setup();
    let wanted = true;
    const outcome = open({ attempts: 5, stillWanted: () => wanted });
    await settle();
    const first = refused();
    calls[0]!.reject(first);
    await settle();
    wanted = false;
    await clock.advance(10_000);
    expect(calls).toHaveLength(1);
    expect(outcome.result).toMatchObject({ ok: false, error: first });
  });

  it('ends a backoff early and starts no new attempt once the pool closes', async () => {
    const { open, calls, clock, closer } = setup();
    const outcome = open({ attempts: 5 });
    await settle();
    calls[0]!.reject(refused());
    await clock.advance(10);
    closer.abort();
    await settle();
    // Answered at 10 ms, 90 ms before the backoff would have ended.
    expect(outcome.result).toMatchObject({ ok: false });
    await clock.advance(10_000);
    expect(calls).toHaveLength(1);
  });

  it('destroys a connection that arrives after the pool closed, and gives its permit back', async () => {
    const { open, calls, closer, budget, events, connection } = setup();
    const outcome = open();
    await settle();
    closer.abort();
    const late = connection();
    calls[0]!.resolve(late);
    await settle();
    expect(late.closeReason).toBe('shutdown');
    expect(outcome.result).toMatchObject({ ok: false, attemptId: undefined });
    expect(budget.used).toBe(0);
    expect(events.types()).toEqual(['connect-started']);
  });

  it('never rejects: an error that is not a ConnectError, even thrown synchronously, becomes a transient ConnectError result', async () => {
    const { events, budget, clock } = setup();
    let calls = 0;
    const throwing = new Connector({
      endpoint, factory: () => {
        calls++;
        throw new Error('socket hang up');
      },
      budget, budgetMember: { closeOneIdleConnection: () => false }, clock, events,
      maxConcurrentConnects: 1, backoff: BACKOFF, closed: new AbortController().signal,
      proven: () => false, serverReached: () => {},
    });
    const result = throwing.open({ purpose: 'reconnect', attempts: 2, stillWanted: () => true });
    await clock.advance(100);
    const settled = await result;
    expect(calls).toBe(2);
    expect(settled.ok).toBe(false);
    if (settled.ok) return;
    expect(settled.error).toBeInstanceOf(ConnectError);
    expect(settled.error.transient).toBe(true);
    expect(settled.error.message).toBe('Cannot connect to u@fake:22: socket hang up');
    expect((settled.error.cause as Error).message).toBe('socket hang up');
  });

  it('reports how long a failed attempt took', async () => {
    const { open, calls, clock, events } = setup();
    open();
    await settle();
    await clock.advance(42);
    calls[0]!.reject(refused());
    await settle();
    expect(events.of('connect-failed')).toMatchObject([{ durationMs: 42 }]);
  });

  it('gives each attempt its own id, increasing', async () => {
    const { open, calls, clock, events } = setup();
    open({ attempts: 3 });
    await settle();
    calls[0]!.reject(refused());
    await clock.advance(100);
    calls[1]!.reject(refused());
    await clock.advance(200);
    calls[2]!.reject(refused());
    await settle();
    const ids = events.of('connect-started').map((event) => event.attemptId);
    expect(ids).toHaveLength(3);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
    expect(events.of('connect-failed').map((event) => event.attemptId)).toEqual(ids);
  });
});
