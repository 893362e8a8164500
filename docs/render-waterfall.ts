// Renders docs/trace-waterfall.png from the spans of a real run.
//
//   npx tsx docs/render-waterfall.ts [--svg out.svg]
//
// Runs a small deployment-like job through a pool against an in-process SSH server (which
// delays authentication a little, so opening a connection takes visible time), with the spans
// kept in memory: a first command that opens a connection, a reused one, three concurrent
// commands (the third waits while a second connection is opened for it), and a failing check.
// The job's trace is drawn as a waterfall, each `ssh.exec` split into its three parts (waiting
// for a slot = its `ssh.pool.acquire` child, opening the channel, running remotely), with the
// `ssh.connect` spans (each in a trace of its own) on the same time axis, their phases as
// ticks, and arrows for the links from the commands that waited on them. The SVG is turned
// into a PNG with rsvg-convert (Debian: apt-get install librsvg2-bin).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, SpanStatusCode } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { $, SSHConnectionPool } from '../src/index.js';
import {
  ATTR_ACQUIRE_OUTCOME,
  ATTR_CHANNEL_OPEN_TIME,
  ATTR_COMMAND_TEMPLATE,
  ATTR_CONNECTION_ID,
  ATTR_ERROR_TYPE,
  ATTR_PROCESS_EXIT_CODE,
  EVENT_CHANNEL_OPENED,
  EVENT_CONNECT_PHASES,
  SPAN_ACQUIRE,
  SPAN_CONNECT,
  SPAN_EXEC,
} from '../src/telemetry/constants.js';
import { EmbeddedSshServer } from '../demo/embedded-server.js';
import { sshdTarget } from '../test/support/sshd-target.js';

const OUTPUT = fileURLToPath(new URL('./trace-waterfall.png', import.meta.url));
const JOB = 'deploy web-1';

async function recordSpans(): Promise<ReadableSpan[]> {
  // The delay stands in for a real server's authentication round trips: long enough that a
  // command waiting for a new connection shows a wait segment, short enough to keep the
  // concurrent commands' remote runs (0.25 s) from freeing a slot before the connection is up.
  const server = await new EmbeddedSshServer({ username: 'deploy', authDelayMs: 60 }).start();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const pool = new SSHConnectionPool({ tracerProvider, maxChannelsPerConnection: 2 });
  const ssh = $.ssh(sshdTarget(server, pool));
  const tracer = tracerProvider.getTracer('deploy-tool');
  try {
    await tracer.startActiveSpan(JOB, async (job) => {
      await ssh`uname -sr`;
      await ssh`cat /etc/hostname`;
      // Two channels per connection: the third restart waits for connection #2 to be opened.
      await Promise.all(['web', 'api', 'worker'].map((unit) => ssh`sleep 0.25; echo restarted ${unit}`));
      // A check that fails: exit status 1, recorded on its ssh.exec span; the job goes on.
      await ssh`test -f ${'/etc/nginx/nginx.conf'}`.nothrow();
      job.end();
    });
  } finally {
    await pool.closeAll();
    await server.stop();
    context.disable();
  }
  return exporter.getFinishedSpans();
}

// ---- reading the spans ----

const ms = (time: HrTime): number => time[0] * 1e3 + time[1] / 1e6;
const idOf = (span: ReadableSpan): string => span.spanContext().spanId;
const byStart = (x: ReadableSpan, y: ReadableSpan): number => ms(x.startTime) - ms(y.startTime) || idOf(x).localeCompare(idOf(y));

/** One `ssh.exec`, cut at the end of its acquire and at its channel-opened event. */
interface ExecTiming {
  readonly acquire?: ReadableSpan;
  /** When the acquire ended and the channel request went out. */
  readonly slotAt: number;
  /** When the channel was open; undefined when the command never got one. */
  readonly openedAt?: number;
  /** Connect spans this command links to, with how it relates to each. */
  readonly links: ReadonlyArray<{ readonly connect: ReadableSpan; readonly waited: boolean; readonly ranOn: boolean }>;
}

