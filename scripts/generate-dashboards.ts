// Generates the Grafana dashboards of dashboards/ with Grafana's own builder library
// (@grafana/grafana-foundation-sdk), so that every panel is typed by the SDK and every query
// is reviewed as PromQL and run by a test against a real Prometheus
// (test/integration/observability-assets.test.ts).
//
//   npm run dashboards                               # rewrites dashboards/*.json and the rules' runbook URLs
//   npx tsx scripts/generate-dashboards.ts --check   # exits 1 if a committed file differs
//   npm run dashboards -- --runbook-base-url https://docs.example.com/sshpool/README.md
//                                                    # runbook links to where you host the README
//
// The alert rules (dashboards/alerts/sshpool.rules.yml) are written by hand; the generator owns
// their `runbook_url` annotations only, so that every page links to an absolute URL:
// `<base URL>#<alert name in lower case>`, the README's "Runbooks" heading of that alert.
//
// The output is deterministic: no timestamps, no random ids.
//
// Queries work with both Prometheus naming schemes (README, "Prometheus names"): the JS
// exporter of `sshpool/otel` adds no unit suffix, the OpenTelemetry Collector adds `_seconds`
// to histograms. Histograms are therefore selected by a name regex.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'dashboards');
/** The hand-written alert rules whose runbook URLs the generator writes. */
export const RULES_PATH = join(DASHBOARD_DIR, 'alerts', 'sshpool.rules.yml');
/**
 * Where the committed rules' runbooks live: the README as the npm registry shows it (the
 * package ships it). Regenerate with `--runbook-base-url` to point pages at your own copy.
 */
export const DEFAULT_RUNBOOK_BASE_URL = 'https://www.npmjs.com/package/sshpool';

/** Data source uids of dashboards/provisioning/datasources.yml. */
export const JAEGER_DATASOURCE_UID = 'jaeger';
const PROMETHEUS = { type: 'prometheus', uid: '${datasource}' };

/** Matchers of the `service` (Prometheus job), `instance` and `ssh_pool_name` variables. */
const SEL = 'job=~"$service", instance=~"$instance", ssh_pool_name=~"$ssh_pool_name"';
const RATE = '$__rate_interval';
/** The identity every drill-down series keeps: the alert rules aggregate the same way. */
const KEY = 'job, instance, ssh_pool_name';

/**
 * Pool keys down, each counted once across instances, jobs and host groups; 0 while sshpool
 * metrics arrive and none is down, and no data when none arrive (a blank stat, not a green 0).
 */
const HOSTS_DOWN = [
  'count(',
  `  group by (ssh_pool_name) (ssh_client_host_state{${SEL}} == 0)`,
  'or',
  `  group by (ssh_pool_name) (ssh_client_reconnect_given_up{${SEL}} == 1)`,
  ')',
  'or',
  `0 * count(ssh_client_connection_max{${SEL}})`,
].join('\n');

/**
 * The service name the telemetry reports (its resource's `service.name`), as a label for data
 * links to Jaeger, joined onto `expr` by `job` and `instance`. Scraped directly, the JS exporter
 * puts it on `target_info` (`service_name`) while `job` is the scrape job's name; behind the
 * Collector, `job` is `service.name` (`service.namespace/service.name` with a namespace) and
 * `target_info` has no `service_name`, so the name is taken from `job` (namespace dropped).
 */
export function withServiceName(expr: string): string {
  const scope = 'job=~"$service", instance=~"$instance"';
  const reported = `group by (job, instance, service_name) (target_info{${scope}, service_name!=""})`;
  const fromJob = `label_replace(group by (job, instance) (ssh_client_connection_max{${scope}}), "service_name", "$1", "job", "(?:.*/)?(.*)")`;
  return `${expr}\n* on (job, instance) group_left (service_name) (\n  ${reported}\n  or on (job, instance)\n  ${fromJob}\n)`;
}

/** A histogram series selector that matches the JS exporter's and the Collector's names. */
function histogram(metric: string, suffix: 'bucket' | 'count' | 'sum', extra = ''): string {
  return `{${[`__name__=~"${metric}(_seconds)?_${suffix}"`, SEL, extra].filter(Boolean).join(', ')}}`;
}

function quantile(q: number, metric: string, by: string, extra = ''): string {
  return `histogram_quantile(${q}, sum by (le, ${by}) (rate(${histogram(metric, 'bucket', extra)}[${RATE}])))`;
}

