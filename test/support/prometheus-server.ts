// A real Prometheus (Debian's /usr/bin/prometheus) for tests: scrapes one endpoint (every
// second unless told otherwise) from a temporary directory, answers its HTTP API, and is
// stopped by pid.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServerProcess } from './server-process.js';
import { freePort } from './free-port.js';

export const PROMETHEUS_BINARY = process.env['SSHPOOL_PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';

/** Fails loudly, with the install command, when a binary a test needs is missing. */
export function requireBinary(path: string): void {
  if (!existsSync(path)) {
    throw new Error(
      `${path} not found: this test runs a real Prometheus and promtool. Install them with ` +
        '`apt-get install -y prometheus` (Debian 12 ships 2.42), or set SSHPOOL_PROMETHEUS_BIN / SSHPOOL_PROMTOOL_BIN.',
    );
  }
}

export interface PrometheusOptions {
  /** Port(s) of the metrics endpoint(s) on 127.0.0.1 to scrape, all in one job. */
  readonly scrapePort: number | readonly number[];
  readonly job: string;
  /** Rule files to load. */
  readonly ruleFiles?: readonly string[];
  /** Seconds between scrapes. @default 1 */
  readonly scrapeIntervalSeconds?: number;
  /** Seconds between rule evaluations. @default 1 */
  readonly evaluationIntervalSeconds?: number;
  /** Alertmanagers (`host:port`) to send alerts to, resent every second while they fire. */
  readonly alertmanagers?: readonly string[];
}

interface PromResponse<T> {
  status: string;
  data: T;
  error?: string;
}

export class PrometheusServer {
  readonly url: string;
  readonly #process: ServerProcess;

  private constructor(url: string, child: ChildProcess, workDir: string) {
    this.url = url;
    this.#process = new ServerProcess('prometheus', child, workDir);
  }

  /** The last 20 kB of Prometheus's own output, for failure messages. */
  get log(): string {
    return this.#process.log;
  }

  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    requireBinary(PROMETHEUS_BINARY);
    const workDir = mkdtempSync(join(tmpdir(), 'sshpool-prometheus-'));
    const config = join(workDir, 'prometheus.yml');
    const rules = options.ruleFiles?.length ? ['rule_files:', ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`)] : [];
    const alerting = options.alertmanagers?.length
      ? ['alerting:', '  alertmanagers:', '    - static_configs:', `        - targets: [${options.alertmanagers.map((a) => `'${a}'`).join(', ')}]`]
      : [];
    const targets = [options.scrapePort].flat().map((port) => `'127.0.0.1:${port}'`).join(', ');
    writeFileSync(config, [
      'global:',
      `  scrape_interval: ${options.scrapeIntervalSeconds ?? 1}s`,
      '  scrape_timeout: 1s',
      `  evaluation_interval: ${options.evaluationIntervalSeconds ?? 1}s`,
      ...rules,
      ...alerting,
      'scrape_configs:',
      `  - job_name: ${options.job}`,
      '    static_configs:',
      `      - targets: [${targets}]`,
      '',
    ].join('\n'));
    // The scrape targets may not be listening yet, so the OS could offer one of their ports.
    const scrapePorts = [options.scrapePort].flat();
    let port = await freePort();
    while (scrapePorts.includes(port)) port = await freePort();
    const child = spawn(PROMETHEUS_BINARY, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(workDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      // Firing alerts are resent this often (default 1m), so that a test's Alertmanager has them.
      // Each send is valid for 4 resend delays: at 1 s, an evaluation late by 4 s on a loaded
      // machine let an alert lapse in Alertmanager (resolved, then firing again).
      ...(options.alertmanagers?.length ? ['--rules.alert.resend-delay=3s'] : []),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, workDir);
    await server.#process.waitReady(`${server.url}/-/ready`);
    return server;
  }

  /** A Prometheus HTTP API call; repeated parameters are given as arrays. */
  async api<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) for (const v of [value].flat()) query.append(key, v);
    const response = await fetch(`${this.url}/api/v1/${path}?${query}`);
    const body = (await response.json()) as PromResponse<T>;
    if (body.status !== 'success') throw new Error(`Prometheus ${path} failed: ${body.error ?? response.status}`);
    return body.data;
  }

  /** Waits until Prometheus has scraped the endpoint once more, starting at least 1 s from now. */
  async waitForScrapes(): Promise<void> {
    const since = Date.now();
    for (;;) {
      const data = await this.api<{ activeTargets: Array<{ lastScrape: string }> }>('targets', {});
      const target = data.activeTargets[0];
      if (target && Date.parse(target.lastScrape) > since + 1_000) return;
      if (Date.now() - since > 20_000) throw new Error(`no scrape of the endpoint within 20 s: ${JSON.stringify(target)}\n${this.#process.log}`);
      await sleep(200);
    }
  }

  /** SIGTERM, then SIGKILL after 10 s; removes the data directory. Idempotent. */
  stop(): Promise<void> {
    return this.#process.stop();
  }
}
