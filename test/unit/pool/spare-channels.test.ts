import { describe, expect, it } from 'vitest';
import { resolvePoolConfig } from '../../../src/config/pool-config.js';
import { ConnectionBudget } from '../../../src/pool/connection-budget.js';
import { HostPool } from '../../../src/pool/host-pool.js';
import { SpareChannels } from '../../../src/pool/spare-channels.js';
import { SPARE_MAX_IDLE_MS } from '../../../src/ssh/spare-session.js';
import type { PoolConfig } from '../../../src/config/types.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeConnectionLayer, FakeHold } from '../../support/fake-connections.js';
import type { FakeConnection } from '../../support/fake-connections.js';
import type { PoolEntry } from '../../../src/pool/pool-entry.js';
import { entryOf, RecordedEvents, slotOf } from '../../support/pool-parts.js';

function parts(options: { enabled?: boolean; maxLifetime?: number; channelLimit?: number } = {}) {
  const clock = new FakeClock();
  const layer = new FakeConnectionLayer(clock);
  layer.spares = true;
  const events = new RecordedEvents();
  const entries: PoolEntry[] = [];
  const spares = new SpareChannels({ enabled: options.enabled ?? true, maxLifetime: options.maxLifetime ?? 0, clock, events, connections: entries });
  const entry = entryOf(layer, clock, options.channelLimit ?? 2);
  entries.push(entry);
  return { clock, layer, events, spares, entry, connection: entry.connection as FakeConnection };
}

/** After a spare was refused beside one command: no second try beside it; once the command is over, a spare opens. */
async function expectSpareOnlyOnceIdle(
  spares: SpareChannels,
  entry: PoolEntry,
  connection: FakeConnection,
  clock: FakeClock,
): Promise<void> {
  spares.replenish(entry);
  await settle();
  expect(connection.spare, 'no second try beside one channel').toBeUndefined();
  entry.release(clock.now());
  spares.replenish(entry);
  await settle();
  expect(connection.spare, 'a spare on the idle connection').toBe('ready');
}