const rate = (selector: string, by: string): string => `sum by (${by}) (rate(${selector}[${RATE}]))`;
const acquires = (outcome: string, by = 'ssh_pool_name'): string =>
  rate(`ssh_client_connection_acquires_total{${SEL}, ssh_pool_acquire_outcome=~"${outcome}"}`, by);

export interface PanelQuery {
  /** Dashboard uid. */
  dashboard: string;
  /** Panel title. */
  panel: string;
  refId: string;
  expr: string;
  legendFormat: string;
  /** The test expects this query to return at least one series after its workload. */
  expectData: boolean;
}

type TargetSpec = Omit<PanelQuery, 'dashboard' | 'panel' | 'refId'>;

interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  /** `statetimeline`: a row per series, its value shown as a state named by `states`. */
  kind?: 'timeseries' | 'stat' | 'statetimeline';
  /** State timelines: the name and colour of each value. */
  states?: Record<string, { text: string; color: string }>;
  min?: number;
  max?: number;
  stack?: boolean;
  /** Stat panels: the value from which the background turns red. */
  redFrom?: number;
  /** Span names whose traces a data link opens in Jaeger for the clicked series' pool. */
  traces?: string;
  /** Panel width in grid columns (of 24). @default 8 */
  width?: number;
  targets: TargetSpec[];
}

interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

interface DashboardSpec {
  uid: string;
  file: string;
  title: string;
  description: string;
  /** The pool variable accepts several pools and "All" (overview) or one pool (drill-down). */
  multiPool: boolean;
  rows: RowSpec[];
}

const q = (expr: string, legendFormat: string, expectData = true): TargetSpec => ({ expr, legendFormat, expectData });

// ---- overview -------------------------------------------------------------------------------

/**
 * Bytes per second carried by channels (ssh.client.channel.io), received (stdout, stderr) and
 * transmitted (stdin), by `by`. The JS exporter names the counter `ssh_client_channel_io_total`,
 * the Collector adds the unit: `ssh_client_channel_io_bytes_total`.
 */
function throughputPanel(by: string, legend: string): PanelSpec {
  return {
    title: 'Channel throughput by direction',
    description:
      'Bytes per second carried by session channels (ssh.client.channel.io): receive is output arriving (stdout and stderr, streamed or buffered), transmit is stdin sent. A stream whose consumer is slow shows as a low receive rate: the server waits.',
    unit: 'Bps',
    min: 0,
    width: 24,
    targets: [
      q(
        rate(`{__name__=~"ssh_client_channel_io(_bytes)?_total", ${SEL}}`, `${by}, network_io_direction`),
        `${legend} {{network_io_direction}}`,
      ),
    ],
  };
}

