// A cold burst: 100 first calls at once on a fresh pool. The pool opens its connections several
// at a time, halves that number when the server drops handshakes (MaxStartups) and retries the
// dropped ones, so that every call succeeds against sshd's default MaxStartups and against
// `MaxStartups 3`.
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
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

const eventAt = (span: ReadableSpan, name: string): number | undefined => {
  const event = span.events.find((one) => one.name === name);
  return event ? event.time[0] * 1e3 + event.time[1] / 1e6 : undefined;
};

describe('cold bursts: handshakes side by side, one login first', () => {
  it('runs the other connections\' handshakes during the first login, as a non-root user under MaxSessions 2', async () => {
    const server = await startSshd({ config: { MaxSessions: 2 } });
    const exporter = new InMemorySpanExporter();
    const pool = newPool({ tracerProvider: new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }) });
    const ssh = $.ssh(targetFor(server, pool, { poolConfig: { maxChannelsPerConnection: 2 } }));
    const results = await withTimeout(Promise.all(Array.from({ length: 12 }, (_, i) => ssh`id -un; echo ${`c${i}`}`)), 60_000, '12 first calls');
    results.forEach((result, i) => expect(result.stdout).toBe(`tester\nc${i}\n`));

    const connects = exporter.getFinishedSpans().filter((span) => span.name === 'ssh.connect' && span.status.code !== 2);
    const first = connects.find((span) => eventAt(span, 'ssh.connect.login_turn') === undefined)!;
    const waited = connects.filter((span) => eventAt(span, 'ssh.connect.login_turn') !== undefined);
    expect(waited.length).toBeGreaterThan(0);
    const firstLoggedIn = eventAt(first, 'ssh.connect.authenticated')!;
    for (const span of waited) {
      // Its key exchange ended before the first login did; its own login waited for it.
      expect(eventAt(span, 'ssh.connect.key_exchanged')!).toBeLessThanOrEqual(firstLoggedIn);
      expect(eventAt(span, 'ssh.connect.login_turn')!).toBeGreaterThanOrEqual(firstLoggedIn);
    }
    console.info(`cold burst, MaxSessions 2: ${connects.length} connections, ${waited.length} waited for the first login with their key exchange done`);
  });

  it('settles every call with a result or a typed error when the server is killed in the middle of the burst', async () => {
    const server = await startSshd({ config: {} });
    const pool = newPool();
    const recorder = recordEvents(pool);
    const ssh = $.ssh(targetFor(server, pool, { poolConfig: { maxRetries: 0 } }));
    const burst = settleAll(Array.from({ length: 40 }, (_, i) => ssh`sleep 0.3; echo ${`c${i}`}`.then((r) => ({ i, r }))));
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
