// The shipped observability assets (dashboards/, otel-collector/), proven on data: a pool
// works against real OpenSSH servers while a real Prometheus (Debian's /usr/bin/prometheus)
// scrapes its `sshpool/otel` endpoint every 5 s and evaluates the shipped rules.
// - An sshd outage shorter than one scrape interval shows on the connect-failure and
//   closes-by-reason panels, and puts SshPoolConnectionFailures in `pending` (issue 9: before
//   series started at zero, such an outage was invisible).
// - Every panel query of the generated dashboards, and every alert and recording rule
//   expression, returns series.
// - A host group member that cannot be reached shows down on the host group panels and makes
//   SshPoolHostDown pending.
// - When the endpoint goes away, the absent-data rules fire.
// - The rules pass `promtool check rules` and their unit tests; the stack's Prometheus and
//   Alertmanager configs pass `promtool check config` and `amtool check-config`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { $, SSHConnectionPool } from '../../src/index.js';
import type { SSHTarget } from '../../src/index.js';
import { setupTelemetry } from '../../src/otel/index.js';
import type { TelemetryHandle } from '../../src/otel/index.js';
import { checkAlertRouting } from '../../scripts/check-alert-routing.js';
import { DEFAULT_RUNBOOK_BASE_URL, panelQueries } from '../../scripts/generate-dashboards.js';
import { freePort } from '../support/free-port.js';
import { PrometheusServer, requireBinary } from '../support/prometheus-server.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROMTOOL_BINARY = process.env['SSHPOOL_PROMTOOL_BIN'] ?? '/usr/bin/promtool';
const AMTOOL_BINARY = process.env['SSHPOOL_AMTOOL_BIN'] ?? '/usr/bin/amtool';
const RULES = join(REPO_ROOT, 'dashboards', 'alerts', 'sshpool.rules.yml');
const RULE_TESTS = join(REPO_ROOT, 'dashboards', 'alerts', 'sshpool.rules.test.yml');
/** Seconds between scrapes, as in the demo run; the outage must be shorter. */
const SCRAPE_INTERVAL_S = Number(process.env['SSHPOOL_ASSETS_SCRAPE_INTERVAL_S'] ?? 5);
const JOB = 'sshpool-assets';
/**
 * The telemetry rules wait 2 and 5 minutes before firing; here they wait 10 s. Their
 * expressions are the shipped ones; the `for:` durations are covered by the promtool tests.
 */
const SHORTENED_FOR = { SshPoolScrapeDown: '10s', SshPoolMetricsAbsent: '10s' } as Record<string, string>;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

let prometheus: PrometheusServer | undefined;
let telemetry: TelemetryHandle | undefined;
let server: SshdServer;
let limitedServer: SshdServer;
let pool: SSHConnectionPool | undefined;
let workDir: string | undefined;

/** A query as Grafana sends it with "All" selected for every variable. */
const asGrafanaSendsIt = (expr: string): string =>
  expr.replaceAll('$service', '.*').replaceAll('$instance', '.*').replaceAll('$ssh_pool_name', '.*').replaceAll('$__rate_interval', '1m');

/**
 * An alert expression that returns a sample for every series it looks at, whether or not it
 * is over its threshold: top-level comparisons become `bool` comparisons, and `X unless Y`
 * (true when data is missing) becomes X. "Returns series" then means every metric and label
 * the alert relies on exists.
 */
export function withoutThresholds(expr: string): string {
  let depth = 0;
  let quoted = false;
  let out = '';
  const unless = expr.search(/\bunless\b/);
  const source = unless >= 0 ? withoutUnmatchedOpenings(expr.slice(0, unless)) : expr;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"' && source[i - 1] !== '\\') quoted = !quoted;
    if (!quoted && (c === '{' || c === '[')) depth++;
    if (!quoted && (c === '}' || c === ']')) depth--;
    const two = source.slice(i, i + 2);
    if (!quoted && depth === 0 && ['==', '>=', '<='].includes(two)) {
      out += `${two} bool`;
      i++;
      continue;
    }
    if (!quoted && depth === 0 && (c === '>' || c === '<') && source[i + 1] !== '=') {
      out += `${c} bool`;
      continue;
    }
    out += c;
  }
  return out;
}

/** `expr` without the opening parentheses that the cut at `unless` left unclosed. */
function withoutUnmatchedOpenings(expr: string): string {
  const open: number[] = [];
  let quoted = false;
  for (let i = 0; i < expr.length; i++) {
    if (expr[i] === '"' && expr[i - 1] !== '\\') quoted = !quoted;
    if (quoted) continue;
    if (expr[i] === '(') open.push(i);
    if (expr[i] === ')') open.pop();
  }
  return [...expr].filter((_, i) => !open.includes(i)).join('');
}

