// Health checks against a real sshd that stops answering (docker pause): the idle connection
// is reported unhealthy and closed with reason `unhealthy`, and once the server answers again
// the reconnect loop restores the warm minimum. Also a probe that fails on a server that still
// answers, which exercises the same close-and-reconnect path.
import { describe, expect, it } from 'vitest';
import { $ } from '../../../src/index.js';
import type { PoolConfig } from '../../../src/index.js';
import { startSshd } from '../../support/sshd.js';
import { newPool, recordEvents, sleep, targetFor, until, withTimeout } from './shared.js';

const interval = 200;
// Generous enough that a probe on a loaded CI machine does not time out before the freeze.
const timeout = 1_000;
const poolConfig: PoolConfig = {
  warmUpConnections: 1,
  healthCheck: { enabled: true, interval, timeout },
  reconnect: { initialDelay: 100, maxDelay: 400, maxRetries: 10 },
  connectionTimeout: 2_000,
  // Keepalive stays at its default (15 s × 3): the health check is what must notice the freeze.
};

async function warmPool() {
  const server = await startSshd();
  const pool = newPool();
  const recorder = recordEvents(pool);
  const ssh = $.ssh(targetFor(server, pool, { poolConfig }));
  await until(() => pool.getStats().idleConnections === 1, 5_000, 'the warm connection');
  await until(() => recorder.count('connection:healthy') >= 2, 2_000, 'two healthy probes');
  // Only the freeze may make a probe fail: a failure before it would already have replaced the connection.
  expect(recorder.count('connection:unhealthy')).toBe(0);
  const warmId = recorder.named('connection:created')[0]!.args[2].connectionId;
  return { server, pool, recorder, ssh, warmId };
}

describe('health checks on a frozen sshd', () => {
  it('reports the idle connection unhealthy within interval + timeout, and closes it with reason unhealthy', async () => {
    const { server, pool, recorder, ssh, warmId } = await warmPool();
    await server.pause();
    const pausedAt = performance.now();
    try {
      const unhealthyAfter = await until(() => recorder.count('connection:unhealthy') > 0, interval + timeout + 2_000, 'connection:unhealthy');
      const [host, error, details] = recorder.named('connection:unhealthy')[0]!.args;
      expect(host).toBe(server.host);
      expect(details.connectionId).toBe(warmId);
      expect(error.message).toMatch(/timed out after 1000 ms|could not open a channel/);
      // An unhealthy connection is not counted (nor lent) any more, even before its socket is gone.
      expect(pool.getStats()).toMatchObject({ totalConnections: 0, idleConnections: 0 });
      console.info(`health check: unhealthy ${Math.round(unhealthyAfter)} ms after the freeze`);
      // The close must not wait for the frozen peer: ssh2 is cut off after the grace period (2 s).
      const closedAfter = await until(() => recorder.closeReasons().includes('unhealthy'), 4_000, "connection:closed 'unhealthy' while sshd is frozen")
        .catch((e: Error) => e);
      console.info(`health check: closed ${closedAfter instanceof Error ? 'not within 4 s' : `${Math.round(closedAfter)} ms`} after the unhealthy report (sshd frozen)`);
      expect(closedAfter).not.toBeInstanceOf(Error);
    } finally {
      await server.unpause();
    }
    await until(() => recorder.closeReasons().includes('unhealthy'), 5_000, "connection:closed 'unhealthy' after unpause");
    await until(() => pool.getStats().idleConnections === 1, 10_000, 'warm minimum restored');
    expect((await ssh`echo alive`.timeout(5_000)).stdout).toBe('alive\n');
    console.info(`health check: freeze-to-recovery ${Math.round(performance.now() - pausedAt)} ms`);
  });

  it('restores the warm minimum after unpause: connection:reconnecting, then connection:reconnected', async () => {
    const { server, pool, recorder, ssh, warmId } = await warmPool();
    await server.pause();
    const pausedAt = performance.now();
    try {
      await until(() => recorder.count('connection:unhealthy') > 0, interval + timeout + 2_000, 'connection:unhealthy');
    } finally {
      // Hold the freeze a little past the report, then let the server answer again.
      await sleep(300);
      await server.unpause();
    }
    await withTimeout(
      until(() => recorder.count('connection:reconnected') > 0, 15_000, 'connection:reconnected'),
      16_000,
      'reconnect',
    );
    const names = recorder.events.map((event) => event.name);
    const unhealthy = names.indexOf('connection:unhealthy');
    const closed = recorder.events.findIndex((event) => event.name === 'connection:closed' && event.args[1] === 'unhealthy');
    const reconnecting = names.indexOf('connection:reconnecting');
    const reconnected = names.indexOf('connection:reconnected');
    expect(unhealthy).toBeGreaterThanOrEqual(0);
    expect(closed).toBeGreaterThan(unhealthy);
    expect(reconnecting).toBeGreaterThan(closed);
    expect(reconnected).toBeGreaterThan(reconnecting);
    expect(recorder.named('connection:reconnecting')[0]!.args[1]).toBe(1);
    const closedDetails = recorder.events[closed]!.args[2] as { connectionId: number };
    expect(closedDetails.connectionId).toBe(warmId);
    const replacement = recorder.named('connection:reconnected')[0]!.args[1].connectionId;
    expect(replacement).not.toBe(warmId);

    await until(() => pool.getStats().idleConnections === 1, 5_000, 'warm minimum restored');
    // (openChannels may be 1 here: a probe runs on the idle connection every 200 ms.)
    expect(pool.getStats()).toMatchObject({ totalConnections: 1, activeConnections: 0, pendingRequests: 0 });
    // The replacement is healthy and serves commands.
    const healthyBefore = recorder.count('connection:healthy');
    await until(() => recorder.count('connection:healthy') > healthyBefore, 2_000, 'a healthy probe of the replacement');
    expect((await ssh`echo back`.timeout(5_000)).stdout).toBe('back\n');
    console.info(
      `health check: reconnected ${Math.round(recorder.named('connection:reconnected')[0]!.at - pausedAt)} ms after the freeze ` +
        `(${recorder.count('connection:reconnecting')} reconnect attempt(s))`,
    );
  });
});

