// The committed Grafana dashboards are what the generator builds with Grafana's foundation
// SDK, and every object in them has the shape of the SDK's types: no key the type does not
// know, every key the type requires, enum values from the SDK's enums. The key lists below are
// checked against the SDK's types by the compiler (`satisfies`), so an SDK upgrade that changes
// a type fails the type-check until this validation follows it.
import { readFileSync } from 'node:fs';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import type * as stat from '@grafana/grafana-foundation-sdk/stat';
import type * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { describe, expect, it } from 'vitest';
import {
  DASHBOARDS,
  DEFAULT_RUNBOOK_BASE_URL,
  RULES_PATH,
  buildDashboard,
  dashboardPath,
  jaegerSearchUrl,
  panelQueries,
  renderDashboard,
  renderRules,
} from '../../../scripts/generate-dashboards.js';

/** Every key of T (a data-only view: methods such as cog's variant markers are left out). */
type Keys<T> = { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]-?: true };
type RequiredKeys<T> = { [K in keyof T as {} extends Pick<T, K> ? never : T[K] extends (...args: never[]) => unknown ? never : K]-?: true };

interface Shape {
  readonly name: string;
  readonly keys: Record<string, true>;
  readonly required: Record<string, true>;
}
const shape = <T>(name: string, keys: Keys<T>, required: RequiredKeys<T>): Shape => ({ name, keys, required });

const DASHBOARD = shape<dashboard.Dashboard>(
  'Dashboard',
  {
    id: true, uid: true, title: true, description: true, revision: true, gnetId: true, tags: true, timezone: true, editable: true,
    graphTooltip: true, time: true, timepicker: true, fiscalYearStartMonth: true, liveNow: true, weekStart: true, refresh: true,
    schemaVersion: true, version: true, panels: true, templating: true, annotations: true, links: true, snapshot: true, preload: true,
  },
  { schemaVersion: true, templating: true, annotations: true },
);
const PANEL = shape<dashboard.Panel>(
  'Panel',
  {
    type: true, id: true, pluginVersion: true, targets: true, title: true, description: true, transparent: true, datasource: true,
    gridPos: true, links: true, repeat: true, repeatDirection: true, maxPerRow: true, maxDataPoints: true, transformations: true,
    interval: true, timeFrom: true, timeShift: true, hideTimeOverride: true, timeCompare: true, libraryPanel: true, cacheTimeout: true,
    queryCachingTTL: true, options: true, fieldConfig: true,
  },
  { type: true },
);
const ROW = shape<dashboard.RowPanel>(
  'RowPanel',
  { type: true, collapsed: true, title: true, datasource: true, gridPos: true, id: true, panels: true, repeat: true },
  { type: true, collapsed: true, id: true, panels: true },
);
const GRID_POS = shape<dashboard.GridPos>('GridPos', { h: true, w: true, x: true, y: true, static: true }, { h: true, w: true, x: true, y: true });
const DATASOURCE_REF = shape<common.DataSourceRef>('DataSourceRef', { type: true, uid: true }, {});
const QUERY = shape<prometheus.Dataquery>(
  'prometheus.Dataquery',
  {
    adhocFilters: true, datasource: true, editorMode: true, exemplar: true, expr: true, format: true, groupByKeys: true, hide: true,
    instant: true, intervalFactor: true, intervalMs: true, legendFormat: true, maxDataPoints: true, queryType: true, range: true,
    refId: true, resultAssertions: true, scopes: true, timeRange: true, interval: true,
  },
  { expr: true },
);
const FIELD_CONFIG_SOURCE = shape<dashboard.FieldConfigSource>('FieldConfigSource', { defaults: true, overrides: true }, { defaults: true, overrides: true });
const FIELD_CONFIG = shape<dashboard.FieldConfig>(
  'FieldConfig',
  {
    displayName: true, displayNameFromDS: true, description: true, path: true, writeable: true, filterable: true, unit: true,
    decimals: true, min: true, max: true, mappings: true, thresholds: true, color: true, links: true, actions: true, noValue: true,
    custom: true, fieldMinMax: true,
  },
  {},
);
const LINK = shape<dashboard.DashboardLink>(
  'DashboardLink',
  {
    title: true, type: true, icon: true, tooltip: true, url: true, tags: true, asDropdown: true, placement: true, targetBlank: true,
    includeVars: true, keepTime: true,
  },
  { title: true, type: true, icon: true, tooltip: true, tags: true, asDropdown: true, targetBlank: true, includeVars: true, keepTime: true },
);
const VARIABLE = shape<dashboard.VariableModel>(
  'VariableModel',
  {
    type: true, name: true, label: true, hide: true, skipUrlSync: true, description: true, query: true, datasource: true, current: true,
    multi: true, allowCustomValue: true, options: true, refresh: true, sort: true, includeAll: true, allValue: true, regex: true,
    staticOptions: true, staticOptionsOrder: true, auto: true, auto_min: true, auto_count: true, definition: true,
  },
  { type: true, name: true },
);
const STAT_OPTIONS = shape<stat.Options>(
  'stat.Options',
  {
    graphMode: true, colorMode: true, justifyMode: true, textMode: true, wideLayout: true, showPercentChange: true, reduceOptions: true,
    text: true, percentChangeColorMode: true, orientation: true,
  },
  {
    graphMode: true, colorMode: true, justifyMode: true, textMode: true, wideLayout: true, showPercentChange: true, reduceOptions: true,
    percentChangeColorMode: true, orientation: true,
  },
);
const TIMESERIES_OPTIONS = shape<timeseries.Options>(
  'timeseries.Options',
  { timezone: true, legend: true, tooltip: true, orientation: true },
  { legend: true, tooltip: true },
);
const STATETIMELINE_OPTIONS = shape<statetimeline.Options>(
  'statetimeline.Options',
  { showValue: true, rowHeight: true, mergeValues: true, alignValue: true, legend: true, tooltip: true, timezone: true, perPage: true },
  { showValue: true, rowHeight: true, legend: true, tooltip: true },
);
const OPTIONS_BY_TYPE: Record<string, Shape> = { stat: STAT_OPTIONS, timeseries: TIMESERIES_OPTIONS, 'state-timeline': STATETIMELINE_OPTIONS };

