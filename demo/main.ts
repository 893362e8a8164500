// npm run demo — sshpool under a realistic mixed workload, with its telemetry live.
//
// Starts two SSH servers on 127.0.0.1 (in-process by default; OpenSSH containers with
// SSHPOOL_DEMO_SSHD=1), sets OpenTelemetry up with `sshpool/otel` (Prometheus endpoint,
// plus OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set), runs bursts, slow and failing
// commands and a server restart through one pool, and shows the pool's state every second.
//
// Environment:
//   SSHPOOL_DEMO_DURATION_S          run time in seconds (default 60, at least 5)
//   SSHPOOL_DEMO_PROMETHEUS_PORT     Prometheus endpoint port (default 9464; 0 = any free port)
//   SSHPOOL_DEMO_SSHD=1              OpenSSH in Docker containers instead of in-process servers
//   OTEL_EXPORTER_OTLP_ENDPOINT      e.g. http://127.0.0.1:4318: also send traces and metrics there
import { SSHConnectionPool } from '../src/index.js';
import { setupTelemetry } from '../src/otel/index.js';
import type { TelemetryHandle } from '../src/otel/index.js';
import { EventCounts, renderLine, renderScreen } from './dashboard.js';
import type { DashboardInput } from './dashboard.js';
import { startHosts } from './hosts.js';
import type { DemoHost } from './hosts.js';
import { OutcomeTally, Workload } from './workload.js';
import { freePort } from '../test/support/free-port.js';

const SSHPOOL_METRICS = [
  'ssh_client_connection_count',
  'ssh_client_connection_max',
  'ssh_client_connection_pending_requests',
  'ssh_client_connection_create_time',
  'ssh_client_connection_wait_time',
  'ssh_client_connection_use_time',
  'ssh_client_connection_acquires_total',
  'ssh_client_connection_timeouts_total',
  'ssh_client_connection_closed_total',
  'ssh_client_channel_count',
  'ssh_client_channel_refusals_total',
  'ssh_client_health_check_duration',
  'ssh_client_reconnect_attempts_total',
  'ssh_client_command_duration',
];

