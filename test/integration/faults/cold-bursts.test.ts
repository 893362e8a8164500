// A cold burst: 100 first calls at once on a fresh pool. The pool opens its connections several
// at a time, halves that number when the server drops handshakes (MaxStartups) and retries the
// dropped ones, so that every call succeeds against sshd's default MaxStartups and against
// `MaxStartups 3`.
import { describe, expect, it } from 'vitest';
import { $ } from '../../../src/index.js';
import { startSshd } from '../../support/sshd.js';
import { errorKinds, newPool, recordEvents, settleAll, targetFor, withTimeout } from './shared.js';

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