type Json = Record<string, unknown>;

function check(value: unknown, expected: Shape, path: string, problems: string[]): value is Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${path}: expected an object (${expected.name})`);
    return false;
  }
  for (const key of Object.keys(value)) if (!expected.keys[key]) problems.push(`${path}.${key}: not a key of ${expected.name}`);
  for (const key of Object.keys(expected.required)) if (!(key in value)) problems.push(`${path}: ${expected.name} requires ${key}`);
  return true;
}

const enumValues = (e: object): unknown[] => Object.values(e);

function validate(json: unknown): string[] {
  const problems: string[] = [];
  if (!check(json, DASHBOARD, 'dashboard', problems)) return problems;
  const templating = json['templating'] as { list?: unknown[] };
  (templating.list ?? []).forEach((variable, i) => {
    const path = `templating.list[${i}]`;
    if (!check(variable, VARIABLE, path, problems)) return;
    if (!enumValues(dashboard.VariableType).includes(variable['type'])) problems.push(`${path}.type: not a VariableType`);
    if (variable['datasource'] !== undefined) check(variable['datasource'], DATASOURCE_REF, `${path}.datasource`, problems);
  });
  const occupied = new Set<string>();
  ((json['panels'] as unknown[] | undefined) ?? []).forEach((panel, i) => {
    const path = `panels[${i}]`;
    const isRow = (panel as Json)['type'] === 'row';
    if (!check(panel, isRow ? ROW : PANEL, path, problems)) return;
    if (check(panel['gridPos'], GRID_POS, `${path}.gridPos`, problems)) {
      const { x, y, w, h } = panel['gridPos'] as unknown as dashboard.GridPos;
      if (x < 0 || w < 1 || x + w > 24) problems.push(`${path}.gridPos: outside the 24 columns`);
      for (let dx = 0; dx < w; dx++) for (let dy = 0; dy < h; dy++) {
        const cell = `${x + dx},${y + dy}`;
        if (occupied.has(cell)) problems.push(`${path}.gridPos: overlaps another panel at ${cell}`);
        occupied.add(cell);
      }
    }
    if (isRow) return;
    const options = OPTIONS_BY_TYPE[panel['type'] as string];
    if (!options) problems.push(`${path}.type: unexpected ${String(panel['type'])}`);
    check(panel['datasource'], DATASOURCE_REF, `${path}.datasource`, problems);
    if (options) check(panel['options'], options, `${path}.options`, problems);
    if (check(panel['fieldConfig'], FIELD_CONFIG_SOURCE, `${path}.fieldConfig`, problems)) {
      const defaults = panel['fieldConfig']['defaults'];
      if (check(defaults, FIELD_CONFIG, `${path}.fieldConfig.defaults`, problems)) {
        ((defaults['links'] as unknown[] | undefined) ?? []).forEach((link, j) => check(link, LINK, `${path}.fieldConfig.defaults.links[${j}]`, problems));
      }
    }
    const refIds = new Set<string>();
    ((panel['targets'] as unknown[] | undefined) ?? []).forEach((target, j) => {
      if (!check(target, QUERY, `${path}.targets[${j}]`, problems)) return;
      check(target['datasource'], DATASOURCE_REF, `${path}.targets[${j}].datasource`, problems);
      const ref = target['refId'] as string;
      if (!ref || refIds.has(ref)) problems.push(`${path}.targets[${j}]: missing or duplicate refId`);
      refIds.add(ref);
    });
  });
  return problems;
}

describe('generated Grafana dashboards', () => {
  for (const spec of DASHBOARDS) {
    it(`${spec.file} is what the generator produces`, () => {
      expect(readFileSync(dashboardPath(spec), 'utf8')).toBe(renderDashboard(spec));
    });

    it(`${spec.file} has the shape of the foundation SDK's types`, () => {
      const json: unknown = JSON.parse(readFileSync(dashboardPath(spec), 'utf8'));
      expect(validate(json)).toEqual([]);
    });
  }

  it('the validation catches a key no SDK type has and a missing required key', () => {
    const json = JSON.parse(JSON.stringify(buildDashboard(DASHBOARDS[0]!))) as Json;
    (json['panels'] as Json[])[1]!['fieldConfg'] = {};
    delete json['schemaVersion'];
    expect(validate(json)).toEqual(['dashboard: Dashboard requires schemaVersion', 'panels[1].fieldConfg: not a key of Panel']);
  });

  it('every panel query filters by the service, instance and pool variables', () => {
    for (const { dashboard: uid, panel, expr } of panelQueries()) {
      expect(expr, `${uid} / ${panel}`).toContain('job=~"$service", instance=~"$instance", ssh_pool_name=~"$ssh_pool_name"');
    }
  });

  it('the host drill-down has service, instance and a single pool as variables', () => {
    const host = buildDashboard(DASHBOARDS.find((d) => d.uid === 'sshpool-host')!);
    expect(host.templating.list?.map((v) => `${v.name}:${v.type}:${v.multi ? 'multi' : 'single'}`)).toEqual([
      'datasource:datasource:single',
      'service:query:multi',
      'instance:query:multi',
      'ssh_pool_name:query:single',
    ]);
  });

  it('the drill-down latency panels link to the Jaeger traces of the clicked pool', () => {
    const host = buildDashboard(DASHBOARDS.find((d) => d.uid === 'sshpool-host')!);
    const panels = (host.panels ?? []).filter((p): p is dashboard.Panel => p.type !== 'row');
    const linked = panels.filter((p) => (p.fieldConfig?.defaults.links?.length ?? 0) > 0);
    expect(linked.map((p) => p.title)).toEqual(['Command duration p50 / p90 / p99', 'Acquire wait time p50 / p99', 'Connect time p50 / p99']);
    const url = linked[0]!.fieldConfig!.defaults.links![0]!.url!;
    // Grafana substitutes the variables; everything else is already percent-encoded JSON.
    const substituted = url
      .replace('${__field.labels.service_name:percentencode}', 'deployer')
      .replace('${__field.labels.ssh_pool_name:percentencode}', encodeURIComponent('deploy@web-1:22'))
      .replace('${__from}', '1000')
      .replace('${__to}', '2000');
    const panes = JSON.parse(decodeURIComponent(new URL(substituted, 'http://grafana').searchParams.get('panes')!)) as {
      a: { datasource: string; queries: Array<Record<string, unknown>>; range: unknown };
    };
    expect(panes.a.datasource).toBe('jaeger');
    expect(panes.a.queries[0]).toMatchObject({ queryType: 'search', service: 'deployer', operation: 'ssh.exec', tags: 'ssh.pool.name="deploy@web-1:22"' });
    expect(panes.a.range).toEqual({ from: '1000', to: '2000' });
    expect(jaegerSearchUrl('ssh.connect')).toContain('ssh.connect');
  });

  it('the overview opens with stat panels for efficiency, error ratio, saturation and hosts down', () => {
    const overview = buildDashboard(DASHBOARDS.find((d) => d.uid === 'sshpool-overview')!);
    const stats = (overview.panels ?? []).filter((p) => p.type === 'stat').map((p) => p.title);
    expect(stats).toEqual(['Pool efficiency', 'Command error ratio', 'Channel saturation', 'Hosts down']);
  });

  it('the hosts-down stat counts each pool key once across instances, and shows no data (not 0) without metrics', () => {
    const [query] = panelQueries().filter((q) => q.dashboard === 'sshpool-overview' && q.panel === 'Hosts down');
    expect(query!.expr).toMatch(
      /^count\(\n  group by \(ssh_pool_name\) \(ssh_client_host_state\{[^}]*\} == 0\)\nor\n  group by \(ssh_pool_name\) \(ssh_client_reconnect_given_up\{[^}]*\} == 1\)\n\)\nor\n0 \* count\(ssh_client_connection_max\{[^}]*\}\)$/,
    );
    expect(query!.expr).not.toContain('vector(0)');
  });

  it('the data links name the Jaeger service from the service name the telemetry reports, not the scrape job', () => {
    const titles = ['Command duration p50 / p90 / p99', 'Acquire wait time p50 / p99', 'Connect time p50 / p99'];
    const linked = panelQueries().filter((q) => q.dashboard === 'sshpool-host' && titles.includes(q.panel));
    expect(linked.length).toBe(7);
    for (const { expr } of linked) {
      expect(expr).toContain('group_left (service_name)');
      expect(expr).toContain('target_info{job=~"$service", instance=~"$instance", service_name!=""}');
    }
    expect(jaegerSearchUrl('ssh.exec')).toContain('${__field.labels.service_name:percentencode}');
    expect(jaegerSearchUrl('ssh.exec')).not.toContain('labels.job');
  });

  it('the overview shows each host group member as an up or down state over time', () => {
    const overview = buildDashboard(DASHBOARDS.find((d) => d.uid === 'sshpool-overview')!);
    const timeline = (overview.panels ?? []).find((p): p is dashboard.Panel => p.type === 'state-timeline');
    expect(timeline?.title).toBe('Host group members');
    expect(timeline!.fieldConfig!.defaults.mappings).toEqual([
      { type: dashboard.MappingType.ValueToText, options: { '0': { text: 'down', color: 'red', index: 0 }, '1': { text: 'up', color: 'green', index: 1 } } },
    ]);
    const [query] = panelQueries().filter((q) => q.panel === 'Host group members');
    expect(query!.expr).toContain('by (ssh_group_name, ssh_pool_name) (ssh_client_host_state{');
    expect(query!.legendFormat).toBe('{{ssh_group_name}} {{ssh_pool_name}}');
  });
});

