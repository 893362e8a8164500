// Host groups against three real OpenSSH servers: how each strategy spreads commands, a
// primary killed in the middle of a workload (no command lost), the primary used again once
// it is back, and priority order on a saturated pool. Which server ran a command is read
// from the server side ($SSH_CONNECTION ends with the server's port), not from our labels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, ConnectionLostError, SSHConnectionPool } from '../../src/index.js';
import type { HostGroupExecutor, SSHConnectionPoolOptions, SSHHostGroupTarget } from '../../src/index.js';
import { generateKeyPair } from '../support/generate-key-pair.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { until } from '../support/until.js';
import { withTimeout } from '../support/with-timeout.js';

const client = generateKeyPair('sshpool-host-group-client');
const hostKey = generateKeyPair('sshpool-host-group-host').private;
let servers: SshdServer[];

beforeAll(async () => {
  // One client key authorised everywhere and one host key for all: a group shares both.
  servers = await Promise.all([0, 1, 2].map(() => startSshd({ hostKey, authorizedKeys: [client.public] })));
});

const pools: SSHConnectionPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((pool) => withTimeout(pool.closeAll(), 10_000, 'closeAll()').catch(() => {})));
});

function groupOf(options: Partial<SSHHostGroupTarget> = {}, poolOptions: SSHConnectionPoolOptions = {}) {
  const pool = new SSHConnectionPool(poolOptions);
  pools.push(pool);
  const group = $.ssh({
    hosts: servers.map((server) => ({ host: server.host, port: server.port })),
    username: servers[0]!.username,
    privateKey: client.private,
    hostKey: { fingerprints: [servers[0]!.hostKeyFingerprint] },
    pool,
    ...options,
  });
  return { group, pool };
}

/** The port of the server that ran the command, as that server saw it. */
async function servedBy(group: HostGroupExecutor, prefix = ''): Promise<number> {
  const result = await group`${$.raw(prefix)}echo $SSH_CONNECTION`;
  const port = Number(result.stdout.trim().split(' ')[3]);
  expect(result.host, 'result.host names the member that ran it').toBe(`127.0.0.1:${port}`);
  return port;
}

function countByPort(ports: number[]): number[] {
  return servers.map((server) => ports.filter((port) => port === server.port).length);
}


describe('distribution across three hosts', () => {
  it('round-robin: sequential commands go to each server in turn', async () => {
    const { group } = groupOf({ strategy: 'round-robin' });
    const ports: number[] = [];
    for (let i = 0; i < 15; i++) ports.push(await servedBy(group));
    expect(countByPort(ports)).toEqual([5, 5, 5]);
    expect(ports.slice(0, 3)).toEqual(servers.map((s) => s.port));
  });

  it('least-used: a burst spreads evenly, since each pick sees the commands already placed', async () => {
    const { group } = groupOf({ strategy: 'least-used' });
    const ports = await Promise.all(Array.from({ length: 30 }, () => servedBy(group, 'sleep 0.2; ')));
    expect(countByPort(ports)).toEqual([10, 10, 10]);
  });

  it('least-used: a server kept busy by other users of the same pool gets nothing new', async () => {
    const { group, pool } = groupOf({ strategy: 'least-used' });
    const busy = servers[1]!;
    const other = $.ssh({ host: busy.host, port: busy.port, username: busy.username, privateKey: client.private, hostKey: { fingerprints: [busy.hostKeyFingerprint] }, pool });
    // Long enough to outlast the six commands below even on a loaded machine.
    const hogs = Array.from({ length: 4 }, () => other`sleep 4`);
    const hogsDone = Promise.all(hogs);
    await until(() => (pool.getStats().hosts[`tester@127.0.0.1:${busy.port}`]?.openChannels ?? 0) === 4, 10_000, 'four commands running on the busy server');
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) ports.push(await servedBy(group));
    expect(countByPort(ports)).toEqual([3, 0, 3]);
    await hogsDone;
  });

  it('failover: everything runs on the primary while it is up', async () => {
    const { group } = groupOf({ strategy: 'failover' });
    const ports = await Promise.all(Array.from({ length: 12 }, () => servedBy(group)));
    expect(countByPort(ports)).toEqual([12, 0, 0]);
  });

  it('fan-out: one result per server, in host order, each from its own server', async () => {
    const { group } = groupOf();
    const results = await group.all`echo $SSH_CONNECTION`.concurrency(2);
    expect(results.map((r) => r.status === 'fulfilled' && Number(r.value.stdout.trim().split(' ')[3]))).toEqual(servers.map((s) => s.port));
  });
});

