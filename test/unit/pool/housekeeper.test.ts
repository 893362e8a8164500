// Housekeeper: idle and lifetime expiry, the warm minimum, and reconnect with bounded attempts
// and backoff, over real OpenConnections, fake connections, a fake opener and a fake clock.
import { describe, expect, it } from 'vitest';
import { AuthenticationError, ConnectError } from '../../../src/core/errors.js';
import type { ConnectError as ConnectErrorType } from '../../../src/core/errors.js';
import { resolvePoolConfig } from '../../../src/config/pool-config.js';
import type { PoolConfig } from '../../../src/config/types.js';
import type { OpenResult } from '../../../src/pool/connector.js';
import type { OpenPurpose } from '../../../src/pool/host-pool-events.js';
import { Housekeeper } from '../../../src/pool/housekeeper.js';
import { OpenConnections } from '../../../src/pool/open-connections.js';
import type { PoolEntry } from '../../../src/pool/pool-entry.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeConnectionLayer } from '../../support/fake-connections.js';
import type { FakeConnection } from '../../support/fake-connections.js';
import { entryOf, RecordedEvents } from '../../support/pool-parts.js';

const endpoint = { poolName: 'u@fake:22', host: 'fake', port: 22 };
const refused = (): ConnectErrorType => new ConnectError('Cannot connect to u@fake:22: ECONNREFUSED', endpoint, true);
const OPEN_MS = 5;

/**
 * A pool key around a housekeeper: its opens take OPEN_MS on the clock and add an entry, or
 * fail as `nextFailures` says.
 */
function setup(config: PoolConfig) {
  const clock = new FakeClock();
  const layer = new FakeConnectionLayer(clock);
  const events = new RecordedEvents();
  const connections = new OpenConnections();
  const closer = new AbortController();
  const resolved = resolvePoolConfig({ maxConnections: 4, idleTimeout: 0, ...config });
  const store = { opening: 0, size: 0, max: resolved.maxConnections };
  const pending = { length: 0 };
  const opens: Array<{ purpose: OpenPurpose; attempts: number; at: number }> = [];
  const failedWaiters: Error[] = [];
  /** How the next opens fail; an open succeeds when this is empty. */
  const nextFailures: ConnectErrorType[] = [];
  let attemptId = 100;
  const add = (): PoolEntry => {
    const entry = entryOf(layer, clock, resolved.maxChannelsPerConnection);
    connections.add(entry);
    store.size++;
    // As the host pool does: a closed connection leaves the connections and the store.
    entry.connection.onClose(() => {
      connections.delete(entry);
      store.size--;
    });
    return entry;
  };
  const opener = {
    open(purpose: OpenPurpose, attempts: number): Promise<OpenResult> {
      opens.push({ purpose, attempts, at: clock.now() });
      store.opening++;
      store.size++;
      const failure = nextFailures.shift();
      return new Promise<OpenResult>((resolve) => {
        clock.setTimeout(() => {
          store.opening--;
          store.size--;
          const id = attemptId++;
          if (failure) {
            resolve({ ok: false, error: failure, attemptId: id });
            return;
          }
          const entry = add();
          resolve({ ok: true, connection: entry.connection, attemptId: id });
        }, OPEN_MS);
      });
    },
    failWaiters: (error: Error) => void failedWaiters.push(error),
  };
  const keeper = new Housekeeper({ config: resolved, clock, events, closed: closer.signal, connections, store, pending, opener });
  return { clock, layer, events, connections, closer, store, pending, opens, failedWaiters, nextFailures, keeper, add, config: resolved };
}

const closeReason = (entry: PoolEntry): string | undefined => (entry.connection as FakeConnection).closeReason;

