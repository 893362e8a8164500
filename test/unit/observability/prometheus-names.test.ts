// Every instrument sshpool creates, translated to its Prometheus name by the Collector's rules
// and by the JS exporter's (test/support/prometheus-names.ts says where each rule comes from),
// and every metric every dashboard panel and alert or recording rule selects must exist under
// both names: a query that only one exporter's names satisfy shows nothing, or never fires,
// behind the other.
import { readFileSync } from 'node:fs';
import { DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { panelQueries, RULES_PATH } from '../../../scripts/generate-dashboards.js';
import { GroupTelemetry } from '../../../src/groups/group-telemetry.js';
import { PoolTelemetry } from '../../../src/telemetry/pool-telemetry.js';
import { collectorName, jsExporterName, selectedMetrics, seriesNames } from '../../support/prometheus-names.js';
import type { InstrumentShape } from '../../support/prometheus-names.js';
import { TestMetricReader } from '../../support/test-metric-reader.js';

/** Series that are not sshpool instruments: Prometheus' own, and the exporters' resource. */
const NOT_INSTRUMENTS = new Set(['up', 'ALERTS', 'target_info']);

function shapeOf(metric: MetricData): InstrumentShape {
  const { name, unit } = metric.descriptor;
  switch (metric.dataPointType) {
    case DataPointType.HISTOGRAM:
      return { name, unit, kind: 'histogram' };
    case DataPointType.SUM:
      return { name, unit, kind: metric.isMonotonic ? 'counter' : 'updowncounter' };
    case DataPointType.GAUGE:
      return { name, unit, kind: 'gauge' };
    default:
      throw new Error(`unexpected data point type of ${name}`);
  }
}

/** Every instrument of a pool and of a host group, as an SDK exports them. */
async function instruments(): Promise<InstrumentShape[]> {
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const telemetry = new PoolTelemetry({
    meterProvider,
    observe: () => [{ name: 'u@h:22', maxConnections: 2, activeConnections: 1, idleConnections: 0, pendingRequests: 0, openChannels: 1, maxChannelsPerConnection: 2 }],
  });
  telemetry.registerPool('u@h:22');
  const source = { groupName: 'g', hostStates: () => [{ poolName: 'u@h:22', up: true }] };
  new GroupTelemetry('g', 'failover', () => ({ meterProvider }), source).start();
  const { resourceMetrics } = await reader.collect();
  const shapes = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map(shapeOf);
  await meterProvider.shutdown();
  return shapes;
}

interface Rule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
}