const PHASES: ReadonlyArray<{ readonly event: string; readonly label: string; readonly short: string; readonly color: string }> = [
  { event: EVENT_CONNECT_PHASES['tcp-connected'], short: 'tcp', label: 'TCP connected', color: '#0369a1' },
  { event: EVENT_CONNECT_PHASES['host-key-verified'], short: 'host key', label: 'host key verified (within the key exchange)', color: '#b45309' },
  { event: EVENT_CONNECT_PHASES['key-exchanged'], short: 'keys', label: 'keys exchanged', color: '#15803d' },
  { event: EVENT_CONNECT_PHASES['login-turn'], short: 'turn', label: "waited for the pool key's first login", color: '#6d28d9' },
  { event: EVENT_CONNECT_PHASES.authenticated, short: 'auth', label: 'authenticated', color: '#be185d' },
];

function execTiming(exec: ReadableSpan, acquire: ReadableSpan | undefined, connects: Map<string, ReadableSpan>): ExecTiming {
  const opened = exec.events.find((e) => e.name === EVENT_CHANNEL_OPENED);
  const openedAt = opened ? ms(opened.time) : undefined;
  const openSeconds = Number(opened?.attributes?.[ATTR_CHANNEL_OPEN_TIME] ?? 0);
  // The acquire span's end when there is one (acquireSpans: 'all'), else the channel open's start.
  const slotAt = acquire ? ms(acquire.endTime) : openedAt !== undefined ? openedAt - openSeconds * 1000 : ms(exec.endTime);
  const linked = new Map<string, ReadableSpan>();
  for (const link of [...exec.links, ...(acquire?.links ?? [])]) {
    const connect = connects.get(link.context.spanId);
    if (connect) linked.set(link.context.spanId, connect);
  }
  const links = [...linked.values()].sort(byStart).map((connect) => ({
    connect,
    // A connect attempt that started while the command waited was made for (or during) that wait.
    waited: ms(connect.startTime) >= ms(exec.startTime) && ms(connect.startTime) <= slotAt,
    ranOn: connect.attributes[ATTR_CONNECTION_ID] !== undefined && connect.attributes[ATTR_CONNECTION_ID] === exec.attributes[ATTR_CONNECTION_ID],
  }));
  return { ...(acquire ? { acquire } : {}), slotAt, ...(openedAt !== undefined ? { openedAt } : {}), links };
}

interface Row {
  readonly span: ReadableSpan;
  readonly depth: number;
  readonly lane: 'trace' | 'connect';
  readonly exec?: ExecTiming;
}

/** The job's span tree (acquires folded into their ssh.exec rows), then the connect spans. */
function orderRows(spans: ReadableSpan[]): Row[] {
  const job = spans.find((s) => s.name === JOB);
  if (!job) throw new Error('the job span is missing');
  const traceId = job.spanContext().traceId;
  const connects = spans.filter((s) => s.name === SPAN_CONNECT).sort(byStart);
  const connectsById = new Map(connects.map((s) => [idOf(s), s]));
  const children = new Map<string, ReadableSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    if (parent && span.spanContext().traceId === traceId) children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const rows: Row[] = [];
  const visit = (span: ReadableSpan, depth: number): void => {
    const kids = (children.get(idOf(span)) ?? []).sort(byStart);
    if (span.name === SPAN_EXEC) {
      const acquire = kids.find((k) => k.name === SPAN_ACQUIRE);
      rows.push({ span, depth, lane: 'trace', exec: execTiming(span, acquire, connectsById) });
      for (const kid of kids) if (kid !== acquire) visit(kid, depth + 1);
      return;
    }
    rows.push({ span, depth, lane: 'trace' });
    for (const kid of kids) visit(kid, depth + 1);
  };
  visit(job, 0);
  for (const span of connects) rows.push({ span, depth: 0, lane: 'connect' });
  return rows;
}

// ---- drawing ----

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
// Span events carry millisecond timestamps: no decimals where they would be noise.
const fmt = (duration: number): string => duration.toFixed(duration < 10 ? 1 : 0);

const COLOR = {
  caller: '#64748b',
  acquire: '#14b8a6',
  channel: '#f59e0b',
  run: '#3b82f6',
  error: '#dc2626',
  connect: '#c4b5fd',
  connectFailed: '#fca5a5',
  link: '#7c3aed',
  text: '#0f172a',
  detail: '#334155',
} as const;

