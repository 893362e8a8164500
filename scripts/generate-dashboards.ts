// Generates the Grafana dashboard of dashboards/ from code, so that every panel query is
// reviewed as PromQL and can be run by a test against a real Prometheus
// (test/integration/observability-assets.test.ts).
//
//   npm run dashboards          # rewrites dashboards/sshpool-overview.json
//   npx tsx scripts/generate-dashboards.ts --check   # exits 1 if the committed file differs
//
// The output is deterministic: no timestamps, no random ids, stable key order.
//
// Queries work with both Prometheus naming schemes (README, "Prometheus names"): the JS
// exporter of `sshpool/otel` adds no unit suffix, the OpenTelemetry Collector adds `_seconds`
// to histograms. Histograms are therefore selected by a name regex.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_UID = 'sshpool-overview';
export const DASHBOARD_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'dashboards', 'sshpool-overview.json');

/** Selector matcher of the `$pool` template variable. */
const POOL = 'ssh_pool_name=~"$pool"';
const RATE = '$__rate_interval';

/** A histogram series selector that matches the JS exporter's and the Collector's names. */
function histogram(metric: string, suffix: 'bucket' | 'count' | 'sum', extra = ''): string {
  const matchers = [`__name__=~"${metric}(_seconds)?_${suffix}"`, POOL, extra].filter(Boolean).join(', ');
  return `{${matchers}}`;
}

function quantile(q: number, metric: string, by = 'ssh_pool_name', extra = ''): string {
  return `histogram_quantile(${q}, sum by (le, ${by}) (rate(${histogram(metric, 'bucket', extra)}[${RATE}])))`;
}

export interface PanelQuery {
  /** Panel title. */
  panel: string;
  refId: string;
  expr: string;
  legendFormat: string;
  /** The test expects this query to return at least one series after its workload. */
  expectData: boolean;
}

interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  kind?: 'timeseries' | 'stat';
  min?: number;
  max?: number;
  stack?: boolean;
  targets: Array<Omit<PanelQuery, 'panel' | 'refId'>>;
}

interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

const q = (expr: string, legendFormat: string, expectData = true): Omit<PanelQuery, 'panel' | 'refId'> => ({
  expr,
  legendFormat,
  expectData,
});

const acquires = (outcome: string): string =>
  `sum by (ssh_pool_name) (rate(ssh_client_connection_acquires_total{${POOL}, ssh_pool_acquire_outcome=~"${outcome}"}[${RATE}]))`;