describe('failover when the primary dies mid-workload', () => {
  it('loses no command: retryable ones finish elsewhere, others succeed or fail with ConnectionLostError; the primary is used again once back', async () => {
    const primary = servers[0]!;
    const { group } = groupOf(
      { strategy: 'failover', circuitBreaker: { cooldown: 300, maxCooldown: 1_000 } },
      { connectionTimeout: 3_000, acquireTimeout: 15_000, maxRetries: 1, reconnect: { initialDelay: 50, maxDelay: 200 } },
    );
    const transitions: string[] = [];
    group.on('host:down', (host) => transitions.push(`down ${host}`));
    group.on('host:up', (host) => transitions.push(`up ${host}`));

    const total = 90;
    let completed = 0;
    let killed: Promise<void> | undefined;
    let next = 0;
    const outcomes: Array<{ i: number; retryable: boolean; port?: number; error?: unknown }> = [];
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const retryable = i % 2 === 0;
        try {
          const result = await group`sleep 0.05; echo ${i} $SSH_CONNECTION`.retryable(retryable);
          const [echoed, , , , port] = result.stdout.trim().split(' ');
          expect(Number(echoed), 'each command gets its own output').toBe(i);
          outcomes.push({ i, retryable, port: Number(port) });
        } catch (error) {
          outcomes.push({ i, retryable, error });
        }
        // Kill once commands are flowing, so that some are on the wire when sshd dies.
        if (++completed === 30) killed = primary.kill();
      }
    };
    await withTimeout(Promise.all(Array.from({ length: 6 }, worker)), 60_000, 'the 90-command workload');
    await killed;

    expect(outcomes).toHaveLength(total);
    const failed = outcomes.filter((o) => o.error !== undefined);
    // Retryable commands all succeed; the others either succeed or report the lost connection.
    expect(failed.filter((o) => o.retryable), 'retryable failures').toEqual([]);
    for (const { error } of failed) expect(error).toBeInstanceOf(ConnectionLostError);
    const ranOn = countByPort(outcomes.flatMap((o) => (o.port === undefined ? [] : [o.port])));
    expect(ranOn[0]).toBeGreaterThanOrEqual(25);
    expect(ranOn[1], 'the rest moved to the next host in order').toBe(total - failed.length - ranOn[0]!);
    expect(ranOn[2]).toBe(0);
    expect(group.members()[0]).toMatchObject({ state: expect.stringMatching(/down|probing/) });
    expect(transitions).toEqual([`down 127.0.0.1:${primary.port}`]);

    // The primary comes back on the same port: its probe finds it and commands return to it.
    await primary.start();
    // Probes run after the cool-down (300 ms, doubling up to maxCooldown, 1 s) until one connects:
    // the restarted container answers within a probe or two, a loaded machine may take longer.
    await until(() => transitions.length === 2, 30_000, 'the primary marked up again');
    expect(transitions[1]).toBe(`up 127.0.0.1:${primary.port}`);
    expect(await servedBy(group)).toBe(primary.port);
  }, 120_000); // a kill and a restart of a container: slow when the machine is busy
});

describe('priority under a saturated pool (maxConnections 1, maxChannelsPerConnection 1)', () => {
  it('serves waiting commands and leases highest priority first, in arrival order within a priority', async () => {
    const server = servers[2]!;
    const pool = new SSHConnectionPool({ maxConnections: 1, maxChannelsPerConnection: 1 });
    pools.push(pool);
    const target = { host: server.host, port: server.port, username: server.username, privateKey: client.private, hostKey: { fingerprints: [server.hostKeyFingerprint] }, pool };
    const ssh = $.ssh(target);
    const { host, port, ...shared } = target;
    const group = $.ssh({ ...shared, hosts: [{ host, port }] });
    // The server writes down the order it ran them in: with one slot, that is the serving order.
    const log = `/tmp/priority-order-${process.pid}-${Date.now()}`;
    const ran = (name: string) => $.raw(`echo ${name} >> ${log}`);
    // The only slot is held: everything below waits in the queue.
    const holder = await pool.getConnection(target);
    // A command joins the queue when it starts (is awaited): start each one now, in this order.
    const start = (command: PromiseLike<unknown>): Promise<unknown> => Promise.resolve(command.then((value) => value));
    const queued = [
      start(ssh`${ran('low-1')}`.priority(-1)),
      start(ssh`${ran('default-1')}`),
      start(group`${ran('group-high')}`.priority(10)),
      pool.getConnection(target, { priority: 5 }).then(async (lease) => {
        await lease.exec`${ran('lease-5')}`;
        lease.release();
      }),
      start(ssh`${ran('default-2')}`),
      start(ssh`${ran('mid-5')}`.priority(5)),
    ];
    await until(() => pool.getStats().pendingRequests === queued.length, 5_000, 'every request queued');
    holder.release();
    await withTimeout(Promise.all(queued), 20_000, 'the queued commands');
    const served = (await ssh`cat ${log}; rm -f ${log}`).stdout.trim().split('\n');
    expect(served).toEqual(['group-high', 'lease-5', 'mid-5', 'default-1', 'default-2', 'low-1']);
  });
});