describe('health checks on a responsive sshd whose probe fails', () => {
  it('closes the connection with reason unhealthy, then reconnects: reconnecting, then reconnected', async () => {
    const server = await startSshd();
    const flag = '/tmp/sshpool-unhealthy';
    const pool = newPool();
    const recorder = recordEvents(pool);
    const ssh = $.ssh(targetFor(server, pool, { poolConfig: { ...poolConfig, healthCheck: { ...poolConfig.healthCheck, command: `test ! -e ${flag}` } } }));
    await until(() => pool.getStats().idleConnections === 1, 5_000, 'the warm connection');
    await until(() => recorder.count('connection:healthy') >= 1, 2_000, 'a healthy probe');
    const warmId = recorder.named('connection:created')[0]!.args[2].connectionId;

    await server.exec(['touch', flag]);
    const failedAt = performance.now();
    await until(() => recorder.count('connection:unhealthy') > 0, interval + timeout + 1_000, 'connection:unhealthy');
    await server.exec(['rm', '-f', flag]);
    expect(recorder.named('connection:unhealthy')[0]!.args[1].message).toBe('health check command ended with exit code 1');
    await until(() => recorder.count('connection:reconnected') > 0, 5_000, 'connection:reconnected');

    const sequence = recorder.events
      .filter((event) => ['connection:unhealthy', 'connection:closed', 'connection:reconnecting', 'connection:reconnected'].includes(event.name))
      .map((event) => (event.name === 'connection:closed' ? `closed:${String(event.args[1])}` : event.name.replace('connection:', '')));
    expect(sequence.slice(0, 4)).toEqual(['unhealthy', 'closed:unhealthy', 'reconnecting', 'reconnected']);
    expect(recorder.named('connection:closed')[0]!.args[2].connectionId).toBe(warmId);
    expect(recorder.named('connection:reconnected')[0]!.args[1].connectionId).not.toBe(warmId);
    await until(() => pool.getStats().idleConnections === 1, 2_000, 'warm minimum restored');
    expect(pool.getStats()).toMatchObject({ totalConnections: 1, activeConnections: 0, pendingRequests: 0 });
    expect((await ssh`echo fine`.timeout(5_000)).stdout).toBe('fine\n');
    console.info(`failing probe: reconnected ${Math.round(recorder.named('connection:reconnected')[0]!.at - failedAt)} ms after the probe started failing`);
  });
});
