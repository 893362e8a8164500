// Servers that limit what a client may do: `MaxSessions 1` refuses a second channel on a
// connection, `MaxStartups 2:30:10` drops handshakes beyond two at once. The pool must learn
// the first and stay under the second, so that every command still succeeds.
import { describe, expect, it } from 'vitest';
import { $, ConnectError } from '../../../src/index.js';
import type { SSHConnectionPool } from '../../../src/index.js';
import { startSshd } from '../../support/sshd.js';
import type { SshdServer } from '../../support/sshd.js';
import { errorKinds, newPool, recordEvents, sampleMax, settleAll, targetFor, until, withTimeout } from './shared.js';

/** Concurrent `echo` commands; returns each outcome and the peak of openChannels − totalConnections. */
async function burst(server: SshdServer, pool: SSHConnectionPool, count: number, seconds = 0.1) {
  const ssh = $.ssh(targetFor(server, pool));
  const excess = sampleMax(() => {
    const stats = pool.getStats();
    return stats.openChannels - stats.totalConnections;
  }, 2);
  const peakConnections = sampleMax(() => pool.getStats().totalConnections, 2);
  const settled = await withTimeout(
    settleAll(Array.from({ length: count }, (_, i) => ssh`sleep ${seconds}; echo ${`n${i}`}`.timeout(30_000).then((r) => ({ i, r })))),
    40_000,
    `${count} concurrent commands`,
  );
  return { settled, excess: excess.stop(), peakConnections: peakConnections.stop() };
}

describe('MaxSessions 1 with maxChannelsPerConnection 5', () => {
  it('runs 30 concurrent commands, learns the limit of one channel per connection and then keeps to it', async () => {
    const server = await startSshd({ config: { MaxSessions: 1 } });
    const pool = newPool({ maxChannelsPerConnection: 5, maxConnections: 4 });

    const first = await burst(server, pool, 30);
    expect(first.settled.errors, JSON.stringify(errorKinds(first.settled.errors))).toEqual([]);
    for (const { i, r } of first.settled.ok) expect(r.stdout).toBe(`n${i}\n`);
    const connections = pool.getMetrics().connectionsCreated;
    expect(connections).toBe(4);

    // Every connection has now met the server's limit: a second burst on the same connections
    // must never have more channels open than connections.
    await until(() => pool.getStats().openChannels === 0, 3_000, 'channels of the first burst freed');
    const second = await burst(server, pool, 30);
    expect(second.settled.errors, JSON.stringify(errorKinds(second.settled.errors))).toEqual([]);
    for (const { i, r } of second.settled.ok) expect(r.stdout).toBe(`n${i}\n`);
    expect(pool.getMetrics().connectionsCreated, 'the second burst ran on the same connections').toBe(connections);
    console.info(
      `MaxSessions 1: burst 1 peak openChannels−connections ${first.excess}, burst 2 ${second.excess}; ` +
        `connections ${pool.getMetrics().connectionsCreated} (burst 1: ${connections})`,
    );
    expect(second.excess, 'openChannels exceeded connections × 1 after the limit was learned').toBeLessThanOrEqual(0);
    expect(pool.getStats()).toMatchObject({ pendingRequests: 0 });
  });
});

describe("MaxStartups '2:30:10'", () => {
  async function firstCalls(maxConcurrentConnects: number | undefined) {
    const server = await startSshd({ config: { MaxStartups: '2:30:10' } });
    const pool = newPool({
      maxConnections: 10,
      maxChannelsPerConnection: 1,
      ...(maxConcurrentConnects === undefined ? {} : { maxConcurrentConnects }),
    });
    const recorder = recordEvents(pool);
    const started = performance.now();
    // Each command holds its connection for 1 s: 30 of them need all 10 connections at once,
    // even when handshakes are slow (one at a time, on a loaded machine).
    const { settled, peakConnections } = await burst(server, pool, 30, 1);
    const durationMs = performance.now() - started;
    expect(settled.errors, JSON.stringify(errorKinds(settled.errors))).toEqual([]);
    for (const { i, r } of settled.ok) expect(r.stdout).toBe(`n${i}\n`);
    expect(peakConnections).toBe(10);
    expect(pool.getMetrics().connectionsCreated).toBe(10);
    // Handshakes sshd dropped surface as transient failed opens, retried behind the callers' backs.
    const failedOpens = recorder.named('connection:failed').map(({ args }) => args[1]);
    for (const error of failedOpens) {
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).transient).toBe(true);
    }
    const drops = ((await server.logs()).match(/drop connection #\d+ .* past MaxStartups/g) ?? []).length;
    console.info(
      `MaxStartups 2:30:10, maxConcurrentConnects ${maxConcurrentConnects ?? 'default (10, adaptive)'}: 30/30 ok in ${Math.round(durationMs)} ms, ` +
        `${failedOpens.length} failed opens, ${drops} handshakes dropped by sshd`,
    );
    return { failedOpens: failedOpens.length, drops };
  }

  it('completes 30 concurrent first calls with the default maxConcurrentConnects (10, halved on drops): dropped handshakes are retried', async () => {
    await firstCalls(undefined);
  });

  it('completes 30 concurrent first calls with maxConcurrentConnects: 2', async () => {
    const { failedOpens } = await firstCalls(2);
    // sshd counts a connection as a start-up until shortly after the client sees it authenticated,
    // so 2 at once can still meet the limit now and then; never more than a few times a burst.
    expect(failedOpens).toBeLessThanOrEqual(5);
  });

  it('never trips MaxStartups 2 with maxConcurrentConnects: 1', async () => {
    const { failedOpens, drops } = await firstCalls(1);
    expect(failedOpens).toBe(0);
    expect(drops).toBe(0);
  });
});
