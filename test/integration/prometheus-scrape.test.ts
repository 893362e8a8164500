// The whole metrics path, end to end: a pool working against real OpenSSH servers, the
// `sshpool/otel` Prometheus endpoint, and a real Prometheus (Debian's /usr/bin/prometheus)
// scraping it every second. Every metric of DESIGN.md §3 must reach Prometheus with its
// labels, the scrape must parse cleanly, and the PromQL pool efficiency must agree with
// getMetrics().
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../src/index.js';
import type { SSHTarget } from '../../src/index.js';
import { setupTelemetry } from '../../src/otel/index.js';
import type { TelemetryHandle } from '../../src/otel/index.js';
import { freePort } from '../support/free-port.js';
import { PrometheusServer } from '../support/prometheus-server.js';
import { withTimeout } from '../support/with-timeout.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

const JOB = 'sshpool';

let prometheus: PrometheusServer | undefined;
let telemetry: TelemetryHandle | undefined;
let server: SshdServer;
let limitedServer: SshdServer;
let pool: SSHConnectionPool;
const startedAt = Date.now() / 1000;

/** Label sets of every series of `job` seen since the test started (stale ones included). */
async function seriesOf(metric: string): Promise<Array<Record<string, string>>> {
  return prometheus!.api('series', { 'match[]': `${metric}{job="${JOB}"}`, start: String(startedAt - 60), end: String(Date.now() / 1000 + 60) });
}

/**
 * Label sets of the series of `job` above zero now. Every series with a fixed label set exists
 * from the moment its pool key is created (at zero), so existence alone says nothing.
 */
async function nonZero(metric: string): Promise<Array<Record<string, string>>> {
  const data = await prometheus!.api<{ result: Array<{ metric: Record<string, string> }> }>('query', { query: `${metric}{job="${JOB}"} > 0` });
  return data.result.map((r) => r.metric);
}

/** Scalar value of an instant PromQL query that returns one sample. */
async function queryValue(expr: string): Promise<number> {
  const data = await prometheus!.api<{ result: Array<{ value: [number, string] }> }>('query', { query: expr });
  const sample = data.result[0];
  if (!sample) throw new Error(`no result for ${expr}`);
  return Number(sample.value[1]);
}

const targetFor = (sshd: SshdServer, extra: Partial<SSHTarget> = {}): SSHTarget => sshdTarget(sshd, pool, extra);

beforeAll(async () => {
  const scrapePort = await freePort();
  // The Prometheus binary is checked first: a missing one fails here, loudly, before anything starts.
  prometheus = await PrometheusServer.start({ scrapePort, job: JOB });
  telemetry = await setupTelemetry({ serviceName: 'sshpool-prometheus-test', prometheus: { port: scrapePort } });
  [server, limitedServer] = await Promise.all([startSshd(), startSshd({ config: { MaxSessions: 1 } })]);
  pool = new SSHConnectionPool({
    healthCheck: { enabled: true, interval: 300, timeout: 5_000 },
    reconnect: { enabled: true, initialDelay: 200, maxDelay: 1_000, maxRetries: 20 },
  });
}, 120_000);

afterAll(async () => {
  await pool?.closeAll();
  await telemetry?.shutdown();
  await prometheus?.stop();
});

