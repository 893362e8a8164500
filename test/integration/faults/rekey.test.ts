// Key re-exchanges on pooled connections against real OpenSSH: a server that re-keys every
// 256 KiB (`RekeyLimit`) while output streams, on connections that let go of their handshake's
// leftovers once ready (src/ssh/handshake-leftovers.ts), for root and non-root logins.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { $ } from '../../../src/index.js';
import { startSshd } from '../../support/sshd.js';
import { newPool, settleAll, targetFor } from './shared.js';

const OUTPUT_BYTES = 8 * 1024 * 1024;
/** The same bytes the server's command prints: its digest is the check. */
const expectedDigest = createHash('sha256').update(Buffer.alloc(OUTPUT_BYTES, 'a')).digest('hex');

describe('a server that re-keys every 256 KiB', () => {
  it.each(['a non-root login', 'root'])('%s: 8 MiB of output arrives intact across some thirty re-keys, and later commands on the connection run', async (login) => {
    const server = await startSshd({ config: { RekeyLimit: '256K', PermitRootLogin: 'prohibit-password', LogLevel: 'DEBUG1' } });
    const pool = newPool();
    const ssh = $.ssh(targetFor(server, pool, login === 'root' ? { username: 'root' } : {}));
    expect((await ssh`echo first`.timeout(15_000)).stdout).toBe('first\n');
    const big = await ssh`head -c ${OUTPUT_BYTES} /dev/zero | tr '\\0' a`.quiet().timeout(60_000);
    expect(big.stdout.length).toBe(OUTPUT_BYTES);
    expect(createHash('sha256').update(big.stdout).digest('hex')).toBe(expectedDigest);
    // The first exchange and at least one re-key per megabyte.
    const exchanges = (await server.logs()).match(/SSH2_MSG_NEWKEYS received/g)?.length ?? 0;
    expect(exchanges).toBeGreaterThan(8);
    const settled = await settleAll(Array.from({ length: 5 }, (_, i) => ssh`echo ${`after${i}`}`.timeout(15_000)));
    expect(settled.errors).toEqual([]);
    expect(settled.ok.map((r) => r.stdout).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `after${i}\n`));
    expect(pool.getStats()).toMatchObject({ totalConnections: 1 });
    expect(pool.getMetrics().connectionsCreated).toBe(1);
  });
});