const OVERVIEW: DashboardSpec = {
  uid: 'sshpool-overview',
  file: 'sshpool-overview.json',
  title: 'sshpool: pool overview',
  description:
    'Pooled SSH connections of sshpool: efficiency, errors, saturation, hosts down, acquires, commands, connects, health checks, reconnects and host group members. Generated by scripts/generate-dashboards.ts; do not edit by hand.',
  multiPool: true,
  rows: [
    {
      title: 'At a glance',
      panels: [
        {
          title: 'Pool efficiency',
          description: 'Share of acquires served by an already open connection: reused / (reused + created), all selected pools.',
          unit: 'percentunit',
          kind: 'stat',
          width: 6,
          min: 0,
          max: 1,
          targets: [q(`${acquires('reused', '')}\n/\n${acquires('reused|created', '')}`.replaceAll('sum by ()', 'sum'), 'efficiency')],
        },
        {
          title: 'Command error ratio',
          description: 'Share of commands that failed, any error.type (a remote non-zero exit included).',
          unit: 'percentunit',
          kind: 'stat',
          width: 6,
          min: 0,
          max: 1,
          redFrom: 0.05,
          targets: [
            q(
              `(sum(rate(${histogram('ssh_client_command_duration', 'count', 'error_type!=""')}[${RATE}])) or vector(0))\n/\nsum(rate(${histogram('ssh_client_command_duration', 'count')}[${RATE}]))`,
              'error ratio',
            ),
          ],
        },
        {
          title: 'Channel saturation',
          description: 'Channels in use out of the channel capacity (ssh.client.channel.max) of the selected pools. Near 1, commands wait.',
          unit: 'percentunit',
          kind: 'stat',
          width: 6,
          min: 0,
          max: 1,
          redFrom: 0.9,
          targets: [q(`sum(ssh_client_channel_count{${SEL}})\n/\nsum(ssh_client_channel_max{${SEL}})`, 'saturation')],
        },
        {
          title: 'Hosts down',
          description:
            'Pool keys whose host is unreachable: host group members marked down by their circuit breaker (ssh.client.host.state 0, probing included) and pool keys whose background reconnect used up its attempts (ssh.client.reconnect.given_up). Each pool key counts once, however many instances and groups report it. No data (not 0) when no sshpool metrics arrive.',
          unit: 'short',
          kind: 'stat',
          width: 6,
          min: 0,
          redFrom: 1,
          targets: [q(HOSTS_DOWN, 'hosts down')],
        },
      ],
    },
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
          description: "Open connections by state (ssh.client.connection.count) against the pool key's maxConnections.",
          unit: 'short',
          min: 0,
          targets: [
            q(`sum by (ssh_pool_name, ssh_connection_state) (ssh_client_connection_count{${SEL}})`, '{{ssh_pool_name}} {{ssh_connection_state}}'),
            q(`sum by (ssh_pool_name) (ssh_client_connection_max{${SEL}})`, '{{ssh_pool_name}} max'),
          ],
        },
        {
          title: 'Channel saturation (in use / capacity)',
          description:
            'Channels in use out of the channel capacity: maxConnections × maxChannelsPerConnection, less what servers refused (ssh.client.channel.max). Near 1, commands start to wait.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          targets: [q(`sum by (ssh_pool_name) (ssh_client_channel_count{${SEL}})\n/\nsum by (ssh_pool_name) (ssh_client_channel_max{${SEL}})`, '{{ssh_pool_name}}')],
        },
        {
          title: 'Pending requests (peak)',
          description:
            'Commands and leases waiting for a channel slot (ssh.client.connection.pending_requests), the highest sample of each interval so that bursts stay visible.',
          unit: 'short',
          min: 0,
          targets: [q(`sum by (ssh_pool_name) (max_over_time(ssh_client_connection_pending_requests{${SEL}}[${RATE}]))`, '{{ssh_pool_name}}')],
        },
        {
          title: 'Open channels vs capacity',
          description: 'Channels open or opening, health probes included (ssh.client.channel.count), against the channel capacity.',
          unit: 'short',
          min: 0,
          targets: [
            q(`sum by (ssh_pool_name) (ssh_client_channel_count{${SEL}})`, '{{ssh_pool_name}}'),
            q(`sum by (ssh_pool_name) (ssh_client_channel_max{${SEL}})`, '{{ssh_pool_name}} capacity'),
          ],
        },
        {
          title: 'Spare channels vs connections',
          description: 'Spare session channels held open so that the next command sends only exec (ssh.client.channel.spare), against open connections: fewer spares than connections means the server closes them (ChannelTimeout) or MaxSessions leaves no room.',
          unit: 'short',
          min: 0,
          targets: [
            q(`sum by (ssh_pool_name) (ssh_client_channel_spare{${SEL}})`, '{{ssh_pool_name}} spares'),
            q(`sum by (ssh_pool_name) (ssh_client_connection_count{${SEL}})`, '{{ssh_pool_name}} connections'),
          ],
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
          targets: [q(rate(`ssh_client_connection_acquires_total{${SEL}}`, 'ssh_pool_name, ssh_pool_acquire_outcome'), '{{ssh_pool_name}} {{ssh_pool_acquire_outcome}}')],
        },
        {
          title: 'Acquire wait time p50 / p99',
          description: 'Time each acquire waited for a slot (ssh.client.connection.wait_time).',
          unit: 's',
          min: 0,
          targets: [
            q(quantile(0.5, 'ssh_client_connection_wait_time', 'ssh_pool_name'), '{{ssh_pool_name}} p50'),
            q(quantile(0.99, 'ssh_client_connection_wait_time', 'ssh_pool_name'), '{{ssh_pool_name}} p99'),
          ],
        },
        {
          title: 'Failing acquires (share)',
          description: 'Share of acquires that timed out or failed: what SshPoolAcquiresFailing escalates on (2 % warning, 20 % critical).',
          unit: 'percentunit',
          min: 0,
          max: 1,
          targets: [q(`${acquires('timeout|error')}\n/\n${acquires('.*')}`, '{{ssh_pool_name}}')],
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
          targets: [q(quantile(0.99, 'ssh_client_command_duration', 'ssh_pool_name'), '{{ssh_pool_name}} p99')],
        },
        {
          title: 'Command errors by error_type',
          description: 'Failed commands per second by error.type.',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(histogram('ssh_client_command_duration', 'count', 'error_type!=""'), 'ssh_pool_name, error_type'), '{{ssh_pool_name}} {{error_type}}')],
        },
        {
          title: 'Command error ratio',
          description: 'Share of commands that failed, any error.type.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          targets: [
            q(
              `(\n  ${rate(histogram('ssh_client_command_duration', 'count', 'error_type!=""'), 'ssh_pool_name')}\nor\n  0 * ${rate(histogram('ssh_client_command_duration', 'count'), 'ssh_pool_name')}\n)\n/\n${rate(histogram('ssh_client_command_duration', 'count'), 'ssh_pool_name')}`,
              '{{ssh_pool_name}}',
            ),
          ],
        },
        {
          title: 'Channel refusals',
          description: 'Channels the server refused to open per second (e.g. OpenSSH MaxSessions lower than maxChannelsPerConnection).',
          unit: 'reqps',
          min: 0,
          targets: [q(rate(`ssh_client_channel_refusals_total{${SEL}}`, 'ssh_pool_name'), '{{ssh_pool_name}}')],
        },
      ],
    },
    {
      title: 'Tunnels',
      panels: [
        {
          title: 'Open tunnelled connections',
          description: 'TCP connections carried by forward(), forwardRemote() and socks() tunnels now, by ssh.tunnel.kind (ssh.client.tunnel.connections). Each is a channel outside MaxSessions on a pooled connection.',
          unit: 'short',
          min: 0,
          stack: true,
          targets: [q(`sum by (ssh_pool_name, ssh_tunnel_kind) (ssh_client_tunnel_connections{${SEL}})`, '{{ssh_pool_name}} {{ssh_tunnel_kind}}')],
        },
        {
          title: 'Tunnel throughput',
          description: 'Bytes per second through tunnel channels (ssh.client.channel.io: direct-tcpip, forwarded-tcpip and their UNIX-socket twins), by network.io.direction: receive is from the server, transmit to it.',
          unit: 'Bps',
          min: 0,
          targets: [
            q(
              rate(`{__name__=~"ssh_client_channel_io(_bytes)?_total", ${SEL}, ssh_channel_type=~"direct-tcpip|forwarded-tcpip|direct-streamlocal@openssh.com|forwarded-streamlocal@openssh.com"}`, 'ssh_pool_name, network_io_direction'),
              '{{ssh_pool_name}} {{network_io_direction}}',
            ),
          ],
        },
      ],
    },
    {
      title: 'Transfers',
      panels: [
        {
          title: 'Transfer throughput',
          description: 'Bytes per second moved over SFTP channels (ssh.client.channel.io with ssh.channel.type sftp), by direction: transmit for uploads and writeFile, receive for downloads and readFile.',
          unit: 'Bps',
          min: 0,
          targets: [q(rate(`{__name__=~"ssh_client_channel_io(_bytes)?_total", ${SEL}, ssh_channel_type="sftp"}`, 'ssh_pool_name, network_io_direction'), '{{ssh_pool_name}} {{network_io_direction}}')],
        },
        {
          title: 'Transfer duration p99 by operation',
          description: 'From call to result, waiting for a slot included (ssh.client.transfer.duration), by ssh.sftp.operation.',
          unit: 's',
          min: 0,
          targets: [q(quantile(0.99, 'ssh_client_transfer_duration', 'ssh_pool_name, ssh_sftp_operation'), '{{ssh_pool_name}} {{ssh_sftp_operation}} p99', false)],
        },
        {
          title: 'Transfer errors by error_type',
          description: 'Failed transfers per second by error.type (remote file missing, permission denied, no SFTP subsystem, write failed, verification mismatch, ...).',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(histogram('ssh_client_transfer_duration', 'count', 'error_type!=""'), 'ssh_pool_name, error_type'), '{{ssh_pool_name}} {{error_type}}', false)],
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
          targets: [q(rate(histogram('ssh_client_connection_create_time', 'count', 'error_type!=""'), 'ssh_pool_name, error_type'), '{{ssh_pool_name}} {{error_type}}')],
        },
        {
          title: 'Connections closed by reason',
          description: 'Connections closed per second by ssh.connection.close_reason: idle, expired, unhealthy, remote, error, shutdown.',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(`ssh_client_connection_closed_total{${SEL}}`, 'ssh_pool_name, ssh_connection_close_reason'), '{{ssh_pool_name}} {{ssh_connection_close_reason}}')],
        },
        {
          title: 'Health checks by outcome',
          description: 'Health probes of idle connections per second by ssh.health_check.outcome.',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(histogram('ssh_client_health_check_duration', 'count'), 'ssh_pool_name, ssh_health_check_outcome'), '{{ssh_pool_name}} {{ssh_health_check_outcome}}')],
        },
        {
          title: 'Reconnect attempts by outcome',
          description: 'Background reconnect attempts per second by ssh.reconnect.outcome.',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(`ssh_client_reconnect_attempts_total{${SEL}}`, 'ssh_pool_name, ssh_reconnect_outcome'), '{{ssh_pool_name}} {{ssh_reconnect_outcome}}')],
        },
      ],
    },
    {
      title: 'Throughput',
      panels: [throughputPanel('ssh_pool_name', '{{ssh_pool_name}}')],
    },
    {
      title: 'Host groups',
      panels: [
        {
          title: 'Host group members',
          description:
            'State of each host group member (ssh.client.host.state): up, or down from the moment its circuit breaker marks it down until a probe reaches it (SshPoolHostDown, SshPoolGroupDown). Down when any selected instance sees it down. Empty without host groups.',
          unit: 'short',
          kind: 'statetimeline',
          width: 24,
          states: { '0': { text: 'down', color: 'red' }, '1': { text: 'up', color: 'green' } },
          targets: [q(`min by (ssh_group_name, ssh_pool_name) (ssh_client_host_state{${SEL}})`, '{{ssh_group_name}} {{ssh_pool_name}}')],
        },
      ],
    },
  ],
};