describe('Prometheus scraping the sshpool/otel endpoint', () => {
  it('receives every sshpool metric with its labels from a workload against OpenSSH', async () => {
    const name = (sshd: SshdServer, suffix = ''): string => `${sshd.username}@${sshd.host}:${sshd.port}${suffix}`;

    // A failed command and an acquire timeout on a pool key of one slot, which keeps a warm
    // connection (so that losing it starts a reconnect). Its connections are opened by
    // warmUp(), never by a waiting command, so that a slow connect on a busy machine cannot
    // be what times out; no health probe takes its only slot either.
    const narrow = targetFor(server, {
      poolConfig: { maxConnections: 1, maxChannelsPerConnection: 1, acquireTimeout: 1_000, warmUpConnections: 1, healthCheck: { enabled: false } },
    });
    const ssh = $.ssh(narrow);
    await pool.warmUp(narrow, 1);
    await ssh`echo reused`;
    await expect(ssh`exit 3`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_COMMAND_FAILED' });
    const lease = await pool.getConnection(narrow);
    await expect(ssh`true`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_ACQUIRE_TIMEOUT' });
    lease.release();

    // A second credential for the same endpoint (`#2`): a connection retired by maxLifetime.
    const shortLived = $.ssh(targetFor(server, { privateKey: undefined, password: server.password, poolConfig: { maxLifetime: 200 } }));
    await shortLived`true`;
    await sleep(300);
    await shortLived`true`;

    // A rejected credential (`#3`): a failed connect and an acquire with outcome `error`.
    await expect($.ssh(targetFor(server, { privateKey: undefined, password: 'wrong-password' }))`true`).rejects.toMatchObject({
      code: 'ERR_SSHPOOL_AUTH',
    });

    // MaxSessions 1 against 4 channels per connection: the server refuses channels.
    const refusing = $.ssh(targetFor(limitedServer, { poolConfig: { maxConnections: 1, maxChannelsPerConnection: 4 } }));
    await Promise.all(Array.from({ length: 4 }, (_, i) => refusing`sleep 0.2; echo ${i}`));

    // Idle connections get health probes; then the idle connections are closed.
    await sleep(1_000);
    await prometheus!.waitForScrapes(); // the used/idle gauges as they are now, with every pool key open
    await pool.closeIdleConnections();

    // The server goes away under a busy connection: closed by the remote side, then the
    // warm connection comes back through reconnect attempts.
    await pool.warmUp(narrow, 1);
    const events: string[] = [];
    const note = (text: string): void => {
      events.push(`${new Date().toISOString().slice(11, 23)} ${text}`);
    };
    pool.on('connection:closed', (_host, reason, d) => note(`closed ${d.poolName} ${reason}`));
    pool.on('connection:failed', (_host, error, d) => note(`failed ${d.poolName} ${error.message}`));
    pool.on('connection:reconnecting', (_host, attempt, d) => note(`reconnecting ${d.poolName} #${attempt}`));
    const reconnected = new Promise<void>((resolve) => pool.once('connection:reconnected', () => resolve()));
    const busy = ssh`sleep 30`.nothrow().then((result) => result); // commands are lazy: start it now
    await sleep(300);
    await server.kill(); // SIGKILL: TCP connections close with no SSH goodbye
    expect((await busy).ok).toBe(false);
    note('server killed');
    await server.start();
    note('server started');
    await withTimeout(reconnected, 30_000, () => `no connection:reconnected within 30 s of the restart; events:\n${events.join('\n')}`);
    await ssh`echo after-restart`;

    await prometheus!.waitForScrapes();

    // Every metric of the contract, with the labels each must carry.
    const expectations: Array<[metric: string, labels: Record<string, string[]>]> = [
      ['ssh_client_connection_count', { ssh_connection_state: ['idle', 'used'] }],
      ['ssh_client_connection_max', {}],
      ['ssh_client_connection_pending_requests', {}],
      ['ssh_client_connection_create_time_bucket', { error_type: ['ERR_SSHPOOL_AUTH'] }],
      ['ssh_client_connection_wait_time_bucket', { ssh_pool_acquire_outcome: ['created', 'reused', 'timeout', 'error'] }],
      ['ssh_client_connection_use_time_bucket', {}],
      ['ssh_client_connection_acquires_total', { ssh_pool_acquire_outcome: ['created', 'reused', 'timeout', 'error'] }],
      ['ssh_client_connection_timeouts_total', {}],
      ['ssh_client_connection_closed_total', { ssh_connection_close_reason: ['idle', 'expired'] }],
      ['ssh_client_channel_count', {}],
      ['ssh_client_channel_refusals_total', {}],
      ['ssh_client_health_check_duration_bucket', { ssh_health_check_outcome: ['healthy'] }],
      ['ssh_client_reconnect_attempts_total', { ssh_reconnect_outcome: ['success'] }],
      ['ssh_client_command_duration_bucket', { error_type: ['ERR_SSHPOOL_COMMAND_FAILED', 'ERR_SSHPOOL_ACQUIRE_TIMEOUT'] }],
    ];
    const missing: string[] = [];
    for (const [metric, labels] of expectations) {
      const series = await seriesOf(metric);
      if (series.length === 0) {
        missing.push(`${metric}: no series`);
        continue;
      }
      for (const s of series) {
        if (!s['ssh_pool_name']?.startsWith(`${server.username}@127.0.0.1:`)) missing.push(`${metric}: series without ssh_pool_name ${JSON.stringify(s)}`);
        if (s['otel_scope_name'] !== 'sshpool') missing.push(`${metric}: series without otel_scope_name="sshpool"`);
        if (!/^pool-\d+$/.test(s['ssh_pool_instance'] ?? '')) missing.push(`${metric}: series without ssh_pool_instance="pool-<n>" ${JSON.stringify(s)}`);
        if (metric.endsWith('_bucket') && s['le'] === undefined) missing.push(`${metric}: bucket without le`);
      }
      for (const [label, values] of Object.entries(labels)) {
        for (const value of values) {
          if (!series.some((s) => s[label] === value)) missing.push(`${metric}: no series with ${label}="${value}"`);
        }
      }
    }
    expect(missing).toEqual([]);

    // Per pool key: the refusals happened on the MaxSessions 1 server, the remote close on the restarted one.
    expect((await nonZero('ssh_client_channel_refusals_total')).map((s) => s['ssh_pool_name'])).toEqual([name(limitedServer)]);
    const closeReasons = (await nonZero('ssh_client_connection_closed_total')).filter((s) => s['ssh_pool_name'] === name(server));
    expect(closeReasons.map((s) => s['ssh_connection_close_reason'])).toEqual(expect.arrayContaining(['idle']));
    expect(closeReasons.some((s) => s['ssh_connection_close_reason'] === 'remote' || s['ssh_connection_close_reason'] === 'error')).toBe(true);
    expect((await seriesOf('ssh_client_connection_acquires_total')).map((s) => s['ssh_pool_name'])).toEqual(
      expect.arrayContaining([name(server), name(server, '#2'), name(server, '#3'), name(limitedServer)]),
    );
    // The JS exporter adds no unit suffix: there is no *_seconds_* series.
    expect(await prometheus!.api<string[]>('label/__name__/values', { 'match[]': '{__name__=~"ssh_.*_seconds.*"}' })).toEqual([]);

    // Prometheus parsed every scrape: the target is up, with no error.
    const targets = await prometheus!.api<{ activeTargets: Array<{ health: string; lastError: string }> }>('targets', {});
    expect(targets.activeTargets).toEqual([expect.objectContaining({ health: 'up', lastError: '' })]);

    // Pool efficiency. The PromQL of DESIGN.md §3 is the share of reused among reused +
    // created *acquires*; getMetrics().poolEfficiency divides by every connection opened,
    // warm-up and reconnects included. A connection's first slot is its `created` acquire, so
    // the two agree whenever every opened connection was used; one never used (warm, or
    // reconnected and then idle) lowers only the second. Prometheus has both: the second is
    // reused / (reused + successful connects, the error-free create_time count).
    const metrics = pool.getMetrics();
    const acquired = (outcome: string): string => `sum(ssh_client_connection_acquires_total{job="${JOB}",ssh_pool_acquire_outcome=~"${outcome}"})`;
    const connected = `sum(ssh_client_connection_create_time_count{job="${JOB}",error_type=""})`;
    expect(await queryValue(acquired('reused'))).toBe(metrics.connectionsReused);
    expect(await queryValue(connected)).toBe(metrics.connectionsCreated);
    const createdAcquires = await queryValue(acquired('created'));
    expect(createdAcquires).toBeLessThanOrEqual(metrics.connectionsCreated);
    expect(createdAcquires).toBeGreaterThan(0);
    expect(await queryValue(`${acquired('reused')} / ${acquired('reused|created')}`)).toBeCloseTo(
      metrics.connectionsReused / (metrics.connectionsReused + createdAcquires), 10);
    expect(await queryValue(`${acquired('reused')} / (${acquired('reused')} + ${connected})`)).toBeCloseTo(metrics.poolEfficiency, 10);
    expect(await queryValue(`sum(ssh_client_connection_timeouts_total{job="${JOB}"})`)).toBe(1);

    // Dashboard queries select histograms by a name regex, so that they work with the JS
    // exporter's names and with the Collector's (`_seconds` added).
    expect(await queryValue(
      `histogram_quantile(0.99, sum by (le) (rate({__name__=~"ssh_client_command_duration(_seconds)?_bucket",job="${JOB}"}[1m])))`,
    )).toBeGreaterThan(0);
    expect(await queryValue(
      `sum(ssh_client_connection_count{job="${JOB}",ssh_connection_state="used"}) / sum(ssh_client_connection_max{job="${JOB}"})`,
    )).toBeGreaterThanOrEqual(0);

    // Closing the pool records every connection as closed for `shutdown`.
    await pool.closeAll();
    await prometheus!.waitForScrapes();
    const reasons = (await nonZero('ssh_client_connection_closed_total')).map((s) => s['ssh_connection_close_reason']);
    expect(reasons).toContain('shutdown');
  }, 120_000);
});