export const ROWS: RowSpec[] = [
  {
    title: 'Pool',
    panels: [
      {
        title: 'Pool efficiency',
        description:
          'Share of acquires served by an already open connection: reused / (reused + created). Low values mean most commands pay for a new SSH handshake.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        targets: [q(`${acquires('reused')}\n/\n${acquires('reused|created')}`, '{{ssh_pool_name}}')],
      },
      {
        title: 'Connections: used / idle vs max',
        description: 'Open connections by state (ssh.client.connection.count) against the pool key\'s maxConnections.',
        unit: 'short',
        min: 0,
        targets: [
          q(`sum by (ssh_pool_name, ssh_connection_state) (ssh_client_connection_count{${POOL}})`, '{{ssh_pool_name}} {{ssh_connection_state}}'),
          q(`sum by (ssh_pool_name) (ssh_client_connection_max{${POOL}})`, '{{ssh_pool_name}} max'),
        ],
      },
      {
        title: 'Pool saturation (used / max)',
        description: 'Connections in use out of maxConnections. Near 1, commands start to wait (see pending requests).',
        unit: 'percentunit',
        min: 0,
        max: 1,
        targets: [
          q(
            `sum by (ssh_pool_name) (ssh_client_connection_count{${POOL}, ssh_connection_state="used"})\n/\nsum by (ssh_pool_name) (ssh_client_connection_max{${POOL}})`,
            '{{ssh_pool_name}}',
          ),
        ],
      },
      {
        title: 'Pending requests',
        description: 'Commands and leases waiting for a channel slot (ssh.client.connection.pending_requests).',
        unit: 'short',
        min: 0,
        targets: [q(`sum by (ssh_pool_name) (ssh_client_connection_pending_requests{${POOL}})`, '{{ssh_pool_name}}')],
      },
      {
        title: 'Open channels',
        description: 'Channels open or opening, health probes included (ssh.client.channel.count).',
        unit: 'short',
        min: 0,
        targets: [q(`sum by (ssh_pool_name) (ssh_client_channel_count{${POOL}})`, '{{ssh_pool_name}}')],
      },
    ],
  },
  {
    title: 'Acquires',
    panels: [
      {
        title: 'Acquires by outcome',
        description: 'Acquires per second by ssh.pool.acquire.outcome: reused, created, timeout, error.',
        unit: 'reqps',
        min: 0,
        stack: true,
        targets: [
          q(
            `sum by (ssh_pool_name, ssh_pool_acquire_outcome) (rate(ssh_client_connection_acquires_total{${POOL}}[${RATE}]))`,
            '{{ssh_pool_name}} {{ssh_pool_acquire_outcome}}',
          ),
        ],
      },
      {
        title: 'Acquire wait time p50 / p99',
        description: 'Time each acquire waited for a slot (ssh.client.connection.wait_time).',
        unit: 's',
        min: 0,
        targets: [
          q(quantile(0.5, 'ssh_client_connection_wait_time'), '{{ssh_pool_name}} p50'),
          q(quantile(0.99, 'ssh_client_connection_wait_time'), '{{ssh_pool_name}} p99'),
        ],
      },
      {
        title: 'Acquire timeouts',
        description: 'Acquires that timed out per second (acquireTimeout, or a command\'s .timeout() while it waited).',
        unit: 'reqps',
        min: 0,
        targets: [q(`sum by (ssh_pool_name) (rate(ssh_client_connection_timeouts_total{${POOL}}[${RATE}]))`, '{{ssh_pool_name}}')],
      },
    ],
  },
  {
    title: 'Commands',
    panels: [
      {
        title: 'Command duration p99',
        description: 'From await to result, waiting included (ssh.client.command.duration), successful and failed commands.',
        unit: 's',
        min: 0,
        targets: [q(quantile(0.99, 'ssh_client_command_duration'), '{{ssh_pool_name}} p99')],
      },
      {
        title: 'Command errors by error_type',
        description: 'Failed commands per second by error.type, and the share of commands that failed.',
        unit: 'reqps',
        min: 0,
        stack: true,
        targets: [
          q(
            `sum by (ssh_pool_name, error_type) (rate(${histogram('ssh_client_command_duration', 'count', 'error_type!=""')}[${RATE}]))`,
            '{{ssh_pool_name}} {{error_type}}',
          ),
        ],
      },
      {
        title: 'Command error ratio',
        description: 'Share of commands that failed, any error.type.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        targets: [
          q(
            `sum by (ssh_pool_name) (rate(${histogram('ssh_client_command_duration', 'count', 'error_type!=""')}[${RATE}]))\n/\nsum by (ssh_pool_name) (rate(${histogram('ssh_client_command_duration', 'count')}[${RATE}]))`,
            '{{ssh_pool_name}}',
          ),
        ],
      },
      {
        title: 'Channel refusals',
        description: 'Channels the server refused to open per second (e.g. OpenSSH MaxSessions lower than maxChannelsPerConnection).',
        unit: 'reqps',
        min: 0,
        targets: [q(`sum by (ssh_pool_name) (rate(ssh_client_channel_refusals_total{${POOL}}[${RATE}]))`, '{{ssh_pool_name}}')],
      },
    ],
  },
  {
    title: 'Connections',
    panels: [
      {
        title: 'Connection create time p50 / p99',
        description: 'Successful connects: TCP, handshake, host-key check and authentication (ssh.client.connection.create_time).',
        unit: 's',
        min: 0,
        targets: [
          q(quantile(0.5, 'ssh_client_connection_create_time', 'ssh_pool_name', 'error_type=""'), '{{ssh_pool_name}} p50'),
          q(quantile(0.99, 'ssh_client_connection_create_time', 'ssh_pool_name', 'error_type=""'), '{{ssh_pool_name}} p99'),
        ],
      },
      {
        title: 'Connection failures by error_type',
        description: 'Failed connect attempts per second by error.type (ERR_SSHPOOL_CONNECT, _AUTH, _HOST_KEY, _CONNECT_TIMEOUT).',
        unit: 'reqps',
        min: 0,
        stack: true,
        targets: [
          q(
            `sum by (ssh_pool_name, error_type) (rate(${histogram('ssh_client_connection_create_time', 'count', 'error_type!=""')}[${RATE}]))`,
            '{{ssh_pool_name}} {{error_type}}',
          ),
        ],
      },
      {
        title: 'Connections closed by reason',
        description: 'Connections closed per second by ssh.connection.close_reason: idle, expired, unhealthy, remote, error, shutdown.',
        unit: 'reqps',
        min: 0,
        stack: true,
        targets: [
          q(
            `sum by (ssh_pool_name, ssh_connection_close_reason) (rate(ssh_client_connection_closed_total{${POOL}}[${RATE}]))`,
            '{{ssh_pool_name}} {{ssh_connection_close_reason}}',
          ),
        ],
      },
      {
        title: 'Health checks by outcome',
        description: 'Health probes of idle connections per second by ssh.health_check.outcome.',
        unit: 'reqps',
        min: 0,
        stack: true,
        targets: [
          q(
            `sum by (ssh_pool_name, ssh_health_check_outcome) (rate(${histogram('ssh_client_health_check_duration', 'count')}[${RATE}]))`,
            '{{ssh_pool_name}} {{ssh_health_check_outcome}}',
          ),
        ],
      },
      {
        title: 'Reconnect attempts by outcome',
        description: 'Background reconnect attempts per second by ssh.reconnect.outcome.',
        unit: 'reqps',
        min: 0,
        stack: true,
        targets: [
          q(
            `sum by (ssh_pool_name, ssh_reconnect_outcome) (rate(ssh_client_reconnect_attempts_total{${POOL}}[${RATE}]))`,
            '{{ssh_pool_name}} {{ssh_reconnect_outcome}}',
          ),
        ],
      },
    ],
  },
];

