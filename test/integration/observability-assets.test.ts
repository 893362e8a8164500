// The shipped observability assets (dashboards/, otel-collector/) against a real Prometheus
// (Debian's /usr/bin/prometheus) scraping the `sshpool/otel` endpoint of a pool that works
// against in-process SSH servers (no Docker needed):
// - every panel query of the generated Grafana dashboard runs without error, and the panels
//   the workload feeds return data;
// - the committed dashboard JSON is exactly what scripts/generate-dashboards.ts generates;
// - the alert rules pass `promtool check rules` and their unit tests `promtool test rules`;
// - the Collector stack's Prometheus config passes `promtool check config`.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../src/index.js';
import type { SSHTarget } from '../../src/index.js';
import { setupTelemetry } from '../../src/otel/index.js';
import type { TelemetryHandle } from '../../src/otel/index.js';
import { DASHBOARD_PATH, buildDashboard, panelQueries, renderDashboard } from '../../scripts/generate-dashboards.js';
import { EmbeddedSshServer } from '../support/embedded-ssh-server.js';
import { freePort } from '../support/free-port.js';
import { PrometheusServer, requireBinary } from '../support/prometheus-server.js';
import { sshdTarget } from '../support/sshd-target.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROMTOOL_BINARY = process.env['SSHPOOL_PROMTOOL_BIN'] ?? '/usr/bin/promtool';
const RULES = join(REPO_ROOT, 'dashboards', 'alerts', 'sshpool.rules.yml');
const RULE_TESTS = join(REPO_ROOT, 'dashboards', 'alerts', 'sshpool.rules.test.yml');

let prometheus: PrometheusServer | undefined;
let telemetry: TelemetryHandle | undefined;
let server: EmbeddedSshServer | undefined;
let limitedServer: EmbeddedSshServer | undefined;
let pool: SSHConnectionPool | undefined;

/** A panel query as Grafana sends it with "All" pools selected. */
const asGrafanaSendsIt = (expr: string): string => expr.replaceAll('$pool', '.*').replaceAll('$__rate_interval', '1m');

