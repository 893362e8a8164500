// Two incidents, end to end, as an SRE adopting sshpool would stage them: two processes of one
// service (each with its own Prometheus endpoint) run commands on one OpenSSH server; a real
// Prometheus scrapes both and evaluates the shipped rules; a real Alertmanager (Debian's
// prometheus-alertmanager) runs the shipped otel-collector/alertmanager.yml and notifies a
// webhook. Each incident must give its expected alerts and exactly one firing notification,
// then exactly one resolved one, with absolute runbook URLs:
// 1. a sub-scrape outage: the host is cut off for 0.6 s (shorter than the 1 s scrape): the
//    error budget burns fast, one page for the host (not one per process), no ticket;
// 2. a dead exporter: one process is killed (SIGKILL) while the other lives on:
//    SshPoolScrapeDown for that instance, one ticket; SshPoolMetricsAbsent never even goes
//    pending for it (a failing scrape is SshPoolScrapeDown's alone); the process is started
//    again and the ticket resolves.
// Time is compressed: every duration of the rules (ranges and `for:`) is divided by 60, so one
// minute of the shipped rules is one second here; Alertmanager's group_wait and group_interval
// are 3 s and 5 s.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEFAULT_RUNBOOK_BASE_URL } from '../../scripts/generate-dashboards.js';
import { AlertmanagerServer, RecordingWebhook } from '../support/alertmanager-server.js';
import type { Notification } from '../support/alertmanager-server.js';
import { CuttableProxy } from '../support/cuttable-proxy.js';
import { freePorts } from '../support/free-port.js';
import { PrometheusServer } from '../support/prometheus-server.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = join(REPO_ROOT, 'test', 'integration', 'fixtures', 'incident-worker.ts');
const JOB = 'sshpool-incidents';
/** Shipped durations are divided by this: 1 minute of the rules is 1 s here. */
const COMPRESSION = 60;

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** A Prometheus duration (`5m`, `1h`, `3d`, `1h30m`) divided by `factor`, in ms when below a second. */
export function compressDuration(duration: string, factor: number): string {
  let seconds = 0;
  for (const [, amount, unit] of duration.matchAll(/(\d+)(ms|[smhdwy])/g)) seconds += Number(amount) * UNIT_SECONDS[unit!]!;
  const ms = Math.max(1, Math.round((seconds * 1000) / factor));
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The rules with every range, offset and `for:` divided by `factor`. */
export function compressRules(source: string, factor: number): string {
  const rules = parse(source) as { groups: Array<{ rules: Array<{ expr: string; for?: string }> }> };
  for (const group of rules.groups) {
    for (const rule of group.rules) {
      rule.expr = rule.expr
        .replace(/\[(\d+(?:ms|[smhdwy]))+\]/g, (m) => `[${compressDuration(m.slice(1, -1), factor)}]`)
        .replace(/\boffset (\d+(?:ms|[smhdwy]))+/g, (m) => `offset ${compressDuration(m.slice(7), factor)}`);
      if (rule.for) rule.for = compressDuration(rule.for, factor);
    }
  }
  return stringify(rules);
}

/**
 * The rules with a latency objective of 80 % within 1 s instead of 99 %, which neither burn
 * rate can reach (14.4 and 6 times a 20 % budget exceed 100 %): the machine's own slowness is
 * not an incident here. At a load average of 60 on 2 cores, `echo` through the pool took over
 * 1 s often enough to burn the shipped budget before the outage's errors did, and its page came
 * first. How the latency burn pages, and that the error burn mutes it, is the promtool tests' and
 * the routing test's to show.
 */
function loosenLatencyObjective(rules: string): string {
  const loosened = rules.replace(/(record: sshpool:slo_error_budget:command_latency\n(?:\s*#.*\n)*\s*expr: )vector\(1 - 0\.99\)/, '$1vector(1 - 0.8)');
  if (loosened === rules) throw new Error('the latency objective of the shipped rules was not found');
  return loosened;
}

/** The shipped Alertmanager config, notifying `webhook` (same paths) with compressed grouping timers. */
function alertmanagerConfig(webhook: string): string {
  const config = parse(readFileSync(join(REPO_ROOT, 'otel-collector', 'alertmanager.yml'), 'utf8')) as {
    route: Record<string, unknown>;
    receivers: Array<{ webhook_configs?: Array<{ url: string }> }>;
  };
  Object.assign(config.route, { group_wait: '3s', group_interval: '5s', repeat_interval: '1h' });
  for (const receiver of config.receivers) for (const hook of receiver.webhook_configs ?? []) hook.url = hook.url.replace(/^https?:\/\/[^/]+/, webhook);
  return stringify(config);
}

/** Polls `condition` (sync or async) every 100 ms until it holds; throws with `what()` after `timeoutMs`. */
async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what()}`);
    await sleep(100);
  }
}

interface Worker {
  readonly port: number;
  child: ChildProcess;
  output: string;
}

let sshd: SshdServer;
let proxy: CuttableProxy;
let webhook: RecordingWebhook;
let alertmanager: AlertmanagerServer | undefined;
let prometheus: PrometheusServer | undefined;
let workDir: string;
const workers: Worker[] = [];

async function startWorker(worker: Worker): Promise<void> {
  const target = sshdTarget({ ...sshd, port: proxy.port }, undefined, {
    poolConfig: {
      maxConnections: 1,
      maxChannelsPerConnection: 2,
      maxRetries: 0,
      acquireTimeout: 2_000,
      connectionTimeout: 2_000,
      healthCheck: { enabled: false },
      reconnect: { enabled: true, initialDelay: 400, maxDelay: 1_000, maxRetries: 20 },
    },
  });
  const env: NodeJS.ProcessEnv = { ...process.env, SSHPOOL_INCIDENT_TARGET: JSON.stringify(target), SSHPOOL_INCIDENT_PORT: String(worker.port) };
  for (const key of Object.keys(env)) if (key.startsWith('OTEL_')) delete env[key];
  worker.output = '';
  worker.child = spawn(process.execPath, ['--import', 'tsx', WORKER], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  worker.child.stdout!.on('data', (chunk: Buffer) => (worker.output += chunk.toString()));
  worker.child.stderr!.on('data', (chunk: Buffer) => (worker.output += chunk.toString()));
  await waitFor(() => worker.output.includes('ready') || worker.child.exitCode !== null, 30_000, () => `worker on :${worker.port}: ${worker.output}`);
  if (!worker.output.includes('ready')) throw new Error(`worker on :${worker.port} exited: ${worker.output}`);
}

async function kill(worker: Worker): Promise<void> {
  const { child } = worker;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'sshpool-incidents-'));
  const rules = join(workDir, 'sshpool.rules.yml');
  writeFileSync(rules, loosenLatencyObjective(compressRules(readFileSync(join(REPO_ROOT, 'dashboards', 'alerts', 'sshpool.rules.yml'), 'utf8'), COMPRESSION)));
  [sshd, webhook] = await Promise.all([startSshd(), RecordingWebhook.start()]);
  proxy = await CuttableProxy.start({ host: sshd.host, port: sshd.port });
  alertmanager = await AlertmanagerServer.start(alertmanagerConfig(webhook.url));
  const ports = await freePorts(2);
  prometheus = await PrometheusServer.start({ scrapePort: ports, job: JOB, ruleFiles: [rules], alertmanagers: [alertmanager.address] });
  for (const port of ports) workers.push({ port, child: undefined as unknown as ChildProcess, output: '' });
  await Promise.all(workers.map(startWorker));
}, 90_000);

afterAll(async () => {
  await Promise.all(workers.map(kill));
  await prometheus?.stop();
  await alertmanager?.stop();
  await webhook?.stop();
  await proxy?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const firing = (n: Notification): boolean => n.status === 'firing';
const groupOf = (notifications: readonly Notification[], alertname: string): Notification[] => {
  const keys = new Set(notifications.filter((n) => n.alerts.some((a) => a.labels['alertname'] === alertname)).map((n) => n.groupKey));
  return notifications.filter((n) => keys.has(n.groupKey));
};
const describeAll = (notifications: readonly Notification[]): string =>
  notifications.map((n) => `${(n.at / 1000).toFixed(1)}s ${n.receiver} ${n.status} ${n.alerts.map((a) => `${a.labels['alertname']}/${a.labels['severity']}/${a.status}`).join(',')}`).join('\n');

describe('incidents through Prometheus and Alertmanager, two processes, time compressed 60x', () => {
  it('a sub-scrape outage and a dead exporter each give their alerts and exactly one notification, then one resolution', async () => {
    const p = prometheus!;
    const all = webhook.notifications;
    // Both instances scraped, and a history of two live instances for SshPoolMetricsAbsent.
    const scalar = async (query: string): Promise<number> =>
      Number((await p.api<{ result: Array<{ value: [number, string] }> }>('query', { query })).result[0]?.value[1] ?? Number.NaN);
    await waitFor(async () => (await scalar(`count_over_time(sshpool_job:instances:count{job="${JOB}"}[1m])`)) >= 5 && (await scalar(`min(sshpool_job:instances:count{job="${JOB}"})`)) === 2,
      // Both exporters are Node processes of their own: on a saturated machine their start alone took most of 30 s.
      60_000, () => 'two live instances for 5 evaluations');
    expect(describeAll(all), 'nothing before the incidents').toBe('');

    // ---- 1. the host is cut off for 0.6 s, less than a scrape interval ----
    await proxy.cut(600);
    const pendingOrFiring = new Set<string>();
    const watch = setInterval(() => {
      void p.api<{ alerts: Array<{ state: string; labels: Record<string, string> }> }>('alerts', {}).then((data) => {
        for (const a of data.alerts) pendingOrFiring.add(`${a.labels['alertname']}/${a.labels['severity']} ${a.state}`);
      }, () => undefined);
    }, 250);
    await waitFor(() => all.some(firing), 30_000, () => `no notification after the outage:\n${describeAll(all)}`);
    // A quiet period, not a wait for state: anything else the outage could set off (a `for:` of
    // up to 5 minutes, 5 s here, then a group_wait) would have arrived by now.
    await sleep(9_000);
    clearInterval(watch);
    if (process.env['SSHPOOL_INCIDENTS_LOG']) console.log([...pendingOrFiring].sort().join('\n'));
    const outage = groupOf(all, 'SshPoolCommandErrorBudgetBurn');
    expect(outage.filter(firing), describeAll(all)).toHaveLength(1);
    const [page] = outage.filter(firing);
    expect(page!.receiver).toBe('sshpool-page');
    expect(page!.groupLabels).toEqual({ job: JOB, ssh_pool_name: expect.stringMatching(/^tester@127\.0\.0\.1:\d+$/) });
    const paged = page!.alerts.filter((a) => a.status === 'firing');
    // The host once, not once per process; the acquires alert is muted by the error budget page.
    expect(paged.map((a) => `${a.labels['alertname']} ${a.labels['severity']}`)).toEqual(['SshPoolCommandErrorBudgetBurn critical']);
    expect(paged[0]!.labels['instance']).toBeUndefined();
    expect(paged[0]!.annotations['runbook_url']).toBe(`${DEFAULT_RUNBOOK_BASE_URL}#sshpoolcommanderrorbudgetburn`);
    // The outage is all the webhook heard of: no ticket, no other page.
    expect(all.filter(firing), describeAll(all)).toHaveLength(1);

    // ---- 2. one of the two processes dies ----
    const before = all.length;
    const absentStates = new Set<string>();
    const watchAbsent = setInterval(() => {
      void p.api<{ alerts: Array<{ state: string; labels: Record<string, string> }> }>('alerts', {}).then((data) => {
        for (const a of data.alerts) if (a.labels['alertname'] === 'SshPoolMetricsAbsent') absentStates.add(`${a.labels['instance']} ${a.state}`);
      }, () => undefined);
    }, 250);
    await kill(workers[1]!);
    await waitFor(() => all.slice(before).some((n) => firing(n) && n.alerts.some((a) => a.labels['alertname'] === 'SshPoolScrapeDown')), 30_000,
      () => `no SshPoolScrapeDown notification:\n${describeAll(all)}`);
    // Quiet period: SshPoolMetricsAbsent (5 minutes: 5 s) would have gone pending within a
    // second of the kill and fired 5 s later, and a notification would follow within a
    // group_wait (the rule without `unless ... up == 0` fails here).
    await sleep(8_000);
    clearInterval(watchAbsent);
    expect([...absentStates], 'SshPoolMetricsAbsent while the scrape fails').toEqual([]);
    const dead = groupOf(all, 'SshPoolScrapeDown');
    expect(dead.filter(firing), describeAll(all)).toHaveLength(1);
    const [ticket] = dead.filter(firing);
    expect(ticket!.receiver).toBe('sshpool-ticket');
    expect(ticket!.alerts.map((a) => `${a.labels['alertname']} ${a.labels['instance']}`)).toEqual([`SshPoolScrapeDown 127.0.0.1:${workers[1]!.port}`]);
    expect(ticket!.alerts[0]!.annotations['runbook_url']).toBe(`${DEFAULT_RUNBOOK_BASE_URL}#sshpoolscrapedown`);
    const pagedAbsent = (): boolean => all.some((n) => n.alerts.some((a) => a.status === 'firing' && a.labels['alertname'] === 'SshPoolMetricsAbsent'));
    expect(pagedAbsent(), describeAll(all)).toBe(false);

    // ---- both resolve, once each ----
    await startWorker(workers[1]!);
    await waitFor(() => ['SshPoolScrapeDown', 'SshPoolCommandErrorBudgetBurn'].every((name) => groupOf(all, name).some((n) => n.status === 'resolved')),
      45_000, () => `not resolved:\n${describeAll(all)}`);
    for (const alertname of ['SshPoolCommandErrorBudgetBurn', 'SshPoolScrapeDown']) {
      const group = groupOf(all, alertname);
      expect(group.map((n) => n.status), `${alertname}\n${describeAll(all)}`).toEqual(['firing', 'resolved']);
    }
    expect(all.filter(firing), describeAll(all)).toHaveLength(2);
    expect(pagedAbsent(), describeAll(all)).toBe(false);
    expect(all.flatMap((n) => n.alerts).filter((a) => a.status === 'firing').map((a) => a.labels['alertname']).sort()).toEqual([
      'SshPoolCommandErrorBudgetBurn',
      'SshPoolScrapeDown',
    ]);
    if (process.env['SSHPOOL_INCIDENTS_LOG']) console.log(describeAll(all));
  }, 150_000);
});