// ---- host drill-down ------------------------------------------------------------------------

const HOST: DashboardSpec = {
  uid: 'sshpool-host',
  file: 'sshpool-host.json',
  title: 'sshpool: host drill-down',
  description:
    'One pool key (username@host:port) of one service instance: where its commands spend their time, what its connections do, and links from the latency panels to the traces in Jaeger. Generated by scripts/generate-dashboards.ts; do not edit by hand.',
  multiPool: false,
  rows: [
    {
      title: 'Latency (click a series for its traces in Jaeger)',
      panels: [
        {
          title: 'Command duration p50 / p90 / p99',
          description: 'From await to result, waiting included (ssh.client.command.duration). A data link opens the ssh.exec traces of the pool in Jaeger.',
          unit: 's',
          min: 0,
          traces: 'ssh.exec',
          targets: [
            q(withServiceName(quantile(0.5, 'ssh_client_command_duration', KEY)), '{{instance}} p50'),
            q(withServiceName(quantile(0.9, 'ssh_client_command_duration', KEY)), '{{instance}} p90'),
            q(withServiceName(quantile(0.99, 'ssh_client_command_duration', KEY)), '{{instance}} p99'),
          ],
        },
        {
          title: 'Acquire wait time p50 / p99',
          description: 'Time each acquire waited for a channel slot (ssh.client.connection.wait_time). A data link opens the ssh.exec traces of the pool.',
          unit: 's',
          min: 0,
          traces: 'ssh.exec',
          targets: [
            q(withServiceName(quantile(0.5, 'ssh_client_connection_wait_time', KEY)), '{{instance}} p50'),
            q(withServiceName(quantile(0.99, 'ssh_client_connection_wait_time', KEY)), '{{instance}} p99'),
          ],
        },
        {
          title: 'Connect time p50 / p99',
          description: 'Successful connects: TCP, key exchange, host-key check, authentication (ssh.client.connection.create_time). A data link opens the ssh.connect traces.',
          unit: 's',
          min: 0,
          traces: 'ssh.connect',
          targets: [
            q(withServiceName(quantile(0.5, 'ssh_client_connection_create_time', KEY, 'error_type=""')), '{{instance}} p50'),
            q(withServiceName(quantile(0.99, 'ssh_client_connection_create_time', KEY, 'error_type=""')), '{{instance}} p99'),
          ],
        },
      ],
    },
    {
      title: 'Capacity',
      panels: [
        {
          title: 'Channels in use vs capacity',
          description: 'Channels open or opening (ssh.client.channel.count) against the channel capacity (ssh.client.channel.max).',
          unit: 'short',
          min: 0,
          targets: [
            q(`sum by (${KEY}) (ssh_client_channel_count{${SEL}})`, '{{instance}} in use'),
            q(`sum by (${KEY}) (ssh_client_channel_max{${SEL}})`, '{{instance}} capacity'),
          ],
        },
        {
          title: 'Connections by state vs max',
          description: 'Open connections, used and idle (ssh.client.connection.count), against maxConnections.',
          unit: 'short',
          min: 0,
          stack: false,
          targets: [
            q(`sum by (${KEY}, ssh_connection_state) (ssh_client_connection_count{${SEL}})`, '{{instance}} {{ssh_connection_state}}'),
            q(`sum by (${KEY}) (ssh_client_connection_max{${SEL}})`, '{{instance}} max'),
          ],
        },
        {
          title: 'Pending requests (peak)',
          description: 'Commands and leases waiting for a slot, the highest sample of each interval.',
          unit: 'short',
          min: 0,
          targets: [q(`sum by (${KEY}) (max_over_time(ssh_client_connection_pending_requests{${SEL}}[${RATE}]))`, '{{instance}}')],
        },
      ],
    },
    {
      title: 'Outcomes',
      panels: [
        {
          title: 'Acquires by outcome',
          description: 'Acquires per second by ssh.pool.acquire.outcome.',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(`ssh_client_connection_acquires_total{${SEL}}`, `${KEY}, ssh_pool_acquire_outcome`), '{{instance}} {{ssh_pool_acquire_outcome}}')],
        },
        {
          title: 'Command errors by error_type',
          description: 'Failed commands per second by error.type.',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(histogram('ssh_client_command_duration', 'count', 'error_type!=""'), `${KEY}, error_type`), '{{instance}} {{error_type}}')],
        },
        {
          title: 'Connect failures by error_type',
          description: 'Failed connect attempts per second by error.type.',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(histogram('ssh_client_connection_create_time', 'count', 'error_type!=""'), `${KEY}, error_type`), '{{instance}} {{error_type}}')],
        },
        {
          title: 'Connections closed by reason',
          description: 'Connections closed per second by ssh.connection.close_reason.',
          unit: 'reqps',
          min: 0,
          stack: true,
          targets: [q(rate(`ssh_client_connection_closed_total{${SEL}}`, `${KEY}, ssh_connection_close_reason`), '{{instance}} {{ssh_connection_close_reason}}')],
        },
        {
          title: 'Reconnects by outcome, and given up',
          description: 'Background reconnect attempts per second by outcome, and 1 while reconnect has given up (ssh.client.reconnect.given_up).',
          unit: 'short',
          min: 0,
          targets: [
            q(rate(`ssh_client_reconnect_attempts_total{${SEL}}`, `${KEY}, ssh_reconnect_outcome`), '{{instance}} {{ssh_reconnect_outcome}}/s'),
            q(`max by (${KEY}) (ssh_client_reconnect_given_up{${SEL}})`, '{{instance}} given up'),
          ],
        },
        {
          title: 'Health checks and refusals',
          description: 'Health probes per second by outcome, and channels the server refused per second.',
          unit: 'reqps',
          min: 0,
          targets: [
            q(rate(histogram('ssh_client_health_check_duration', 'count'), `${KEY}, ssh_health_check_outcome`), '{{instance}} {{ssh_health_check_outcome}}'),
            q(rate(`ssh_client_channel_refusals_total{${SEL}}`, KEY), '{{instance}} refused'),
          ],
        },
      ],
    },
    {
      title: 'Throughput',
      panels: [throughputPanel(KEY, '{{instance}}')],
    },
  ],
};