/** Every panel query of the dashboard, in panel order, with `$pool` and `$__rate_interval` unsubstituted. */
export function panelQueries(): PanelQuery[] {
  return ROWS.flatMap((row) =>
    row.panels.flatMap((panel) => panel.targets.map((target, i) => ({ panel: panel.title, refId: refId(i), ...target }))),
  );
}

const refId = (i: number): string => String.fromCharCode(65 + i);
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function panelJson(panel: PanelSpec, id: number, gridPos: { h: number; w: number; x: number; y: number }): Record<string, unknown> {
  return {
    id,
    type: panel.kind ?? 'timeseries',
    title: panel.title,
    description: panel.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: {
      defaults: {
        unit: panel.unit,
        ...(panel.min === undefined ? {} : { min: panel.min }),
        ...(panel.max === undefined ? {} : { max: panel.max }),
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: panel.stack ? 30 : 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: panel.stack ? 'normal' : 'none', group: 'A' },
        },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: panel.targets.map((target, i) => ({
      datasource: DATASOURCE,
      refId: refId(i),
      expr: target.expr,
      legendFormat: target.legendFormat,
      range: true,
      instant: false,
    })),
  };
}

/** The dashboard as a JSON-serialisable object. */
export function buildDashboard(): Record<string, unknown> {
  const panels: Array<Record<string, unknown>> = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    row.panels.forEach((panel, i) => {
      // Three panels per line, 8 columns wide and 8 high each.
      panels.push(panelJson(panel, id++, { h: 8, w: 8, x: (i % 3) * 8, y: y + Math.floor(i / 3) * 8 }));
    });
    y += Math.ceil(row.panels.length / 3) * 8;
  }
  return {
    uid: DASHBOARD_UID,
    title: 'sshpool: pool overview',
    description: 'Pooled SSH connections of sshpool: efficiency, saturation, acquires, commands, connects, health checks and reconnects. Generated by scripts/generate-dashboards.ts; do not edit by hand.',
    tags: ['sshpool', 'ssh', 'opentelemetry'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: '',
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [],
    annotations: { list: [] },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          regex: '',
          hide: 0,
          refresh: 1,
          includeAll: false,
          multi: false,
          current: {},
          options: [],
        },
        {
          name: 'pool',
          label: 'Pool',
          type: 'query',
          datasource: DATASOURCE,
          definition: 'label_values(ssh_client_connection_max, ssh_pool_name)',
          query: { query: 'label_values(ssh_client_connection_max, ssh_pool_name)', refId: 'PrometheusVariableQueryEditor-VariableQuery' },
          regex: '',
          sort: 1,
          refresh: 2,
          hide: 0,
          includeAll: true,
          allValue: '.*',
          multi: true,
          current: { selected: true, text: ['All'], value: ['$__all'] },
          options: [],
        },
      ],
    },
    panels,
  };
}

/** The committed file's exact content. */
export function renderDashboard(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (isMain) {
  const fresh = renderDashboard();
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(DASHBOARD_PATH, 'utf8');
    } catch {
      // Missing counts as different.
    }
    if (committed !== fresh) {
      console.error(`${DASHBOARD_PATH} is out of date: run npm run dashboards`);
      process.exit(1);
    }
    console.log(`${DASHBOARD_PATH} is up to date`);
  } else {
    writeFileSync(DASHBOARD_PATH, fresh);
    console.log(`wrote ${DASHBOARD_PATH} (${panelQueries().length} queries)`);
  }
}