function tool(binary: string, ...args: string[]): { status: number | null; output: string } {
  requireBinary(binary);
  const result = spawnSync(binary, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error ? String(result.error) : ''}` };
}

/** What Prometheus holds for the rules' inputs now, and when each group last evaluated. */
async function ruleDiagnostics(shipped: Array<{ record?: string; expr: string }>): Promise<string> {
  const lines: string[] = [];
  const groups = (await prometheus!.api<{ groups: Array<{ name: string; lastEvaluation: string; evaluationTime: number }> }>('rules', {})).groups;
  for (const group of groups) lines.push(`group ${group.name}: last evaluated ${group.lastEvaluation} (took ${group.evaluationTime} s)`);
  for (const query of ['up', 'ssh_client_connection_max', 'count({__name__=~"ssh_client_command_duration(_seconds)?_count"})']) {
    lines.push(`${query} = ${JSON.stringify(await instant(query))}`);
  }
  for (const rule of shipped.filter((r) => r.record)) lines.push(`${rule.record} (its expression now): ${JSON.stringify(await instant(rule.expr))}`);
  return `now ${new Date().toISOString()}\n${lines.join('\n')}`;
}

async function alertState(name: string): Promise<Array<{ state: string; labels: Record<string, string> }>> {
  const data = await prometheus!.api<{ alerts: Array<{ state: string; labels: Record<string, string> }> }>('alerts', {});
  return data.alerts.filter((a) => a.labels['alertname'] === name);
}

/** Waits for alert `name` in `state`, for the series whose labels include `where`. */
async function waitForAlert(name: string, state: 'pending' | 'firing', timeoutMs: number, where: Record<string, string> = {}): Promise<Array<Record<string, string>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const matching = (await alertState(name)).filter((a) => a.state === state && Object.entries(where).every(([k, v]) => a.labels[k] === v));
    if (matching.length > 0) return matching.map((a) => a.labels);
    if (Date.now() > deadline) throw new Error(`${name} not ${state} within ${timeoutMs} ms: ${JSON.stringify(await alertState(name))}`);
    await sleep(250);
  }
}

async function instant(query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  return (await prometheus!.api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>('query', { query })).result;
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'sshpool-assets-'));
  const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  for (const group of rules.groups) for (const rule of group.rules) if (rule.alert && SHORTENED_FOR[rule.alert]) rule.for = SHORTENED_FOR[rule.alert];
  const rulesCopy = join(workDir, 'sshpool.rules.yml');
  writeFileSync(rulesCopy, stringify(rules));

  const scrapePort = await freePort();
  prometheus = await PrometheusServer.start({ scrapePort, job: JOB, ruleFiles: [rulesCopy], scrapeIntervalSeconds: SCRAPE_INTERVAL_S });
  telemetry = await setupTelemetry({ serviceName: 'sshpool-assets-test', prometheus: { port: scrapePort } });
  [server, limitedServer] = await Promise.all([startSshd(), startSshd({ config: { MaxSessions: 1 } })]);
  pool = new SSHConnectionPool({
    healthCheck: { enabled: true, interval: 300, timeout: 5_000 },
    reconnect: { enabled: true, initialDelay: 100, maxDelay: 500, maxRetries: 20 },
  });
}, 120_000);

afterAll(async () => {
  await pool?.closeAll();
  await telemetry?.shutdown();
  await prometheus?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('alert rules and stack configs', () => {
  it('the alert rules pass promtool check rules and their unit tests', () => {
    const check = tool(PROMTOOL_BINARY, 'check', 'rules', RULES);
    expect(check.status, check.output).toBe(0);
    const unit = tool(PROMTOOL_BINARY, 'test', 'rules', RULE_TESTS);
    expect(unit.status, unit.output).toBe(0);
  });

  it("the stack's Prometheus and Alertmanager configs are valid", () => {
    const prom = tool(PROMTOOL_BINARY, 'check', 'config', '--syntax-only', join(REPO_ROOT, 'otel-collector', 'prometheus.yml'));
    expect(prom.status, prom.output).toBe(0);
    const am = tool(AMTOOL_BINARY, 'check-config', join(REPO_ROOT, 'otel-collector', 'alertmanager.yml'));
    expect(am.status, am.output).toBe(0);
  });

  it('every runbook_url is absolute and points at a README section', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    // GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes.
    const anchors = new Set([...readme.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^\w\- ]/g, '').replaceAll(' ', '-')));
    const rules = (parse(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules).filter((r) => r.alert);
    const missing = rules
      .map((r) => (r as { annotations?: { runbook_url?: string } }).annotations?.runbook_url ?? `${r.alert}: none`)
      .filter((url) => !url.startsWith(`${DEFAULT_RUNBOOK_BASE_URL}#`) || !anchors.has(url.slice(url.indexOf('#') + 1)));
    expect(missing).toEqual([]);
  });

  it('Alertmanager routes every critical alert to the pager and every warning to the ticket queue (amtool config routes test)', () => {
    const lines = checkAlertRouting(AMTOOL_BINARY);
    expect(lines.filter((line) => !line.includes(': ok ('))).toEqual([]);
    expect(lines.length).toBeGreaterThan(10);
  });
});