export const DASHBOARDS: readonly DashboardSpec[] = [OVERVIEW, HOST];

// ---- building -------------------------------------------------------------------------------

const refId = (i: number): string => String.fromCharCode(65 + i);

/**
 * A Grafana Explore URL that searches the Jaeger data source for `operation` spans of the
 * clicked series' pool, in the dashboard's time range. The JSON is percent-encoded around the
 * Grafana variables, which Grafana substitutes (and encodes, `:percentencode`) when clicked.
 */
export function jaegerSearchUrl(operation: string): string {
  const pane = {
    datasource: JAEGER_DATASOURCE_UID,
    queries: [
      {
        refId: 'A',
        datasource: { type: 'jaeger', uid: JAEGER_DATASOURCE_UID },
        queryType: 'search',
        service: '__SERVICE__',
        operation,
        tags: 'ssh.pool.name="__POOL__"',
      },
    ],
    range: { from: '__FROM__', to: '__TO__' },
  };
  const variables: Record<string, string> = {
    SERVICE: '${__field.labels.service_name:percentencode}',
    POOL: '${__field.labels.ssh_pool_name:percentencode}',
    FROM: '${__from}',
    TO: '${__to}',
  };
  const encoded = JSON.stringify({ a: pane })
    .split(/__(SERVICE|POOL|FROM|TO)__/)
    .map((part, i) => (i % 2 === 1 ? variables[part] : encodeURIComponent(part)))
    .join('');
  return `/explore?schemaVersion=1&panes=${encoded}`;
}

