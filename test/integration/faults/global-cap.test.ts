// `maxTotalConnections` across several servers with concurrent workloads: the cap holds at
// every moment (in the stats and in the sockets this process really has open), every command
// succeeds, and only idle connections are ever closed to make room.
import { describe, expect, it } from 'vitest';
import { $ } from '../../../src/index.js';
import { startSshd } from '../../support/sshd.js';
import { errorKinds, newPool, recordEvents, sampleMax, settleAll, targetFor, tcpSockets, withTimeout } from './shared.js';

describe('maxTotalConnections: 2 across three servers', () => {
  it('never exceeds the cap, closes only idle connections, and runs every command', { timeout: 200_000 }, async () => {
    const servers = await Promise.all([startSshd(), startSshd(), startSshd()]);
    // The workload needs about a second; the acquireTimeout only bounds a starved host, which
    // would wait for ever (10 s ran out at a load average of 55 on 2 cores).
    const pool = newPool({ maxTotalConnections: 2, acquireTimeout: 30_000 });
    const recorder = recordEvents(pool);
    const socketsBefore = tcpSockets();
    const totalPeak = sampleMax(() => pool.getStats().totalConnections, 2);
    // Connections being opened or closed hold a permit too: the real socket count obeys the cap.
    const socketPeak = sampleMax(() => tcpSockets() - socketsBefore, 2);

    // Three workloads at once: a slow one, a bursty one and a steady trickle.
    const [slow, bursty, trickle] = servers.map((server) => $.ssh(targetFor(server, pool)));
    const started = performance.now();
    const jobs: Array<Promise<{ host: number; i: number; stdout: string }>> = [];
    for (let i = 0; i < 10; i++) jobs.push(slow!`sleep 0.3; echo ${`slow-${i}`}`.timeout(40_000).then((r) => ({ host: 0, i, stdout: r.stdout })));
    for (let i = 0; i < 30; i++) jobs.push(bursty!`echo ${`burst-${i}`}`.timeout(40_000).then((r) => ({ host: 1, i, stdout: r.stdout })));
    const trickleDone = (async () => {
      for (let i = 0; i < 15; i++) {
        const r = await trickle!`echo ${`trickle-${i}`}`.timeout(40_000);
        jobs.push(Promise.resolve({ host: 2, i, stdout: r.stdout }));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // The limits detect a hang, not speed: about a second on a quiet machine, over 20 s at a
    // load average of 36 on 2 cores.
    await withTimeout(trickleDone, 90_000, 'the trickle workload').catch((error: Error) => jobs.push(Promise.reject(error)));
    const settled = await withTimeout(settleAll(jobs), 90_000, 'the three workloads');
    const elapsed = performance.now() - started;
    totalPeak.stop();
    socketPeak.stop();

    expect(totalPeak.max).toBeLessThanOrEqual(2);
    expect(socketPeak.max, 'TCP sockets open at once').toBeLessThanOrEqual(2);
    // Room was made only by closing idle connections; nothing in use was closed.
    const reasons = recorder.closeReasons();
    expect(reasons.every((reason) => reason === 'idle'), `close reasons: ${reasons.join(', ')}`).toBe(true);
    expect(recorder.count('connection:failed')).toBe(0);
    const prefix = ['slow', 'burst', 'trickle'];
    for (const { host, i, stdout } of settled.ok) expect(stdout).toBe(`${prefix[host]}-${i}\n`);
    // No host may starve while another holds the whole budget with idle connections.
    expect(settled.errors, JSON.stringify(errorKinds(settled.errors))).toEqual([]);
    expect(settled.ok).toHaveLength(55);
    // Every server was reached, which with a cap of 2 means connections were handed over.
    const createdPerHost = new Set(recorder.named('connection:created').map(({ args }) => args[2].port));
    expect(createdPerHost.size).toBe(3);
    expect(reasons.length).toBeGreaterThanOrEqual(1);
    const stats = pool.getStats();
    expect(stats.totalConnections).toBeLessThanOrEqual(2);
    expect(stats).toMatchObject({ pendingRequests: 0, openChannels: 0, activeConnections: 0 });
    console.info(
      `global cap 2 over 3 servers: 55/55 ok in ${Math.round(elapsed)} ms; peak ${totalPeak.max} connections, ` +
        `${socketPeak.max} sockets; ${recorder.count('connection:created')} opened, ${reasons.length} closed idle to make room`,
    );
  });
});
