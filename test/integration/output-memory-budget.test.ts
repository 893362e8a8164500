// Concurrent commands with endless output on a real OpenSSH server: the pool's
// `maxOutputMemory` keeps the process's memory bounded (without it, each command fills its
// `maxBuffer`: 100 commands took RSS to 1.75 GB, and these 50 would hold 6.4 GB), and every
// command ends with a typed error.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { $, OutputLimitError, SSHConnectionPool } from '../../src/index.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { withTimeout } from '../support/with-timeout.js';

const MiB = 1024 * 1024;
const BUDGET = 32 * MiB;
const COMMANDS = 50;
const MAX_BUFFER = 64 * MiB;
/** What a paused channel may still receive: one receive window (ssh/channel-window.ts). */
const WINDOW = 4 * MiB;
/** Garbage the collector has not reclaimed yet: decrypted packets, output dropped after a kill. */
const SLACK = 128 * MiB;

let server: SshdServer;
let pool: SSHConnectionPool;

beforeAll(async () => {
  server = await startSshd({ config: { MaxSessions: 20, MaxStartups: '100:30:200' } });
  pool = new SSHConnectionPool({ maxConnections: 5, maxChannelsPerConnection: 10, maxOutputMemory: BUDGET });
});

afterAll(async () => {
  await withTimeout(pool.closeAll(), 20_000, 'closeAll()');
});

it('regression: concurrent endless-output commands grew RSS without bound (1.75 GB for 100) — memory stays under the budget plus a window per command', async () => {
  const ssh = $.ssh(sshdTarget(server, pool));
  await Promise.all(Array.from({ length: 5 }, () => ssh`true`));
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  let atPeak = process.memoryUsage();
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    if (usage.rss > peak) [peak, atPeak] = [usage.rss, usage];
  }, 10);
  const started = performance.now();
  const outcomes = await withTimeout(
    // Only how each ended is kept: a result, once returned, is its caller's memory, not the pool's.
    Promise.all(Array.from({ length: COMMANDS }, () => ssh`cat /dev/zero`.maxBuffer(MAX_BUFFER).then(() => 'ok', (e: unknown) => (e as Error).constructor.name))),
    // A bound for a hang, not a speed target: ~10 s here, several times that on a busy machine.
    120_000,
    'every endless command ended',
  );
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const growthMiB = (peak - before) / MiB;
  console.info(`${COMMANDS} endless commands, maxOutputMemory ${BUDGET / MiB} MiB: RSS grew by ${growthMiB.toFixed(0)} MiB at its peak; all ended in ${Math.round(performance.now() - started)} ms; at the peak: array buffers ${Math.round(atPeak.arrayBuffers / MiB)} MiB, external ${Math.round(atPeak.external / MiB)} MiB, JS heap ${Math.round(atPeak.heapUsed / MiB)} MiB`);
  expect(outcomes).toEqual(Array.from({ length: COMMANDS }, () => OutputLimitError.name));
  expect(growthMiB).toBeLessThan((BUDGET + COMMANDS * WINDOW + SLACK) / MiB);
  // Nothing is left held: a command within the budget runs as usual.
  await expect(ssh`head -c 50000000 /dev/zero | wc -c`).resolves.toMatchObject({ stdout: '50000000\n' });
}, 180_000);