function thresholds(redFrom: number | undefined): dashboard.ThresholdsConfigBuilder {
  const steps: dashboard.Threshold[] = [{ value: null, color: 'green' }];
  if (redFrom !== undefined) steps.push({ value: redFrom, color: 'red' });
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);
}

function targets(spec: PanelSpec): cog.Builder<cog.Dataquery>[] {
  return spec.targets.map((target, i) => {
    const query = new DataqueryBuilder().datasource(PROMETHEUS).refId(refId(i)).expr(target.expr).legendFormat(target.legendFormat);
    return spec.kind === 'stat' ? query.instant() : query.range();
  });
}

function valueMappings(states: PanelSpec['states']): dashboard.ValueMapping[] {
  if (!states) return [];
  const options: Record<string, dashboard.ValueMappingResult> = {};
  Object.entries(states).forEach(([value, { text, color }], index) => (options[value] = { text, color, index }));
  return [{ type: dashboard.MappingType.ValueToText, options }];
}

function panel(spec: PanelSpec, id: number): cog.Builder<dashboard.Panel> {
  if (spec.kind === 'statetimeline') {
    return new StateTimelinePanelBuilder()
      .id(id)
      .title(spec.title)
      .description(spec.description)
      .datasource(PROMETHEUS)
      .unit(spec.unit)
      .height(8)
      .span(spec.width ?? 8)
      .mappings(valueMappings(spec.states))
      .showValue(common.VisibilityMode.Auto)
      .rowHeight(0.9)
      .mergeValues(true)
      .fillOpacity(70)
      .lineWidth(0)
      .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true))
      .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Single).sort(common.SortOrder.None))
      .targets(targets(spec));
  }
  if (spec.kind === 'stat') {
    const stat = new StatPanelBuilder()
      .id(id)
      .title(spec.title)
      .description(spec.description)
      .datasource(PROMETHEUS)
      .unit(spec.unit)
      .height(5)
      .span(spec.width ?? 8)
      .colorMode(common.BigValueColorMode.Background)
      .graphMode(common.BigValueGraphMode.None)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
      .thresholds(thresholds(spec.redFrom))
      .targets(targets(spec));
    if (spec.min !== undefined) stat.min(spec.min);
    if (spec.max !== undefined) stat.max(spec.max);
    return stat;
  }
  const series = new TimeseriesPanelBuilder()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS)
    .unit(spec.unit)
    .height(8)
    .span(spec.width ?? 8)
    .lineWidth(1)
    .fillOpacity(spec.stack ? 30 : 10)
    .showPoints(common.VisibilityMode.Never)
    .stacking(new common.StackingConfigBuilder().mode(spec.stack ? common.StackingMode.Normal : common.StackingMode.None))
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .targets(targets(spec));
  if (spec.min !== undefined) series.min(spec.min);
  if (spec.max !== undefined) series.max(spec.max);
  if (spec.traces) {
    series.dataLinks([
      new dashboard.DashboardLinkBuilder(`Traces: ${spec.traces} of \${__field.labels.ssh_pool_name} in Jaeger`)
        .type(dashboard.DashboardLinkType.Link)
        .url(jaegerSearchUrl(spec.traces))
        .targetBlank(true),
    ]);
  }
  return series;
}