const failed = (span: ReadableSpan): boolean => span.status.code === SpanStatusCode.ERROR;
const connectNumber = (span: ReadableSpan): string => (span.attributes[ATTR_CONNECTION_ID] !== undefined ? `#${String(span.attributes[ATTR_CONNECTION_ID])}` : 'attempt');

function title(row: Row): string {
  const { span } = row;
  if (span.name === SPAN_EXEC) return `ssh.exec  ${String(span.attributes[ATTR_COMMAND_TEMPLATE])}`;
  if (span.name === SPAN_CONNECT) return `ssh.connect ${connectNumber(span)}  ${String(span.attributes['server.address'])}:${String(span.attributes['server.port'])}`;
  return span.name;
}

function detail(row: Row): string {
  const { span } = row;
  const total = ms(span.endTime) - ms(span.startTime);
  const error = failed(span) ? ` · ${String(span.attributes[ATTR_ERROR_TYPE] ?? 'ERROR')}` : '';
  if (row.exec) {
    const { slotAt, openedAt, links } = row.exec;
    const start = ms(span.startTime);
    const parts = [`acquire ${fmt(slotAt - start)}`];
    if (openedAt !== undefined) parts.push(`channel ${fmt(openedAt - slotAt)}`, `run ${fmt(ms(span.endTime) - openedAt)}`);
    const ranOn = links.find((l) => l.ranOn);
    const where = `${String(span.attributes[ATTR_ACQUIRE_OUTCOME])}${ranOn ? ` on ${connectNumber(ranOn.connect)}` : ''}`;
    return `${fmt(total)} ms = ${parts.join(' + ')} · ${where} · exit ${String(span.attributes[ATTR_PROCESS_EXIT_CODE] ?? '–')}${error}`;
  }
  if (span.name === SPAN_CONNECT) {
    // Each protocol step's own duration, in protocol order: TCP, the key exchange (up to the
    // new keys; the host key is checked inside it, when the server's reply arrives), then
    // authentication. A failed attempt shows the steps it finished.
    const at = (phase: keyof typeof EVENT_CONNECT_PHASES): number | undefined => {
      const event = span.events.find((e) => e.name === EVENT_CONNECT_PHASES[phase]);
      return event ? ms(event.time) : undefined;
    };
    const steps: Array<[string, number | undefined]> = [['tcp', at('tcp-connected')], ['key exchange', at('key-exchanged')], ['auth', at('authenticated')]];
    let previous = ms(span.startTime);
    const parts: string[] = [];
    for (const [step, end] of steps) {
      if (end === undefined) break;
      parts.push(`${step} ${fmt(end - previous)}`);
      previous = end;
    }
    return `${fmt(total)} ms = ${parts.join(' + ')}${error}`;
  }
  return `${fmt(total)} ms · application span`;
}

function niceStep(range: number): number {
  const rough = range / 8;
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough) ?? power * 10;
}

const rect = (x0: number, x1: number, y: number, height: number, fill: string, extra = ''): string =>
  `<rect x="${x0.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(x1 - x0, 0).toFixed(1)}" height="${height}" fill="${fill}"${extra}/>`;