function promtool(...args: string[]): { status: number | null; output: string } {
  requireBinary(PROMTOOL_BINARY);
  const result = spawnSync(PROMTOOL_BINARY, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error ? String(result.error) : ''}` };
}

beforeAll(async () => {
  const scrapePort = await freePort();
  prometheus = await PrometheusServer.start({ scrapePort, job: 'sshpool', ruleFiles: [RULES] });
  telemetry = await setupTelemetry({ serviceName: 'sshpool-assets-test', prometheus: { port: scrapePort } });
  server = await new EmbeddedSshServer().start();
  limitedServer = await new EmbeddedSshServer({ maxSessions: 1 }).start();
  pool = new SSHConnectionPool({
    healthCheck: { enabled: true, interval: 300, timeout: 5_000 },
    reconnect: { enabled: true, initialDelay: 100, maxDelay: 500, maxRetries: 20 },
  });
}, 60_000);

afterAll(async () => {
  await pool?.closeAll();
  await telemetry?.shutdown();
  await prometheus?.stop();
  await server?.stop();
  await limitedServer?.stop();
});

describe('shipped dashboards and alert rules', () => {
  it('the committed dashboard is what the generator produces', () => {
    expect(readFileSync(DASHBOARD_PATH, 'utf8')).toBe(renderDashboard());
    expect(renderDashboard()).toBe(renderDashboard());
  });

  it('every panel filters by the $pool variable and the dashboard has its variables', () => {
    const queries = panelQueries();
    expect(queries.length).toBeGreaterThanOrEqual(15);
    for (const { panel, expr } of queries) expect(expr, panel).toContain('ssh_pool_name=~"$pool"');
    const variables = (buildDashboard()['templating'] as { list: Array<{ name: string; type: string }> }).list;
    expect(variables.map((v) => `${v.name}:${v.type}`)).toEqual(['datasource:datasource', 'pool:query']);
  });

  it('alert rules pass promtool check rules and their unit tests', () => {
    const check = promtool('check', 'rules', RULES);
    expect(check.status, check.output).toBe(0);
    const unit = promtool('test', 'rules', RULE_TESTS);
    expect(unit.status, unit.output).toBe(0);
  });

  it('the Collector stack\'s Prometheus config is valid', () => {
    const check = promtool('check', 'config', '--syntax-only', join(REPO_ROOT, 'otel-collector', 'prometheus.yml'));
    expect(check.status, check.output).toBe(0);
  });

  it('every panel query runs against a real Prometheus scraping a pool, and the panels return data', async () => {
    const base = (s: EmbeddedSshServer, extra: Partial<SSHTarget> = {}): SSHTarget => sshdTarget(s, pool, extra);
    const srv = server!;

    // A pool key of one slot with a warm connection: reused commands, a failed command, an
    // acquire timeout, then a reconnect when the server drops every connection.
    const narrow = base(srv, {
      poolConfig: { maxConnections: 1, maxChannelsPerConnection: 1, acquireTimeout: 500, warmUpConnections: 1, healthCheck: { enabled: false } },
    });
    const ssh = $.ssh(narrow);
    await pool!.warmUp(narrow, 1);
    for (let i = 0; i < 5; i++) await ssh`echo ${i}`;
    await expect(ssh`exit 3`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_COMMAND_FAILED' });
    const lease = await pool!.getConnection(narrow);
    await expect(ssh`true`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_ACQUIRE_TIMEOUT' });
    lease.release();

    // A rejected credential: a failed connect (create_time with error_type).
    await expect($.ssh(base(srv, { privateKey: undefined, password: 'wrong-password' }))`true`).rejects.toMatchObject({
      code: 'ERR_SSHPOOL_AUTH',
    });

    // One session per connection against 4 channels per connection: refusals.
    const refusing = $.ssh(base(limitedServer!, { poolConfig: { maxConnections: 1, maxChannelsPerConnection: 4 } }));
    await Promise.all(Array.from({ length: 4 }, (_, i) => refusing`sleep 0.2; echo ${i}`));

    // Idle connections of the default pool key get health probes.
    const shared = $.ssh(base(srv));
    await Promise.all(Array.from({ length: 3 }, (_, i) => shared`echo ${i}`));
    await sleep(1_000);

    // Every connection cut at once: the warm connection comes back through reconnect attempts.
    const reconnected = new Promise<void>((resolve) => pool!.once('connection:reconnected', () => resolve()));
    srv.dropAllConnections();
    await Promise.race([reconnected, sleep(15_000).then(() => Promise.reject(new Error('no connection:reconnected within 15 s')))]);
    await ssh`echo after-reconnect`;
    await prometheus!.waitForScrapes();
    await prometheus!.waitForScrapes();

    const problems: string[] = [];
    const empty: string[] = [];
    const end = Date.now() / 1000;
    for (const { panel, refId, expr, expectData } of panelQueries()) {
      const query = asGrafanaSendsIt(expr);
      try {
        const instant = await prometheus!.api<{ result: unknown[] }>('query', { query });
        await prometheus!.api('query_range', { query, start: String(end - 60), end: String(end), step: '1' });
        if (expectData && instant.result.length === 0) empty.push(`${panel} ${refId}: ${query}`);
      } catch (error) {
        problems.push(`${panel} ${refId}: ${(error as Error).message}\n  ${query}`);
      }
    }
    expect(problems).toEqual([]);
    expect(empty).toEqual([]);

    // The rules load into a real Prometheus, and evaluate without error.
    const rules = await prometheus!.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>('rules', {});
    const loaded = rules.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual([
      'SshPoolAcquireTimeouts',
      'SshPoolConnectionFailures',
      'SshPoolEfficiencyLow',
      'SshPoolHealthChecksFailing',
      'SshPoolPendingRequestsHigh',
      'SshPoolReconnectStorm',
      'SshPoolSaturated',
    ]);
    expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
  }, 60_000);
});