function variable(name: string, label: string, query: string, multi: boolean): dashboard.QueryVariableBuilder {
  const builder = new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(PROMETHEUS)
    .query({ query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(multi)
    .includeAll(multi);
  return multi ? builder.allValue('.*') : builder;
}

/** One dashboard as the SDK's typed model. */
export function buildDashboard(spec: DashboardSpec): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['sshpool', 'ssh', 'opentelemetry'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(variable('service', 'Service (job)', 'label_values(ssh_client_connection_max, job)', true))
    .withVariable(variable('instance', 'Instance', 'label_values(ssh_client_connection_max{job=~"$service"}, instance)', true))
    .withVariable(
      variable('ssh_pool_name', 'Pool', 'label_values(ssh_client_connection_max{job=~"$service", instance=~"$instance"}, ssh_pool_name)', spec.multiPool),
    )
    .link(
      new dashboard.DashboardLinkBuilder('sshpool dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['sshpool'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
  let id = 1;
  for (const row of spec.rows) {
    builder.withRow(new dashboard.RowBuilder(row.title).id(id++));
    for (const panelSpec of row.panels) builder.withPanel(panel(panelSpec, id++));
  }
  return builder.build();
}

/** Every panel query of every dashboard, in panel order, with variables unsubstituted. */
export function panelQueries(): PanelQuery[] {
  return DASHBOARDS.flatMap((spec) =>
    spec.rows.flatMap((row) =>
      row.panels.flatMap((panelSpec) =>
        panelSpec.targets.map((target, i) => ({ dashboard: spec.uid, panel: panelSpec.title, refId: refId(i), ...target })),
      ),
    ),
  );
}

/** Where a dashboard is committed. */
export const dashboardPath = (spec: DashboardSpec): string => join(DASHBOARD_DIR, spec.file);

/** A committed file's exact content. */
export function renderDashboard(spec: DashboardSpec): string {
  return `${JSON.stringify(buildDashboard(spec), null, 2)}\n`;
}

/** The README anchor of an alert's runbook: its heading, the alert name, in lower case. */
export const runbookAnchor = (alert: string): string => alert.toLowerCase();

/**
 * The rules file with every alert's `runbook_url` set to `<baseUrl>#<anchor>`; everything else,
 * comments included, unchanged. Fails on an alert without a runbook_url line.
 */
export function renderRules(source: string, baseUrl: string): string {
  const url = new URL(baseUrl); // throws on a relative or malformed URL: pages need absolute links
  if (url.hash) throw new Error(`--runbook-base-url must not have a #fragment: ${baseUrl}`);
  let alert: string | undefined;
  let missing: string | undefined;
  const lines = source.split('\n').map((line) => {
    const start = /^\s*- alert: (\S+)\s*$/.exec(line);
    if (start) {
      if (missing) throw new Error(`alert ${missing} has no runbook_url`);
      alert = start[1]!;
      missing = alert;
      return line;
    }
    const runbook = /^(\s*runbook_url: ).*$/.exec(line);
    if (!runbook) return line;
    if (!alert) throw new Error('runbook_url outside an alert');
    missing = undefined;
    return `${runbook[1]}${JSON.stringify(`${baseUrl}#${runbookAnchor(alert)}`)}`;
  });
  if (missing) throw new Error(`alert ${missing} has no runbook_url`);
  return lines.join('\n');
}

function optionValue(args: readonly string[], name: string): string | undefined {
  const index = args.findIndex((arg) => arg === name || arg.startsWith(`${name}=`));
  if (index < 0) return undefined;
  const arg = args[index]!;
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
  if (!value) throw new Error(`${name} needs a value`);
  return value;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (isMain) {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const runbookBaseUrl = optionValue(args, '--runbook-base-url') ?? DEFAULT_RUNBOOK_BASE_URL;
  const outputs: Array<{ path: string; fresh: string; command: string }> = DASHBOARDS.map((spec) => ({
    path: dashboardPath(spec),
    fresh: renderDashboard(spec),
    command: 'npm run dashboards',
  }));
  outputs.push({ path: RULES_PATH, fresh: renderRules(readFileSync(RULES_PATH, 'utf8'), runbookBaseUrl), command: 'npm run dashboards' });
  let stale = 0;
  for (const { path, fresh, command } of outputs) {
    if (check) {
      let committed = '';
      try {
        committed = readFileSync(path, 'utf8');
      } catch {
        // Missing counts as different.
      }
      if (committed !== fresh) {
        console.error(`${path} is out of date: run ${command}`);
        stale++;
      } else {
        console.log(`${path} is up to date`);
      }
    } else {
      writeFileSync(path, fresh);
      console.log(`wrote ${path}`);
    }
  }
  if (!check) console.log(`${panelQueries().length} panel queries; runbooks at ${runbookBaseUrl}`);
  process.exit(stale === 0 ? 0 : 1);
}