describe('the dashboards and alerts on data from OpenSSH, scraped every 5 s', () => {
  it('an sshd outage shorter than a scrape interval shows on the panels and makes the connect-failure alert pending; every query returns series; when the endpoint goes away SshPoolScrapeDown fires, alone', async () => {
    const p = pool!;
    const targetFor = (sshd: SshdServer, extra: Partial<SSHTarget> = {}): SSHTarget => sshdTarget(sshd, p, extra);

    // A failed command and an acquire timeout on a pool key of one slot with a warm connection.
    const narrow = targetFor(server, {
      poolConfig: { maxConnections: 1, maxChannelsPerConnection: 1, acquireTimeout: 1_000, warmUpConnections: 1, healthCheck: { enabled: false } },
    });
    const ssh = $.ssh(narrow);
    await p.warmUp(narrow, 1);
    await ssh`echo reused`;
    await expect(ssh`exit 3`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_COMMAND_FAILED' });
    const lease = await p.getConnection(narrow);
    await expect(ssh`true`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_ACQUIRE_TIMEOUT' });
    lease.release();

    // A rejected credential: a failed connect with ERR_SSHPOOL_AUTH.
    await expect($.ssh(targetFor(server, { privateKey: undefined, password: 'wrong-password' }))`true`).rejects.toMatchObject({ code: 'ERR_SSHPOOL_AUTH' });

    // MaxSessions 1 against 4 channels per connection: refusals.
    const refusing = $.ssh(targetFor(limitedServer, { poolConfig: { maxConnections: 1, maxChannelsPerConnection: 4 } }));
    await Promise.all(Array.from({ length: 4 }, (_, i) => refusing`sleep 0.2; echo ${i}`));

    // A host group whose first member has nothing listening: its circuit breaker marks it down
    // and the command runs on the second. The gauge holds the group weakly: `group` is used
    // again below so that it stays reported.
    const { host: liveHost, port: livePort, ...credential } = targetFor(limitedServer);
    const group = $.ssh({
      ...credential,
      hosts: [{ host: liveHost, port: await freePort() }, { host: liveHost, port: livePort }],
      strategy: 'failover',
      name: 'assets-group',
      poolConfig: { maxRetries: 0 },
    });
    expect((await group`echo grouped`).host).toBe(`${liveHost}:${livePort}`);
    const [deadMember, liveMember] = group.members();
    expect(deadMember!.state).not.toBe('up');

    // A steady workload on its own pool key, which sees the outage. No retries: each failed
    // connect is one command's error, as soon as it happens.
    // Its own credential (password) makes it its own pool key: `username@host:port#N`.
    const before = new Set(Object.keys(p.getStats().hosts));
    const steady = $.ssh(
      targetFor(server, { privateKey: undefined, password: server.password, poolConfig: { maxConnections: 2, maxChannelsPerConnection: 2, maxRetries: 0, acquireTimeout: 2_000 } }),
    );
    await steady`echo first`;
    const steadyName = Object.keys(p.getStats().hosts).find((name) => !before.has(name))!;
    let running = true;
    const outcomes = { ok: 0, failed: 0 };
    const loop = (async () => {
      while (running) {
        try {
          await steady`echo tick`;
          outcomes.ok++;
        } catch {
          outcomes.failed++;
          await sleep(20);
        }
      }
    })();
    await sleep(1_500);
    // Two scrapes with the workload running and no failure yet: the failure series are at 0.
    await prometheus!.waitForScrapes();

    // The outage: the server is killed (connections drop with no SSH goodbye) and started
    // again on the same port, in less than one scrape interval.
    const failedBefore = outcomes.failed;
    const downAt = performance.now();
    await server.kill();
    await sleep(500); // commands meet a closed port for a moment
    await server.start();
    const outageMs = performance.now() - downAt;
    await sleep(1_000);
    running = false;
    await loop;
    expect(outageMs).toBeLessThan(SCRAPE_INTERVAL_S * 1_000);
    expect(outcomes.failed - failedBefore, 'commands that failed during the outage').toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(10);
    await prometheus!.waitForScrapes();

    // The connect-failure and closes-by-reason panels see the outage.
    const byPanel = new Map(panelQueries().filter((q) => q.dashboard === 'sshpool-overview').map((q) => [q.panel, q]));
    const failures = await instant(asGrafanaSendsIt(byPanel.get('Connection failures by error_type')!.expr));
    const steadyFailures = failures.filter((s) => s.metric['ssh_pool_name'] === steadyName && Number(s.value[1]) > 0);
    expect(steadyFailures.map((s) => s.metric['error_type']), JSON.stringify(failures)).toContain('ERR_SSHPOOL_CONNECT');
    const closes = await instant(asGrafanaSendsIt(byPanel.get('Connections closed by reason')!.expr));
    const steadyCloses = closes.filter((s) => s.metric['ssh_pool_name'] === steadyName && Number(s.value[1]) > 0);
    expect(steadyCloses.length, JSON.stringify(closes)).toBeGreaterThan(0);

    // The connect-failure alert goes pending for the pool key that saw the outage.
    // (The host group's unreachable member has its own.)
    const pending = await waitForAlert('SshPoolConnectionFailures', 'pending', 20_000, { ssh_pool_name: steadyName });
    expect(pending.map((l) => `${l['ssh_pool_name']} ${l['error_type']} ${l['job']}`)).toContain(`${steadyName} ERR_SSHPOOL_CONNECT ${JOB}`);

    // Every panel query runs; those the workload feeds return series.
    const problems: string[] = [];
    const empty: string[] = [];
    const end = Date.now() / 1000;
    for (const { dashboard, panel, refId, expr, expectData } of panelQueries()) {
      const query = asGrafanaSendsIt(expr);
      try {
        const result = await instant(query);
        await prometheus!.api('query_range', { query, start: String(end - 60), end: String(end), step: String(SCRAPE_INTERVAL_S) });
        if (expectData && result.length === 0) empty.push(`${dashboard} / ${panel} ${refId}: ${query}`);
      } catch (error) {
        problems.push(`${dashboard} / ${panel} ${refId}: ${(error as Error).message}\n  ${query}`);
      }
    }
    expect(problems).toEqual([]);
    expect(empty).toEqual([]);

    // The host group panels and alert see the member that is down.
    const memberStates = await instant(asGrafanaSendsIt(byPanel.get('Host group members')!.expr));
    expect(Object.fromEntries(memberStates.filter((s) => s.metric['ssh_group_name'] === 'assets-group').map((s) => [s.metric['ssh_pool_name'], s.value[1]]))).toEqual({
      [deadMember!.poolName]: '0',
      [liveMember!.poolName]: '1',
    });
    const hostsDown = await instant(asGrafanaSendsIt(byPanel.get('Hosts down')!.expr));
    expect(Number(hostsDown[0]?.value[1]), JSON.stringify(hostsDown)).toBeGreaterThanOrEqual(1);
    const memberDown = await waitForAlert('SshPoolHostDown', 'pending', 20_000);
    expect(memberDown.map((l) => `${l['ssh_group_name']} ${l['ssh_pool_name']} ${l['job']}`)).toEqual([`assets-group ${deadMember!.poolName} ${JOB}`]);
    expect(group.members().map((m) => m.state === 'up')).toEqual([false, true]);

    // Every rule loads and evaluates cleanly; every alert and recording expression returns series.
    const loaded = (await prometheus!.api<{ groups: Array<{ rules: Array<{ name: string; query: string; type: string; health: string; lastError?: string }> }> }>('rules', {})).groups.flatMap((g) => g.rules);
    const shipped = (parse(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);
    expect(loaded).toHaveLength(shipped.length);
    expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    const silentRules = async (): Promise<string[]> => {
      const silent: string[] = [];
      for (const rule of shipped) {
        const query = rule.alert ? withoutThresholds(rule.expr) : (rule.record ?? '');
        if ((await instant(query)).length === 0) silent.push(`${rule.alert ?? rule.record}: ${query}`);
      }
      return silent;
    };
    // A recorded series is what its group's latest evaluation wrote, and groups are evaluated
    // apart from scrapes and from each other: give them two scrape intervals to agree. Once
    // (under a full suite) every sshpool-slo rule was empty at one moment; the details below say
    // what Prometheus had then, should it happen again.
    let silent = await silentRules();
    for (const deadline = Date.now() + 2 * SCRAPE_INTERVAL_S * 1_000; silent.length > 0 && Date.now() < deadline; silent = await silentRules()) await sleep(500);
    expect(silent, silent.length > 0 ? await ruleDiagnostics(shipped) : '').toEqual([]);

    // The endpoint goes away: the scrape fails and every sshpool series goes stale.
    await telemetry!.shutdown();
    telemetry = undefined;
    const down = await waitForAlert('SshPoolScrapeDown', 'firing', 45_000);
    expect(down.map((l) => l['job'])).toEqual([JOB]);
    // Its series are gone too, but a failing scrape is SshPoolScrapeDown's alone: after the
    // same 10 s, SshPoolMetricsAbsent is not even pending (it is the alert for exporters behind
    // a Collector, whose `up` stays 1; the promtool tests cover that case).
    expect(await alertState('SshPoolMetricsAbsent')).toEqual([]);
  }, 120_000);
});