function numberFromEnv(name: string, fallback: number, min: number): number {
  const text = process.env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got ${JSON.stringify(text)}`);
  return value;
}


async function main(): Promise<number> {
  const durationMs = numberFromEnv('SSHPOOL_DEMO_DURATION_S', 60, 5) * 1000;
  const requestedPort = numberFromEnv('SSHPOOL_DEMO_PROMETHEUS_PORT', 9464, 0);
  const kind = process.env['SSHPOOL_DEMO_SSHD'] === '1' ? 'openssh' : 'embedded';
  const serverKind = kind === 'openssh' ? 'OpenSSH containers on 127.0.0.1' : 'in-process SSH servers on 127.0.0.1';
  const interactive = process.stdout.isTTY === true;

  let hosts: DemoHost[] = [];
  let telemetry: TelemetryHandle | undefined;
  let pool: SSHConnectionPool | undefined;
  let workload: Workload | undefined;
  let phase = 'starting';
  // Ctrl-C or SIGTERM, at any point: stop the workload and clean up (servers, their temp
  // folders, telemetry) as on a normal end. A second signal exits at once; the embedded
  // servers still remove their folders on the way out.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(exitCodeOf(signal));
    interrupted = signal;
    phase = `stopping (${signal})`;
    workload?.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    process.stdout.write(`starting ${serverKind}…\n`);
    // The batch server allows 3 channels per connection while the pool multiplexes 4: it
    // refuses channels, and the pool learns the lower limit per connection.
    hosts = await startHosts(kind, [{ label: 'web' }, { label: 'batch', maxChannels: 3 }]);
    if (interrupted) return exitCodeOf(interrupted);
    const port = requestedPort === 0 ? await freePort() : requestedPort;
    try {
      telemetry = await setupTelemetry({
        serviceName: 'sshpool-demo',
        serviceVersion: '0.1.0',
        prometheus: { port, host: '127.0.0.1' },
        metricExportIntervalMs: 5_000,
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\nSet SSHPOOL_DEMO_PROMETHEUS_PORT to a free port (0 picks one).`, { cause: error });
    }

    pool = new SSHConnectionPool({
      maxConnections: 3,
      maxChannelsPerConnection: 4,
      warmUpConnections: 1,
      acquireTimeout: 1_500,
      connectionTimeout: 2_000,
      idleTimeout: 5_000,
      maxRetries: 1,
      healthCheck: { enabled: true, interval: 2_000, timeout: 1_000 },
      reconnect: { enabled: true, initialDelay: 250, maxDelay: 2_000 },
    });
    const [webHost, batchHost] = hosts as [DemoHost, DemoHost];
    const web = webHost.target;
    // The burst host gets a smaller pool, so bursts queue and the heavy ones time out.
    const batch = { ...batchHost.target, poolConfig: { maxConnections: 2 } };
    const rows = [webHost, batchHost].map(({ label, target }) => ({ label, poolName: `${target.username}@${target.host}:${target.port ?? 22}` }));

    if (interrupted) return exitCodeOf(interrupted);
    const tally = new OutcomeTally();
    const events = new EventCounts(pool);
    const startedAt = Date.now();
    const view = (): DashboardInput => ({
      pool: pool!, rows, tally, events, serverKind, durationMs, startedAt, phase,
      metricsUrl: telemetry?.prometheusUrl, otlpUrl: telemetry?.otlpTracesUrl,
    });
    const draw = (): void => {
      if (interactive) process.stdout.write(`\x1b[H\x1b[J${renderScreen(view())}\n\n(Ctrl-C ends the run early)\n`);
      else process.stdout.write(`${renderLine(view())}\n`);
    };

    workload = new Workload({ pool, web, batch, restartHost: webHost, durationMs, tally, onPhase: (text) => (phase = text) });
    if (interactive) process.stdout.write('\x1b[2J');
    draw();
    const ticker = setInterval(draw, 1_000);
    try {
      await workload.run();
    } finally {
      clearInterval(ticker);
    }

    phase = 'finished';
    // What a Prometheus scrape sees, before the pool closes and stops reporting its gauges.
    const scrape = telemetry.prometheusUrl ? await (await fetch(telemetry.prometheusUrl)).text() : '';
    const present = SSHPOOL_METRICS.filter((name) => new RegExp(`^${name}(_bucket|_count|_sum)?\\{`, 'm').test(scrape));

    const final = renderScreen(view());
    await pool.closeAll();
    await telemetry.shutdown();
    await Promise.all(hosts.map((host) => host.stop()));
    hosts = [];

    process.stdout.write(`${interactive ? '\x1b[H\x1b[J' : '\n'}${final}\n\n`);
    process.stdout.write(`Prometheus scrape at the end: ${present.length} of ${SSHPOOL_METRICS.length} sshpool metrics present\n`);
    const missing = SSHPOOL_METRICS.filter((name) => !present.includes(name));
    if (missing.length > 0) process.stdout.write(`  not recorded in this run: ${missing.join(', ')}\n`);
    process.stdout.write(
      'Pool efficiency in PromQL:\n' +
        '  sum(rate(ssh_client_connection_acquires_total{ssh_pool_acquire_outcome="reused"}[5m]))\n' +
        '    / sum(rate(ssh_client_connection_acquires_total{ssh_pool_acquire_outcome=~"reused|created"}[5m]))\n',
    );
    process.stdout.write('Closed the pool, flushed telemetry, stopped the servers.\n');

    if (interrupted) return exitCodeOf(interrupted);
    const problems: string[] = [];
    if (tally.ok === 0) problems.push('no command succeeded');
    if (!present.includes('ssh_client_connection_acquires_total')) problems.push('the Prometheus endpoint did not serve the acquire counter');
    for (const problem of problems) process.stderr.write(`demo failed: ${problem}\n`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    await pool?.closeAll().catch(() => {});
    await telemetry?.shutdown().catch(() => {});
    await Promise.allSettled(hosts.map((host) => host.stop()));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The shell's convention for a run ended by a signal: 128 + its number. */
function exitCodeOf(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything was closed: the process ends by itself. If something still holds it open, say so.
    setTimeout(() => {
      process.stderr.write('demo: the process did not exit 10 s after shutdown; something kept it alive\n');
      process.exit(1);
    }, 10_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
