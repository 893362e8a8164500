// A cold burst: 100 first calls at once on a fresh pool. The pool opens its connections several
// at a time, halves that number when the server drops handshakes (MaxStartups) and retries the
// dropped ones, so that every call succeeds against sshd's default MaxStartups and against
// `MaxStartups 3`.
import { describe, expect, it } from 'vitest';
import { $, SSHPoolError } from '../../../src/index.js';
import { startSshd } from '../../support/sshd.js';
import { errorKinds, newPool, recordEvents, settleAll, targetFor, until, withTimeout } from './shared.js';

async function coldBurst(config: Record<string, string | number>) {
  const server = await startSshd({ config });
  const pool = newPool();
  const recorder = recordEvents(pool);
  const ssh = $.ssh(targetFor(server, pool));
  const started = performance.now();
  const settled = await withTimeout(
    settleAll(Array.from({ length: 100 }, (_, i) => ssh`echo ${`c${i}`}`.timeout(60_000).then((r) => ({ i, r })))),
    90_000,
    '100 first calls',
  );
  const durationMs = performance.now() - started;
  const drops = ((await server.logs()).match(/drop connection #\d+ .* past MaxStartups/g) ?? []).length;
  return { settled, durationMs, drops, failedOpens: recorder.named('connection:failed').length, created: pool.getMetrics().connectionsCreated };
}

describe('cold bursts: 100 first calls at once', () => {
  it.each([
    ['default MaxStartups', {}],
    ['MaxStartups 3', { MaxStartups: 3 }],
  ] as const)('against %s: every call succeeds, dropped handshakes are retried', async (label, config) => {
    const { settled, durationMs, drops, failedOpens, created } = await coldBurst(config);
    expect(settled.errors, JSON.stringify(errorKinds(settled.errors))).toEqual([]);
    for (const { i, r } of settled.ok) expect(r.stdout).toBe(`c${i}\n`);
    expect(created).toBeGreaterThan(1);
    console.info(`cold burst, ${label}: 100/100 ok in ${Math.round(durationMs)} ms, ${created} connections, ${failedOpens} failed opens, ${drops} handshakes dropped by sshd`);
  });
});

describe('cold bursts: the server killed', () => {
  it('settles every call with a result or a typed error when the server is killed in the middle of the burst', async () => {
    const server = await startSshd({ config: {} });
    const pool = newPool();
    const recorder = recordEvents(pool);
    const ssh = $.ssh(targetFor(server, pool, { poolConfig: { maxRetries: 0 } }));
    // Commands long enough that the kill lands before any could end, however slow docker is.
    const burst = settleAll(Array.from({ length: 40 }, (_, i) => ssh`sleep 5; echo ${`c${i}`}`.then((r) => ({ i, r }))));
    // The kill lands while the burst's handshakes and logins are under way (docker's own latency).
    await server.kill();
    const settled = await withTimeout(burst, 30_000, '40 calls after the kill');
    expect(settled.ok.length + settled.errors.length).toBe(40);
    for (const error of settled.errors) expect(error, String(error)).toBeInstanceOf(SSHPoolError);
    for (const { i, r } of settled.ok) expect(r.stdout).toBe(`c${i}\n`);
    expect(settled.errors.length).toBeGreaterThan(0);
    await until(() => pool.getStats().totalConnections === 0 && pool.getStats().pendingRequests === 0, 10_000, 'an empty pool');
    console.info(`cold burst, server killed: ${settled.ok.length} ok, ${recorder.named('connection:created').length} connections opened, ` +
      `${recorder.named('connection:failed').length} failed opens, errors ${JSON.stringify(errorKinds(settled.errors))}`);
  });
});