describe('SpareChannels', () => {
  it('prepares one spare on a connection with room, and none while it holds one', async () => {
    const { spares, entry, connection } = parts();
    spares.replenish(entry);
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBe('ready');
    expect(connection.sparesOpened).toBe(1);
  });

  it('prepares none when spares are off', async () => {
    const { spares, entry, connection } = parts({ enabled: false });
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBeUndefined();
  });

  it('counts the spare against the channel limit: no spare when the slots in use fill it', async () => {
    const { spares, entry, connection, clock } = parts({ channelLimit: 2 });
    slotOf(entry, clock);
    slotOf(entry, clock);
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBeUndefined();
    entry.release(clock.now());
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBe('ready');
  });

  it('prepares none on a retiring or expired connection', async () => {
    const retiring = parts();
    retiring.entry.retire();
    retiring.spares.replenish(retiring.entry);
    const expired = parts({ maxLifetime: 1_000 });
    await expired.clock.advance(1_000);
    expired.spares.replenish(expired.entry);
    await settle();
    expect(retiring.connection.spare).toBeUndefined();
    expect(expired.connection.spare).toBeUndefined();
  });

  it('after a refused spare, prepares spares only beside fewer channels; the commands\' limit stays, and nothing fails', async () => {
    const { spares, entry, connection, clock, events } = parts({ channelLimit: 5 });
    slotOf(entry, clock);
    connection.refuse = 1;
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBeUndefined();
    expect(events.of('channel-refused')).toHaveLength(1);
    // A jump host with MaxSessions 0 refuses sessions but carries forwarded channels: their limit must not drop.
    expect(entry.channelLimit).toBe(5);
    await expectSpareOnlyOnceIdle(spares, entry, connection, clock);
  });

  it('regression: a spare refused on an idle connection where one fitted before (sshd frees a closed session a moment late) stopped spares on it for good; it does not', async () => {
    const { spares, entry, connection, events } = parts();
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBe('ready');
    connection.closeSpare();
    connection.refuse = 1;
    spares.replenish(entry);
    await settle();
    expect(events.of('channel-refused')).toHaveLength(1);
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBe('ready');
  });

  it('still learns a real limit after a spare fitted on the idle connection: refused beside a command, none beside one again', async () => {
    const { spares, entry, connection, clock } = parts({ channelLimit: 5 });
    spares.replenish(entry);
    await settle();
    connection.closeSpare();
    slotOf(entry, clock);
    connection.refuse = 1;
    spares.replenish(entry);
    await settle();
    await expectSpareOnlyOnceIdle(spares, entry, connection, clock);
  });

  it('does not replace at once a spare the server closed (no stream of opens): the next use asks again', async () => {
    const { spares, entry, connection, clock } = parts();
    spares.replenish(entry);
    await settle();
    await clock.advance(SPARE_MAX_IDLE_MS / 2);
    connection.closeSpare();
    await clock.advance(SPARE_MAX_IDLE_MS * 3);
    expect(connection.spare).toBeUndefined();
    expect(connection.sparesOpened).toBe(1);
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBe('ready');
  });

  it('closes a spare no command took within SPARE_MAX_IDLE_MS, and opens no other in its place', async () => {
    const { spares, entry, connection, clock } = parts();
    spares.replenish(entry);
    await settle();
    await clock.advance(SPARE_MAX_IDLE_MS * 2);
    expect(connection.spare).toBeUndefined();
    expect(connection.sparesClosedStale).toBe(1);
    expect(connection.sparesOpened).toBe(1);
  });

  it('keeps a spare younger than SPARE_MAX_IDLE_MS through a sweep', async () => {
    const { spares, entry, connection, clock } = parts();
    spares.replenish(entry);
    await settle();
    await clock.advance(SPARE_MAX_IDLE_MS / 2);
    // The one just taken, replaced: the sweep at SPARE_MAX_IDLE_MS finds it half as old.
    connection.closeSpare();
    spares.replenish(entry);
    await settle();
    await clock.advance(SPARE_MAX_IDLE_MS / 2);
    expect(connection.spare).toBe('ready');
    expect(connection.sparesClosedStale).toBe(0);
  });

  it('leaves the shared timer once no connection holds a spare, and joins it again with the next spare', async () => {
    const { spares, entry, connection, clock } = parts();
    spares.replenish(entry);
    await settle();
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(SPARE_MAX_IDLE_MS * 3);
    expect(connection.spare).toBeUndefined();
    expect(clock.pendingTimers, 'nothing left to sweep: no timer').toBe(0);
    spares.replenish(entry);
    await settle();
    expect(clock.pendingTimers).toBe(1);
    spares.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('does nothing on a connection that has no spares (an ssh2 release the adapter does not fit)', async () => {
    const { spares, entry, connection, layer } = parts();
    layer.spares = false;
    spares.replenish(entry);
    await settle();
    expect(connection.spare).toBeUndefined();
  });
});

describe('spares in the host pool', () => {
  function hostPool(config: PoolConfig = {}) {
    const clock = new FakeClock();
    const layer = new FakeConnectionLayer(clock);
    layer.spares = true;
    const hold = new FakeHold();
    const pool = new HostPool({
      name: 'u@fake:22', host: 'fake', port: 22, username: 'u', config: resolvePoolConfig({ maxConnections: 2, maxChannelsPerConnection: 2, ...config }),
      factory: layer.factory, budget: new ConnectionBudget(0), clock, hold,
    });
    const events = new RecordedEvents();
    pool.events.subscribe((event) => events.emit(event));
    pool.start();
    const exec = (id: number) => pool.execute({ command: `job ${id}`, stdin: undefined, maxBuffer: 1024 }, { priority: 0, cancel: new AbortController().signal });
    /** Runs one command to its end. */
    const runOne = async (id: number) => {
      const outcome = exec(id);
      await clock.advance(10);
      for (const channel of layer.runningChannels) channel.finish(0);
      return outcome;
    };
    return { clock, layer, hold, pool, events, exec, runOne };
  }

  const preparedFlags = (events: RecordedEvents) => events.of('channel-opened').map((event) => event.prepared);

  it('runs every command after the first on a spare, and an idle pool with its spare holds nothing', async () => {
    const { events, runOne, hold, pool, layer } = hostPool();
    for (let i = 0; i < 4; i++) await runOne(i);
    await settle();
    expect(preparedFlags(events)).toEqual([false, true, true, true]);
    expect(layer.open[0]!.spare).toBe('ready');
    expect(pool.gauges().spareChannels).toBe(1);
    expect(hold.count).toBe(0);
  });

  it('an idle connection gives its spare back once it is too old to be used; the next command opens its own channel, and the one after runs on a new spare', async () => {
    const { events, runOne, pool, layer, clock } = hostPool({ idleTimeout: 0 });
    await runOne(0);
    await settle();
    expect(pool.gauges().spareChannels).toBe(1);
    await clock.advance(SPARE_MAX_IDLE_MS * 2);
    expect(pool.gauges().spareChannels).toBe(0);
    expect(layer.open[0]!.sparesClosedStale).toBe(1);
    expect(clock.pendingTimers, 'an idle pool keeps no timer').toBe(0);
    await runOne(1);
    await runOne(2);
    expect(preparedFlags(events)).toEqual([false, false, true]);
  });

  it('gives a warmed-up connection its spare before its first command', async () => {
    const { pool, events, runOne, clock } = hostPool();
    const warming = pool.warmUp(1);
    await clock.advance(10);
    await warming;
    await settle();
    expect(pool.gauges().spareChannels).toBe(1);
    await runOne(1);
    expect(preparedFlags(events)).toEqual([true]);
  });

  it('spareChannels false: no command runs on a spare and none is held', async () => {
    const { events, runOne, pool } = hostPool({ spareChannels: false });
    for (let i = 0; i < 3; i++) await runOne(i);
    expect(preparedFlags(events)).toEqual([false, false, false]);
    expect(pool.gauges().spareChannels).toBe(0);
  });

  it('a spare closed by the server never fails a command: the next one opens its own channel', async () => {
    const { events, runOne, layer } = hostPool();
    await runOne(0);
    await settle();
    layer.open[0]!.closeSpare();
    await expect(runOne(1)).resolves.toMatchObject({ channel: { exitCode: 0 } });
    expect(preparedFlags(events)).toEqual([false, false]);
  });

  it('never lends a spare twice: concurrent commands each get a channel, one of them the spare', async () => {
    const { exec, clock, layer, events } = hostPool({ maxConnections: 1, maxChannelsPerConnection: 2 });
    await (async () => {
      const first = exec(0);
      await clock.advance(10);
      for (const channel of layer.runningChannels) channel.finish(0);
      await first;
    })();
    await settle();
    const both = [exec(1), exec(2)];
    await settle();
    expect(layer.runningChannels).toHaveLength(2);
    expect(layer.runningChannels.filter((channel) => channel.prepared)).toHaveLength(1);
    for (const channel of layer.runningChannels) channel.finish(0);
    await Promise.all(both);
    expect(preparedFlags(events).slice(1).sort()).toEqual([false, true]);
  });
});