const text = (x: number, y: number, content: string, attrs = ''): string => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escape(content)}</text>`;

/** Legend entries laid out left to right from `x`; returns the x after the last one. */
function legend(out: string[], x: number, y: number, entries: ReadonlyArray<{ label: string; swatch: (x: number, y: number) => string }>): number {
  for (const { label, swatch } of entries) {
    out.push(swatch(x, y - 11));
    out.push(text(x + 22, y, label, `font-size="12" fill="${COLOR.detail}"`));
    x += 44 + label.length * 6.8;
  }
  return x;
}

function drawSvg(spans: ReadableSpan[]): string {
  const rows = orderRows(spans);
  const start = Math.min(...rows.map((r) => ms(r.span.startTime)));
  const end = Math.max(...rows.map((r) => ms(r.span.endTime)));
  const range = end - start;
  const width = 1700;
  const chartLeft = 380;
  const chartWidth = 820;
  const rowHeight = 32;
  const barHeight = 18;
  const top = 100;
  const separator = 48;
  const x = (t: number): number => chartLeft + ((t - start) / range) * chartWidth;
  const traceRows = rows.filter((r) => r.lane === 'trace').length;
  const y = (index: number): number => top + index * rowHeight + (index >= traceRows ? separator : 0);
  const legendTop = y(rows.length) + 24;
  const height = legendTop + 64;
  const job = rows[0]!.span;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  out.push(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${COLOR.link}"/></marker></defs>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(text(24, 34, 'One trace of a job running commands through sshpool', `font-size="20" font-weight="bold" fill="${COLOR.text}"`));
  out.push(
    text(
      24,
      60,
      `trace ${job.spanContext().traceId.slice(0, 16)}… · ${spans.length} spans exported by the OpenTelemetry SDK from a real run against an SSH server on 127.0.0.1 (maxChannelsPerConnection: 2) · ${fmt(range)} ms · durations in ms`,
      `font-size="13" fill="#475569"`,
    ),
  );

  // Time grid.
  const step = niceStep(range);
  for (let t = 0; t <= range + 1e-9; t += step) {
    const gx = x(start + t).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top - 14}" x2="${gx}" y2="${y(rows.length) - 4}" stroke="#e2e8f0" stroke-width="1"/>`);
    out.push(`<text x="${gx}" y="${top - 20}" font-size="11" fill="#64748b" text-anchor="middle">${t.toFixed(step < 1 ? 1 : 0)} ms</text>`);
  }

  // Lane heading of the connect spans.
  const connectTop = y(traceRows) - separator / 2 - 4;
  out.push(`<line x1="24" y1="${connectTop - 12}" x2="${width - 24}" y2="${connectTop - 12}" stroke="#cbd5e1" stroke-dasharray="4 4"/>`);
  out.push(
    text(24, connectTop + 6, 'ssh.connect spans: each a trace of its own; every ssh.exec (and its ssh.pool.acquire) links to the connect it ran on and to every connect attempt made while it waited', `font-size="12" font-style="italic" fill="#6d28d9"`),
  );

  // Stripes and bar positions first, then the links, then bars and text on top of them.
  const positions = new Map<string, { y: number; x0: number; x1: number }>();
  rows.forEach((row, index) => {
    const rowY = y(index);
    const x0 = x(ms(row.span.startTime));
    positions.set(idOf(row.span), { y: rowY, x0, x1: Math.max(x0 + 2, x(ms(row.span.endTime))) });
    if (index % 2 === 0) out.push(rect(16, width - 16, rowY - 5, rowHeight, '#f8fafc'));
  });

  // Arrows for the connects a command waited on: from the end of its wait to the connect's end.
  for (const row of rows) {
    const from = positions.get(idOf(row.span))!;
    for (const link of row.exec?.links ?? []) {
      if (!link.waited) continue;
      const to = positions.get(idOf(link.connect))!;
      const fx = Math.max(x(row.exec!.slotAt) - 4, from.x0 + 2);
      const fy = from.y + barHeight + 1;
      out.push(
        `<path d="M ${fx.toFixed(1)} ${fy} C ${fx.toFixed(1)} ${(to.y - 24).toFixed(1)}, ${(to.x1 + 28).toFixed(1)} ${(to.y - 12).toFixed(1)}, ${(to.x1 + 3).toFixed(1)} ${(to.y + 4).toFixed(1)}" fill="none" stroke="${COLOR.link}" stroke-width="1.6" stroke-dasharray="5 3" marker-end="url(#arrow)"/>`,
      );
    }
  }

  rows.forEach((row) => {
    const { span } = row;
    const { y: rowY, x0, x1 } = positions.get(idOf(span))!;
    const isFailed = failed(span);
    out.push(text(24 + row.depth * 18, rowY + 14, title(row), `font-size="13" fill="${isFailed ? COLOR.error : COLOR.text}"`));
    if (row.exec) {
      // Three segments; each at least 2 px wide so a sub-millisecond channel open still shows.
      const cutA = Math.min(Math.max(x(row.exec.slotAt), x0 + 2), x1);
      const cutB = row.exec.openedAt === undefined ? x1 : Math.min(Math.max(x(row.exec.openedAt), cutA + 2), x1);
      out.push(rect(x0, cutA, rowY, barHeight, COLOR.acquire));
      out.push(rect(cutA, cutB, rowY, barHeight, COLOR.channel));
      out.push(rect(cutB, x1, rowY, barHeight, isFailed ? COLOR.error : COLOR.run));
    } else if (span.name === SPAN_CONNECT) {
      out.push(rect(x0, x1, rowY, barHeight, isFailed ? COLOR.connectFailed : COLOR.connect, ' rx="3"'));
      for (const phase of PHASES) {
        const event = span.events.find((e) => e.name === phase.event);
        if (!event) continue;
        const tx = Math.min(Math.max(x(ms(event.time)), x0 + 1.5), x1 - 1.5).toFixed(1);
        out.push(`<line x1="${tx}" y1="${rowY - 4}" x2="${tx}" y2="${rowY + barHeight + 4}" stroke="${phase.color}" stroke-width="3"/>`);
      }
    } else {
      out.push(rect(x0, x1, rowY, barHeight, COLOR.caller, ' rx="3"'));
    }
    const label = detail(row);
    // Right of the bar, or left of it when it would run off the picture.
    const fits = x1 + 8 + label.length * 7 < width - 16;
    out.push(
      text(fits ? x1 + 8 : x0 - 8, rowY + 14, label, `font-size="12" text-anchor="${fits ? 'start' : 'end'}" fill="${isFailed ? COLOR.error : COLOR.detail}" stroke="#ffffff" stroke-width="3" paint-order="stroke"`),
    );
  });

  // Legend: what the bar colours mean, then the connect phase ticks and the link arrows.
  const swatch = (fill: string) => (sx: number, sy: number): string => rect(sx, sx + 16, sy, 14, fill, ' rx="2"');
  const tick = (stroke: string) => (sx: number, sy: number): string =>
    `${rect(sx, sx + 16, sy + 2, 10, COLOR.connect)}<line x1="${sx + 8}" y1="${sy - 1}" x2="${sx + 8}" y2="${sy + 15}" stroke="${stroke}" stroke-width="3"/>`;
  legend(out, 24, legendTop, [
    { label: 'application span', swatch: swatch(COLOR.caller) },
    { label: 'ssh.exec: waiting for a slot (its ssh.pool.acquire)', swatch: swatch(COLOR.acquire) },
    { label: 'opening the channel', swatch: swatch(COLOR.channel) },
    { label: 'running remotely', swatch: swatch(COLOR.run) },
    { label: 'ran, status ERROR', swatch: swatch(COLOR.error) },
  ]);
  const lx = legend(out, 24, legendTop + 28, [
    { label: 'ssh.connect', swatch: swatch(COLOR.connect) },
    ...PHASES.map((phase) => ({ label: phase.label, swatch: tick(phase.color) })),
  ]);
  out.push(`<path d="M ${lx} ${legendTop + 24} l 34 0" stroke="${COLOR.link}" stroke-width="1.6" stroke-dasharray="5 3" marker-end="url(#arrow)"/>`);
  out.push(text(lx + 44, legendTop + 28, 'link: the command waited on this connect;  “on #N”: the connect it ran on (also a link)', `font-size="12" fill="#6d28d9"`));
  out.push('</svg>');
  return out.join('\n');
}

async function main(): Promise<void> {
  const spans = await recordSpans();
  const svg = drawSvg(spans);
  const at = process.argv.indexOf('--svg');
  if (at !== -1 && process.argv[at + 1]) writeFileSync(process.argv[at + 1]!, svg);
  const dir = mkdtempSync(join(tmpdir(), 'sshpool-waterfall-'));
  try {
    const svgPath = join(dir, 'trace-waterfall.svg');
    writeFileSync(svgPath, svg);
    const result = spawnSync('rsvg-convert', ['--format', 'png', '--output', OUTPUT, svgPath], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.error || result.status !== 0) {
      throw new Error(`rsvg-convert failed (${result.error?.message ?? `exit ${result.status}`}); install it with: apt-get install -y librsvg2-bin`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`wrote ${OUTPUT} (${spans.length} spans)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`render-waterfall failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