describe('runbook URLs of the alert rules', () => {
  const source = readFileSync(RULES_PATH, 'utf8');

  it('the committed rules link every alert to its README runbook at the default base URL, absolute', () => {
    expect(renderRules(source, DEFAULT_RUNBOOK_BASE_URL)).toBe(source);
    const urls = [...source.matchAll(/runbook_url: "([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(10);
    for (const url of urls) expect(url).toMatch(/^https:\/\/[^#]+#sshpool[a-z]+$/);
  });

  it('a base URL option rewrites every runbook_url and nothing else', () => {
    const moved = renderRules(source, 'https://docs.example.com/ops/sshpool.md');
    const changed = moved.split('\n').filter((line, i) => line !== source.split('\n')[i]);
    expect(changed.length).toBe([...source.matchAll(/runbook_url:/g)].length);
    expect(changed.every((line) => /runbook_url: "https:\/\/docs\.example\.com\/ops\/sshpool\.md#sshpool[a-z]+"$/.test(line))).toBe(true);
    expect(moved).toContain('runbook_url: "https://docs.example.com/ops/sshpool.md#sshpoolmetricsabsent"');
  });

  it('refuses a relative base URL, and an alert without a runbook_url', () => {
    expect(() => renderRules(source, 'README.md')).toThrow();
    expect(() => renderRules('      - alert: X\n        expr: up\n      - alert: Y\n', 'https://x.test/r')).toThrow('alert X has no runbook_url');
  });
});