describe('housekeeper', () => {
  describe('idle expiry', () => {
    it('closes a connection idle past idleTimeout with reason idle, and keeps one idle for less', async () => {
      const { keeper, add, clock } = setup({ idleTimeout: 1_000 });
      const old = add();
      await clock.advance(600);
      const recent = add();
      recent.lend();
      recent.release(clock.now());
      await clock.advance(400);
      keeper.tick();
      expect(closeReason(old)).toBe('idle');
      expect(old.idleWhenClosed).toBe(1_000);
      expect(recent.connection.usable).toBe(true);
    });

    it('keeps the warm minimum, and keeps the most recently used connections for it', async () => {
      const { keeper, add, clock } = setup({ idleTimeout: 1_000, warmUpConnections: 1 });
      const entries = [add(), add(), add()];
      const used = (entry: PoolEntry, at: number): void => {
        entry.lend();
        entry.release(at);
      };
      used(entries[0]!, 50);
      used(entries[1]!, 200);
      used(entries[2]!, 100);
      await clock.advance(5_000);
      keeper.tick();
      expect(entries.map((entry) => entry.connection.usable)).toEqual([false, true, false]);
    });

    it('counts busy connections toward the warm minimum', async () => {
      const { keeper, add, clock } = setup({ idleTimeout: 1_000, warmUpConnections: 1 });
      const busy = add();
      busy.lend();
      const idle = add();
      await clock.advance(5_000);
      keeper.tick();
      expect(busy.connection.usable).toBe(true);
      expect(closeReason(idle)).toBe('idle');
    });

    it('never closes for idleness with idleTimeout 0', async () => {
      const { keeper, add, clock } = setup({ idleTimeout: 0 });
      const entry = add();
      await clock.advance(10_000_000);
      keeper.tick();
      expect(entry.connection.usable).toBe(true);
    });

    it('runs on its own timer once started, a quarter of idleTimeout apart', async () => {
      const { keeper, add, clock } = setup({ idleTimeout: 1_000 });
      keeper.start();
      await clock.advance(100);
      const entry = add();
      // Idle for idleTimeout at 1,100 ms; the next tick after that is at 1,250 ms.
      await clock.advance(1_149);
      expect(entry.connection.usable).toBe(true);
      await clock.advance(1);
      expect(closeReason(entry)).toBe('idle');
    });

    it('does nothing after stop()', async () => {
      const { keeper, add, clock } = setup({ idleTimeout: 1_000 });
      keeper.start();
      const entry = add();
      keeper.stop();
      await clock.advance(5_000);
      keeper.tick();
      expect(entry.connection.usable).toBe(true);
      expect(clock.pendingTimers).toBe(0);
    });
  });

  describe('maxLifetime', () => {
    it('closes an idle connection past maxLifetime with reason expired, the warm minimum notwithstanding', async () => {
      const { keeper, add, clock } = setup({ maxLifetime: 2_000, warmUpConnections: 1 });
      const aged = add();
      await clock.advance(2_000);
      keeper.tick();
      expect(closeReason(aged)).toBe('expired');
      expect(aged.idleWhenClosed).toBeUndefined();
    });

    it('leaves a busy connection past maxLifetime to the pool, which closes it when its channels end', async () => {
      const { keeper, add, clock } = setup({ maxLifetime: 2_000 });
      const busy = add();
      busy.lend();
      await clock.advance(3_000);
      keeper.tick();
      expect(busy.connection.usable).toBe(true);
    });
  });

  describe('warm minimum', () => {
    it('opens the missing warm connections with purpose warm-up and maxRetries + 1 attempts', async () => {
      const { keeper, add, opens, connections, clock } = setup({ warmUpConnections: 3, maxRetries: 2 });
      add();
      keeper.ensureWarm();
      expect(opens).toEqual([{ purpose: 'warm-up', attempts: 3, at: 0 }, { purpose: 'warm-up', attempts: 3, at: 0 }]);
      await clock.advance(OPEN_MS);
      expect(connections.usableCount()).toBe(3);
    });

    it('counts opens in flight, and starts no second round while one is opening', () => {
      const { keeper, opens, store } = setup({ warmUpConnections: 2 });
      store.opening = 1;
      store.size = 1;
      keeper.ensureWarm();
      expect(opens).toHaveLength(1);
      store.opening = 0;
      store.size = 2;
      keeper.ensureWarm();
      expect(opens).toHaveLength(1);
    });

    it('opens no more than the cap allows', () => {
      const { keeper, opens, store } = setup({ warmUpConnections: 3, maxConnections: 3 });
      store.size = 2; // two places taken by connections of no concern here (retiring ones, say)
      keeper.ensureWarm();
      expect(opens).toHaveLength(1);
    });

    it('tops the warm minimum back up after an expiry', async () => {
      const { keeper, add, opens, clock, connections } = setup({ maxLifetime: 2_000, warmUpConnections: 1 });
      add();
      await clock.advance(2_000);
      keeper.tick();
      expect(opens).toMatchObject([{ purpose: 'warm-up' }]);
      await clock.advance(OPEN_MS);
      expect(connections.usableCount()).toBe(1);
    });

    it('hands a transient warm-up failure over to reconnect', async () => {
      const { keeper, nextFailures, clock, events } = setup({ warmUpConnections: 1, reconnect: { initialDelay: 100, jitter: false } });
      nextFailures.push(refused());
      keeper.ensureWarm();
      await clock.advance(OPEN_MS);
      // Reconnect took over and backs off before its first attempt.
      expect(keeper.reconnecting).toBe(true);
      await clock.advance(100);
      expect(events.of('reconnect-started')).toMatchObject([{ attempt: 1 }]);
    });

    it('regression: a warm minimum with refused credentials logged in again at every tick — a permanent failure gives up until demand', async () => {
      const { keeper, nextFailures, clock, opens } = setup({ warmUpConnections: 1, idleTimeout: 4_000 });
      nextFailures.push(new AuthenticationError('denied', endpoint));
      keeper.start();
      await clock.advance(60_000);
      expect(opens).toHaveLength(1);
      expect(keeper.gaveUp).toBe(true);
      keeper.connectionOpened();
      expect(keeper.gaveUp).toBe(false);
      keeper.stop();
    });

    it('does not reconnect after a permanent warm-up failure', async () => {
      const { keeper, nextFailures, clock, events, opens } = setup({ warmUpConnections: 1 });
      nextFailures.push(new AuthenticationError('denied', endpoint));
      keeper.ensureWarm();
      await clock.advance(10_000);
      expect(events.all).toEqual([]);
      expect(opens).toHaveLength(1);
    });
  });

  describe('reconnect', () => {
    const reconnect = { maxRetries: 3, initialDelay: 100, maxDelay: 1_000, backoff: 'exponential' as const, jitter: false };

    it('after a busy connection drops, opens one connection after the first backoff delay', async () => {
      const { keeper, clock, events, opens, connections } = setup({ reconnect });
      keeper.connectionLost(true);
      expect(keeper.reconnecting).toBe(true);
      await clock.advance(99);
      expect(opens).toEqual([]);
      await clock.advance(1);
      expect(opens).toEqual([{ purpose: 'reconnect', attempts: 1, at: 100 }]);
      await clock.advance(OPEN_MS);
      expect(connections.usableCount()).toBe(1);
      const [finished] = events.of('reconnect-finished');
      expect(finished).toMatchObject({ attempt: 1, outcome: 'success', error: undefined, attemptId: 100 });
      expect(finished!.connection).toBe([...connections][0]!.connection);
      expect(keeper.reconnecting).toBe(false);
    });

    it('does nothing after an idle connection drops when no warm minimum is set and nobody waits', async () => {
      const { keeper, clock, events, opens } = setup({ reconnect });
      keeper.connectionLost(false);
      await clock.advance(10_000);
      expect(events.all).toEqual([]);
      expect(opens).toEqual([]);
    });

    it('reconnects for waiting commands even when the dropped connection was idle', async () => {
      const { keeper, clock, opens, pending } = setup({ reconnect });
      pending.length = 2;
      keeper.connectionLost(false);
      await clock.advance(100);
      expect(opens).toHaveLength(1);
    });

    it('backs off between attempts as configured, then gives up after maxRetries and says so', async () => {
      const { keeper, clock, events, opens, nextFailures } = setup({ reconnect, warmUpConnections: 1 });
      nextFailures.push(refused(), refused(), refused());
      keeper.connectionLost(false);
      await clock.advance(10_000);
      expect(opens.map((open) => open.at)).toEqual([100, 100 + OPEN_MS + 200, 100 + OPEN_MS + 200 + OPEN_MS + 400]);
      expect(events.types()).toEqual([
        'reconnect-started', 'reconnect-finished',
        'reconnect-started', 'reconnect-finished',
        'reconnect-started', 'reconnect-finished',
        'reconnect-gave-up',
      ]);
      expect(events.of('reconnect-finished').map((event) => event.outcome)).toEqual(['failure', 'failure', 'failure']);
      expect(events.of('reconnect-gave-up')).toEqual([{ type: 'reconnect-gave-up', attempts: 3 }]);
      expect(keeper.gaveUp).toBe(true);
    });

    it('once given up, keeps the warm minimum down until a connection opens again', async () => {
      const { keeper, clock, opens, nextFailures } = setup({ reconnect, warmUpConnections: 1 });
      nextFailures.push(refused(), refused(), refused());
      keeper.connectionLost(false);
      await clock.advance(10_000);
      keeper.ensureWarm();
      expect(opens).toHaveLength(3);
      keeper.connectionOpened();
      expect(keeper.gaveUp).toBe(false);
      keeper.ensureWarm();
      expect(opens).toHaveLength(4);
    });

    it('fails the waiting commands and stops at a permanent failure', async () => {
      const { keeper, clock, events, failedWaiters, nextFailures, opens } = setup({ reconnect, warmUpConnections: 1 });
      const denied = new AuthenticationError('denied', endpoint);
      nextFailures.push(denied);
      keeper.connectionLost(true);
      await clock.advance(10_000);
      expect(failedWaiters).toEqual([denied]);
      expect(opens).toHaveLength(1);
      expect(events.types()).toEqual(['reconnect-started', 'reconnect-finished']);
      expect(keeper.gaveUp).toBe(true);
    });

    it('runs one reconnect loop per pool key, however many connections drop', async () => {
      const { keeper, clock, events } = setup({ reconnect, warmUpConnections: 1 });
      keeper.connectionLost(true);
      keeper.connectionLost(true);
      keeper.connectionLost(false);
      await clock.advance(10_000);
      expect(events.of('reconnect-started')).toHaveLength(1);
    });

    it('regression: a command\'s own open that brought the pool back during the backoff was reported as a reconnect success — no attempt is made or reported', async () => {
      const { keeper, clock, events, opens, add } = setup({ reconnect });
      keeper.connectionLost(true);
      await clock.advance(50);
      add();
      await clock.advance(50);
      expect(opens).toEqual([]);
      expect(events.all).toEqual([]);
      expect(keeper.reconnecting).toBe(false);
    });

    it('regression: an open still under way was reported as a reconnect success — reconnect waits for it, and attempts once it failed', async () => {
      const { keeper, clock, events, opens, store, nextFailures } = setup({ reconnect });
      keeper.connectionLost(true);
      // A command's open is under way when the backoff ends: no attempt, no success.
      store.opening++;
      store.size++;
      await clock.advance(250);
      expect(events.all).toEqual([]);
      // It failed: reconnect now makes its own attempt, reported with the connection it opened.
      store.opening--;
      store.size--;
      nextFailures.length = 0;
      await clock.advance(1_000);
      expect(opens.map((open) => open.purpose)).toEqual(['reconnect']);
      const finished = events.of('reconnect-finished');
      expect(finished).toMatchObject([{ outcome: 'success', attempt: 1 }]);
      expect((finished[0] as { connection?: { usable: boolean } }).connection?.usable).toBe(true);
    });

    it('regression: a warm-up open raced the reconnect of a connection still closing (a frozen peer), so reconnect reported nothing — the place waits for the close, and reconnect opens it', async () => {
      const { keeper, add, clock, opens, events } = setup({ reconnect, warmUpConnections: 1 });
      const entry = add();
      (entry.connection as FakeConnection).closeTakes = 2_000;
      entry.connection.close('unhealthy');
      keeper.ensureWarm();
      expect(opens).toEqual([]);
      await clock.advance(2_000);
      // The host pool hands an unexpected close to reconnect.
      keeper.connectionLost(false);
      await clock.advance(1_000);
      expect(opens.map((open) => open.purpose)).toEqual(['reconnect']);
      expect(events.of('reconnect-finished')).toMatchObject([{ outcome: 'success' }]);
    });

    it('re-establishes the whole warm minimum, one open per attempt', async () => {
      const { keeper, clock, connections, opens } = setup({ reconnect, warmUpConnections: 2 });
      keeper.connectionLost(false);
      await clock.advance(10_000);
      expect(connections.usableCount()).toBe(2);
      expect(opens.map((open) => open.purpose)).toEqual(['reconnect', 'reconnect']);
    });

    it('stops at once when the pool closes during a backoff', async () => {
      const { keeper, clock, closer, opens } = setup({ reconnect, warmUpConnections: 1 });
      keeper.connectionLost(true);
      await clock.advance(10);
      closer.abort();
      keeper.stop();
      await settle();
      expect(keeper.reconnecting).toBe(false);
      await clock.advance(10_000);
      expect(opens).toEqual([]);
    });

    it('never reconnects with reconnect disabled', async () => {
      const { keeper, clock, events } = setup({ reconnect: { enabled: false }, warmUpConnections: 1 });
      keeper.connectionLost(true);
      await clock.advance(10_000);
      expect(events.all).toEqual([]);
      expect(keeper.reconnecting).toBe(false);
    });
  });
});
