// A real Alertmanager (Debian's /usr/bin/prometheus-alertmanager) for tests, running a given
// config from a temporary directory without clustering, and a webhook that records every
// notification it sends. Stopped by pid.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerProcess } from './server-process.js';
import { freePort } from './free-port.js';
import { requireBinary } from './prometheus-server.js';

export const ALERTMANAGER_BINARY = process.env['SSHPOOL_ALERTMANAGER_BIN'] ?? '/usr/bin/prometheus-alertmanager';

/** One webhook notification, as Alertmanager sends it (webhook payload version 4). */
export interface Notification {
  /** Path the notification was posted to. */
  readonly path: string;
  /** ms since the webhook started. */
  readonly at: number;
  readonly receiver: string;
  readonly status: 'firing' | 'resolved';
  readonly groupKey: string;
  readonly groupLabels: Record<string, string>;
  readonly alerts: ReadonlyArray<{
    readonly status: 'firing' | 'resolved';
    readonly labels: Record<string, string>;
    readonly annotations: Record<string, string>;
  }>;
}

/** An HTTP endpoint on 127.0.0.1 that keeps every notification posted to it. */
export class RecordingWebhook {
  readonly notifications: Notification[] = [];
  readonly #server: Server;
  readonly #started = performance.now();
  #port = 0;

  private constructor() {
    this.#server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        this.notifications.push({ ...(JSON.parse(body) as Omit<Notification, 'path' | 'at'>), path: request.url ?? '', at: performance.now() - this.#started });
        response.writeHead(200).end();
      });
    });
  }

  static async start(): Promise<RecordingWebhook> {
    const webhook = new RecordingWebhook();
    await new Promise<void>((resolve) => webhook.#server.listen(0, '127.0.0.1', () => resolve()));
    webhook.#port = (webhook.#server.address() as { port: number }).port;
    return webhook;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

export class AlertmanagerServer {
  /** `127.0.0.1:<port>`, for Prometheus' alerting config. */
  readonly address: string;
  readonly #process: ServerProcess;

  private constructor(address: string, child: ChildProcess, workDir: string) {
    this.address = address;
    this.#process = new ServerProcess('alertmanager', child, workDir);
  }

  get log(): string {
    return this.#process.log;
  }

  /** Starts Alertmanager with `config` (YAML text). */
  static async start(config: string): Promise<AlertmanagerServer> {
    requireBinary(ALERTMANAGER_BINARY);
    const workDir = mkdtempSync(join(tmpdir(), 'sshpool-alertmanager-'));
    const configFile = join(workDir, 'alertmanager.yml');
    writeFileSync(configFile, config);
    const port = await freePort();
    const child = spawn(ALERTMANAGER_BINARY, [
      `--config.file=${configFile}`,
      `--storage.path=${join(workDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=', // a single instance: no gossip, no peers to wait for
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new AlertmanagerServer(`127.0.0.1:${port}`, child, workDir);
    await server.#process.waitReady(`http://${server.address}/-/ready`);
    return server;
  }

  /** SIGTERM, then SIGKILL after 10 s; removes the data directory. Idempotent. */
  stop(): Promise<void> {
    return this.#process.stop();
  }
}
