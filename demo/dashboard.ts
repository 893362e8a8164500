import type { CloseReason, PoolEventName, SSHConnectionPool } from '../src/index.js';
import type { OutcomeTally } from './workload.js';

/** Counts of the pool's events since the demo started. */
export class EventCounts {
  readonly counts = new Map<PoolEventName, number>();
  readonly closeReasons = new Map<CloseReason, number>();

  constructor(pool: SSHConnectionPool) {
    const names: PoolEventName[] = [
      'connection:created', 'connection:reused', 'connection:failed', 'connection:idle', 'connection:closed',
      'connection:error', 'connection:healthy', 'connection:unhealthy', 'connection:reconnecting',
      'connection:reconnected', 'pool:full',
    ];
    for (const name of names) pool.on(name, () => this.counts.set(name, (this.counts.get(name) ?? 0) + 1));
    pool.on('connection:closed', (_host, reason) => this.closeReasons.set(reason, (this.closeReasons.get(reason) ?? 0) + 1));
  }

  get(name: PoolEventName): number {
    return this.counts.get(name) ?? 0;
  }
}

export interface DashboardInput {
  readonly pool: SSHConnectionPool;
  /** One row per host: a short label and the pool name (`username@host:port`). */
  readonly rows: ReadonlyArray<{ readonly label: string; readonly poolName: string }>;
  readonly tally: OutcomeTally;
  readonly events: EventCounts;
  readonly serverKind: string;
  readonly metricsUrl: string | undefined;
  readonly otlpUrl: string | undefined;
  readonly durationMs: number;
  readonly startedAt: number;
  readonly phase: string;
}

const CODES: ReadonlyArray<readonly [string, string]> = [
  ['ERR_SSHPOOL_COMMAND_FAILED', 'exit≠0'],
  ['ERR_SSHPOOL_COMMAND_TIMEOUT', 'command timeout'],
  ['ERR_SSHPOOL_ACQUIRE_TIMEOUT', 'acquire timeout'],
  ['ERR_SSHPOOL_CONNECTION_LOST', 'connection lost'],
  ['ERR_SSHPOOL_CONNECT', 'connect failed'],
];

const n = (value: number): string => value.toLocaleString('en-US');
const pad = (text: string | number, width: number): string => String(text).padStart(width);

/** The one-screen summary: pool state per host, getMetrics(), outcomes, events. */
export function renderScreen(input: DashboardInput): string {
  const { pool, tally, events } = input;
  const elapsed = Math.min(input.durationMs, Date.now() - input.startedAt) / 1000;
  const stats = pool.getStats();
  const metrics = pool.getMetrics();
  const lines: string[] = [];
  lines.push(`sshpool demo · ${input.serverKind} · ${elapsed.toFixed(0)} s of ${(input.durationMs / 1000).toFixed(0)} s · ${input.phase}`);
  lines.push(`Prometheus  ${input.metricsUrl ?? 'off'}`);
  lines.push(`OTLP        ${input.otlpUrl ?? 'off (set OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 to export traces and metrics)'}`);
  lines.push('');
  lines.push(`${'host  pool name'.padEnd(34)}${pad('active', 7)}${pad('idle', 6)}${pad('total', 7)}${pad('pending', 9)}${pad('channels', 10)}`);
  for (const { label, poolName: name } of input.rows) {
    const counts = stats.hosts[name];
    const row = counts
      ? `${pad(counts.activeConnections, 7)}${pad(counts.idleConnections, 6)}${pad(counts.totalConnections, 7)}${pad(counts.pendingRequests, 9)}${pad(counts.openChannels, 10)}`
      : '   (no pool yet)';
    lines.push(`${`${label.padEnd(6)}${name}`.padEnd(34)}${row}`);
  }
  lines.push(`${'all'.padEnd(34)}${pad(stats.activeConnections, 7)}${pad(stats.idleConnections, 6)}${pad(stats.totalConnections, 7)}${pad(stats.pendingRequests, 9)}${pad(stats.openChannels, 10)}`);
  lines.push('');
  lines.push(
    `getMetrics()  created ${n(metrics.connectionsCreated)} · reused ${n(metrics.connectionsReused)} · failed ${n(metrics.connectionsFailed)}` +
      ` · avg connect ${metrics.averageConnectionTime.toFixed(0)} ms · avg idle ${metrics.averageIdleTime.toFixed(0)} ms` +
      ` · poolEfficiency ${(metrics.poolEfficiency * 100).toFixed(1)} %`,
  );
  const rate = elapsed > 0 ? tally.total / elapsed : 0;
  const known = new Set(CODES.map(([code]) => code));
  const other = [...tally.byCode].filter(([code]) => !known.has(code));
  lines.push(
    `commands      ${n(tally.ok)} ok · ${CODES.map(([code, label]) => `${n(tally.count(code))} ${label}`).join(' · ')}` +
      ` · ${n(other.reduce((sum, [, count]) => sum + count, 0))} other · ${rate.toFixed(1)}/s`,
  );
  if (other.length > 0) lines.push(`              other: ${other.map(([code, count]) => `${code} ${count}`).join(', ')}`);
  const reasons = [...events.closeReasons].map(([reason, count]) => `${reason} ${count}`).join(', ');
  lines.push(
    `events        created ${events.get('connection:created')} · closed ${events.get('connection:closed')}${reasons ? ` (${reasons})` : ''}` +
      ` · failed ${events.get('connection:failed')} · pool:full ${events.get('pool:full')}`,
  );
  lines.push(
    `              healthy ${events.get('connection:healthy')} · unhealthy ${events.get('connection:unhealthy')}` +
      ` · reconnecting ${events.get('connection:reconnecting')} · reconnected ${events.get('connection:reconnected')}`,
  );
  if (tally.lastError) lines.push(`last error    ${truncate(tally.lastError, 110)}`);
  return lines.join('\n');
}

/** A single status line, for logs that are not a terminal. */
export function renderLine(input: DashboardInput): string {
  const stats = input.pool.getStats();
  const metrics = input.pool.getMetrics();
  const elapsed = Math.min(input.durationMs, Date.now() - input.startedAt) / 1000;
  const failed = input.tally.total - input.tally.ok;
  return `[${elapsed.toFixed(0).padStart(3)} s] connections ${stats.activeConnections} used / ${stats.idleConnections} idle, ` +
    `pending ${stats.pendingRequests}, channels ${stats.openChannels} · commands ${input.tally.ok} ok / ${failed} failed · ` +
    `created ${metrics.connectionsCreated}, reused ${metrics.connectionsReused}, efficiency ${(metrics.poolEfficiency * 100).toFixed(1)} % · ${input.phase}`;
}

function truncate(text: string, max: number): string {
  const single = text.replace(/\s+/g, ' ');
  return single.length > max ? `${single.slice(0, max - 1)}…` : single;
}
