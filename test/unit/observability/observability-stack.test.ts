// The compose stack of otel-collector/ cannot run here (no image registry), so what can be
// checked without it is checked here: the Collector's processors and extensions, pinned
// images, Jaeger v2, Alertmanager wired to Prometheus, and Grafana provisioning that matches
// the generated dashboards. `amtool check-config` and `promtool check config` run in
// test/integration/observability-assets.test.ts.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARDS, JAEGER_DATASOURCE_UID } from '../../../scripts/generate-dashboards.js';

const STACK = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'otel-collector');
const PROVISIONING = join(STACK, '..', 'dashboards', 'provisioning');
const load = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;

interface Collector {
  extensions: Record<string, unknown>;
  processors: Record<string, unknown>;
  service: { extensions: string[]; pipelines: Record<string, { processors: string[] }> };
}
interface Compose {
  services: Record<string, { image: string; volumes?: string[] }>;
}

describe('Collector and compose stack', () => {
  const collector = load<Collector>(join(STACK, 'collector.yaml'));
  const compose = load<Compose>(join(STACK, 'compose.yaml'));

  it('every Collector pipeline runs memory_limiter first and batch after it', () => {
    expect(collector.processors).toHaveProperty('memory_limiter');
    for (const [name, pipeline] of Object.entries(collector.service.pipelines)) {
      expect(pipeline.processors[0], name).toBe('memory_limiter');
      expect(pipeline.processors.indexOf('batch'), name).toBeGreaterThan(0);
    }
  });

  it('the Collector serves the health_check extension', () => {
    expect(collector.extensions).toHaveProperty('health_check');
    expect(collector.service.extensions).toContain('health_check');
  });

  it('every image is pinned to a version, and Jaeger is v2', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.image, name).toMatch(/:v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$/);
    }
    expect(compose.services['jaeger']?.image).toMatch(/jaegertracing\/jaeger:2\./);
  });

  it('Prometheus sends its alerts to the Alertmanager of the stack, which has a receiver for them', () => {
    const prometheus = load<{ alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> } }>(join(STACK, 'prometheus.yml'));
    expect(prometheus.alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(['alertmanager:9093']);
    expect(compose.services).toHaveProperty('alertmanager');
    const alertmanager = load<{
      route: { receiver: string; routes?: Array<{ receiver: string }> };
      receivers: Array<{ name: string; webhook_configs?: Array<{ url: string }> }>;
    }>(join(STACK, 'alertmanager.yml'));
    // Pages (the default route) and tickets (warnings) both reach the alert-sink webhook.
    const used = [alertmanager.route.receiver, ...(alertmanager.route.routes ?? []).map((r) => r.receiver)];
    expect(used).toEqual(['sshpool-page', 'sshpool-ticket']);
    for (const name of used) {
      const receiver = alertmanager.receivers.find((r) => r.name === name);
      expect(receiver?.webhook_configs?.[0]?.url, name).toMatch(/^http:\/\/alert-sink:8080\/alerts\//);
    }
    expect(compose.services).toHaveProperty('alert-sink');
  });

  it('Grafana gets every generated dashboard and a Jaeger data source with the uid the data links use', () => {
    const mounts = compose.services['grafana']?.volumes ?? [];
    for (const spec of DASHBOARDS) expect(mounts.some((m) => m.startsWith(`../dashboards/${spec.file}:`)), spec.file).toBe(true);
    const datasources = load<{ datasources: Array<{ uid: string; type: string }> }>(join(PROVISIONING, 'datasources.yml'));
    expect(datasources.datasources.find((d) => d.uid === JAEGER_DATASOURCE_UID)?.type).toBe('jaeger');
  });
});