const rules = (parse(readFileSync(RULES_PATH, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
const queries: Array<{ readonly where: string; readonly expr: string }> = [
  ...panelQueries().map((q) => ({ where: `${q.dashboard} / ${q.panel} ${q.refId}`, expr: q.expr })),
  ...rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
];

describe('Prometheus names of every instrument, behind the Collector and the JS exporter', () => {
  it('the translations follow the exporters: units, _total, _ratio, annotations', () => {
    const histogram: InstrumentShape = { name: 'ssh.client.command.duration', unit: 's', kind: 'histogram' };
    expect([collectorName(histogram), jsExporterName(histogram)]).toEqual(['ssh_client_command_duration_seconds', 'ssh_client_command_duration']);
    const counter: InstrumentShape = { name: 'ssh.client.connection.acquires', unit: '{acquire}', kind: 'counter' };
    expect([collectorName(counter), jsExporterName(counter)]).toEqual(['ssh_client_connection_acquires_total', 'ssh_client_connection_acquires_total']);
    const bytes: InstrumentShape = { name: 'ssh.client.channel.io', unit: 'By', kind: 'counter' };
    expect([collectorName(bytes), jsExporterName(bytes)]).toEqual(['ssh_client_channel_io_bytes_total', 'ssh_client_channel_io_total']);
    // A gauge of unit `1` gains `_ratio` behind the Collector: what hid ssh.client.reconnect.given_up.
    const ratio: InstrumentShape = { name: 'ssh.client.reconnect.given_up', unit: '1', kind: 'gauge' };
    expect([collectorName(ratio), jsExporterName(ratio)]).toEqual(['ssh_client_reconnect_given_up_ratio', 'ssh_client_reconnect_given_up']);
    // An up-down counter of unit `1` is a sum, not a gauge, for the Collector: no `_ratio`.
    expect(collectorName({ ...ratio, kind: 'updowncounter' })).toBe('ssh_client_reconnect_given_up');
    expect(collectorName({ name: 'x.duration_seconds', unit: 's', kind: 'histogram' })).toBe('x_duration_seconds');
    expect(collectorName({ name: 'x.rate', unit: '{request}/s', kind: 'gauge' })).toBe('x_rate_per_second');
  });

  it('every instrument has a unit, and the same Prometheus name from both exporters except the seconds of histograms and the bytes of byte counters', async () => {
    const shapes = await instruments();
    expect(shapes.length).toBeGreaterThanOrEqual(17);
    const table = Object.fromEntries(shapes.map((s) => [s.name, `${s.kind} ${s.unit}: ${jsExporterName(s)} | ${collectorName(s)}`]));
    for (const shape of shapes) {
      expect(shape.unit, shape.name).not.toBe('');
      // The Collector appends the unit: `_seconds` to histograms, `_bytes` before a byte counter's `_total`.
      const expected = shape.kind === 'histogram'
        ? `${jsExporterName(shape)}_seconds`
        : shape.unit === 'By' ? jsExporterName(shape).replace(/_total$/, '_bytes_total') : jsExporterName(shape);
      expect(collectorName(shape), table[shape.name]).toBe(expected);
      if (shape.kind === 'histogram') expect(shape.unit, shape.name).toBe('s');
    }
    expect(table['ssh.client.reconnect.given_up']).toBe('gauge {state}: ssh_client_reconnect_given_up | ssh_client_reconnect_given_up');
    expect(table['ssh.client.host.state']).toBe('gauge {state}: ssh_client_host_state | ssh_client_host_state');
    expect(table['ssh.client.channel.io']).toBe('counter By: ssh_client_channel_io_total | ssh_client_channel_io_bytes_total');
  });

  it('every metric that a dashboard panel or a rule selects exists under both exporters\' names', async () => {
    const shapes = await instruments();
    const js = new Set(shapes.flatMap((s) => seriesNames(s, jsExporterName)));
    const collector = new Set(shapes.flatMap((s) => seriesNames(s, collectorName)));
    const problems: string[] = [];
    let checked = 0;
    for (const { where, expr } of queries) {
      const selected = selectedMetrics(expr);
      if (selected.length === 0 && !/^vector\(/.test(expr)) problems.push(`${where}: selects no metric`);
      for (const { kind, value } of selected) {
        if (kind === 'name' && (NOT_INSTRUMENTS.has(value) || recorded.has(value))) continue;
        if (kind === 'name' && value.includes(':')) {
          problems.push(`${where}: ${value} is recorded by no rule`);
          continue;
        }
        checked++;
        const matches = (names: Set<string>): boolean =>
          kind === 'name' ? names.has(value) : [...names].some((name) => new RegExp(`^(?:${value})$`).test(name));
        if (!matches(js)) problems.push(`${where}: ${kind} ${value} matches no series of the JS exporter`);
        if (!matches(collector)) problems.push(`${where}: ${kind} ${value} matches no series behind the Collector`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it('the query check finds a name that only one exporter has', () => {
    expect(selectedMetrics('max by (job) (max_over_time(ssh_client_reconnect_given_up_ratio{job="x"}[5m])) == 1')).toEqual([
      { kind: 'name', value: 'ssh_client_reconnect_given_up_ratio' },
    ]);
    expect(selectedMetrics('rate({__name__=~"a(_seconds)?_count", x="y"}[5m]) and on (job, instance) b').map((m) => m.value)).toEqual([
      'a(_seconds)?_count',
      'b',
    ]);
  });
});
