// Routes every alert of dashboards/alerts/sshpool.rules.yml through otel-collector/alertmanager.yml
// with `amtool config routes test` and checks that it reaches the receiver its severity calls
// for: critical pages (sshpool-page), warning goes to the ticket queue (sshpool-ticket).
//
//   npx tsx scripts/check-alert-routing.ts     # exits 1 on a mismatch or an unknown severity
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ALERTMANAGER_CONFIG = join(ROOT, 'otel-collector', 'alertmanager.yml');
const RULES = join(ROOT, 'dashboards', 'alerts', 'sshpool.rules.yml');
export const RECEIVER_BY_SEVERITY: Readonly<Record<string, string>> = { critical: 'sshpool-page', warning: 'sshpool-ticket' };

interface Rule {
  alert?: string;
  labels?: Record<string, string>;
}

/** One line per alert and severity: `ok` or what went wrong. */
export function checkAlertRouting(amtool = process.env['SSHPOOL_AMTOOL_BIN'] ?? '/usr/bin/amtool'): string[] {
  const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const rule of rules) {
    if (!rule.alert) continue;
    const severity = rule.labels?.['severity'] ?? '';
    const key = `${rule.alert} ${severity}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const expected = RECEIVER_BY_SEVERITY[severity];
    if (!expected) {
      lines.push(`${key}: no receiver for severity "${severity}"`);
      continue;
    }
    // The labels such an alert carries, with made-up values.
    const labels = [`alertname=${rule.alert}`, `severity=${severity}`, 'job=deployer', 'ssh_pool_name=deploy@web-1:22'];
    const run = spawnSync(amtool, ['config', 'routes', 'test', `--config.file=${ALERTMANAGER_CONFIG}`, `--verify.receivers=${expected}`, ...labels], {
      encoding: 'utf8',
    });
    if (run.error) throw new Error(`${amtool}: ${run.error.message} (Debian: apt-get install prometheus-alertmanager)`);
    lines.push(run.status === 0 ? `${key}: ok (${expected})` : `${key}: routed to ${run.stdout.trim()}, expected ${expected}`);
  }
  return lines;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (isMain) {
  const lines = checkAlertRouting();
  for (const line of lines) console.log(line);
  process.exit(lines.every((line) => line.includes(': ok (')) ? 0 : 1);
}
