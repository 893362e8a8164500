import { it } from 'vitest';
import { $, SSHConnectionPool } from '../../src/index.js';
import { startSshd } from '../support/sshd.js';
import { sshdTarget } from '../support/sshd-target.js';

it('debug', async () => {
  const server = await startSshd();
  const pool = new SSHConnectionPool({});
  const ssh = $.ssh(sshdTarget(server, pool));
  await ssh`true`;
  let closes: string[] = [];
  const counts: Record<string, number> = {};
  pool.on('connection:closed', (_h, r) => closes.push(r));
  const jobs = Array.from({ length: 200 }, (_, i) => async () => {
    const r = await ssh`sleep 0.0${i % 5}; echo x`.timeout(5 + (i * 7) % 75).nothrow();
    counts[`${r.ok}:${r.exitCode}:${JSON.stringify(r.stdout)}`] = (counts[`${r.ok}:${r.exitCode}:${JSON.stringify(r.stdout)}`] ?? 0) + 1;
  });
  let next = 0;
  await Promise.all(Array.from({ length: 20 }, async () => { while (next < jobs.length) await jobs[next++]!(); }));
  console.log('closes', JSON.stringify(counts), closes, JSON.stringify(pool.getStats()));
  await new Promise((r) => setTimeout(r, 2000));
  console.log('after', JSON.stringify(pool.getStats()));
  await pool.closeAll();
}, 120_000);
