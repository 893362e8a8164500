// Renders docs/trace-waterfall.png from the spans of a real run.
//
//   npx tsx docs/render-waterfall.ts [--svg out.svg]
//
// Runs a small deployment-like job through a pool against an in-process SSH server, with the
// spans kept in memory: a first command that opens a connection, a reused one, three
// concurrent commands (the third opens a second connection), and a failing check. The job's
// trace is drawn as a waterfall, with the `ssh.connect` spans (each in a trace of its own,
// linked from the commands that use the connection) on the same time axis. The SVG is
// turned into a PNG with rsvg-convert (Debian: apt-get install librsvg2-bin).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { $, SSHConnectionPool } from '../src/index.js';
import { EmbeddedSshServer } from '../demo/embedded-server.js';
import { sshdTarget } from '../test/support/sshd-target.js';

const OUTPUT = fileURLToPath(new URL('./trace-waterfall.png', import.meta.url));

async function recordSpans(): Promise<ReadableSpan[]> {
  const server = await new EmbeddedSshServer({ username: 'deploy' }).start();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const pool = new SSHConnectionPool({ tracerProvider, maxChannelsPerConnection: 2 });
  const ssh = $.ssh(sshdTarget(server, pool));
  const tracer = tracerProvider.getTracer('deploy-tool');
  try {
    await tracer.startActiveSpan('deploy web-1', async (job) => {
      await ssh`uname -sr`;
      await ssh`cat /etc/hostname`;
      await Promise.all(['web', 'api', 'worker'].map((unit) => ssh`sleep 0.03; echo restarted ${unit}`));
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

// ---- drawing ----

const ms = (time: HrTime): number => time[0] * 1e3 + time[1] / 1e6;
const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Row {
  readonly span: ReadableSpan;
  readonly depth: number;
  readonly lane: 'trace' | 'connect';
}

const COLORS: Record<string, string> = {
  'ssh.exec': '#3b82f6',
  'ssh.pool.acquire': '#14b8a6',
  'ssh.connect': '#8b5cf6',
};
const CALLER_COLOR = '#64748b';
const ERROR_COLOR = '#dc2626';

function label(span: ReadableSpan): { title: string; detail: string } {
  const a = span.attributes;
  switch (span.name) {
    case 'ssh.exec':
      return { title: `ssh.exec  ${String(a['ssh.command.template'])}`, detail: `exit ${String(a['process.exit.code'] ?? '–')} · ${String(a['ssh.pool.acquire.outcome'])}` };
    case 'ssh.pool.acquire':
      return { title: 'ssh.pool.acquire', detail: `${String(a['ssh.pool.acquire.outcome'])} · waited ${(Number(a['ssh.pool.acquire.wait_time'] ?? 0) * 1000).toFixed(1)} ms` };
    case 'ssh.connect':
      return { title: `ssh.connect  ${String(a['server.address'])}:${String(a['server.port'])}`, detail: `connection #${String(a['ssh.connection.id'])}` };
    default:
      return { title: span.name, detail: 'application span' };
  }
}

function orderRows(spans: ReadableSpan[]): Row[] {
  const job = spans.find((s) => s.name === 'deploy web-1');
  if (!job) throw new Error('the job span is missing');
  const traceId = job.spanContext().traceId;
  const children = new Map<string, ReadableSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    if (parent && span.spanContext().traceId === traceId) children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const rows: Row[] = [];
  const visit = (span: ReadableSpan, depth: number): void => {
    rows.push({ span, depth, lane: 'trace' });
    const kids = (children.get(span.spanContext().spanId) ?? []).sort((x, y) => ms(x.startTime) - ms(y.startTime));
    for (const kid of kids) visit(kid, depth + 1);
  };
  visit(job, 0);
  const connects = spans.filter((s) => s.name === 'ssh.connect').sort((x, y) => ms(x.startTime) - ms(y.startTime));
  for (const span of connects) rows.push({ span, depth: 0, lane: 'connect' });
  return rows;
}

function niceStep(range: number): number {
  const rough = range / 8;
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough) ?? power * 10;
}

function drawSvg(spans: ReadableSpan[]): string {
  const rows = orderRows(spans);
  const start = Math.min(...rows.map((r) => ms(r.span.startTime)));
  const end = Math.max(...rows.map((r) => ms(r.span.endTime)));
  const range = end - start;
  const width = 1600;
  const labelWidth = 400;
  const chartLeft = labelWidth + 20;
  const chartWidth = width - chartLeft - 340;
  const rowHeight = 30;
  const top = 96;
  const separator = 44;
  const x = (t: number): number => chartLeft + ((t - start) / range) * chartWidth;
  const traceRows = rows.filter((r) => r.lane === 'trace').length;
  const y = (index: number): number => top + index * rowHeight + (index >= traceRows ? separator : 0);
  const height = y(rows.length) + 70;
  const job = rows[0]!.span;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  out.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8b5cf6"/></marker></defs>');
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="24" y="34" font-size="20" font-weight="bold" fill="#0f172a">One trace of a job running commands through sshpool</text>`);
  out.push(
    `<text x="24" y="60" font-size="13" fill="#475569">trace ${job.spanContext().traceId.slice(0, 16)}… · ${rows.length} spans exported by the OpenTelemetry SDK from a real run against an SSH server on 127.0.0.1 (maxChannelsPerConnection: 2) · ${range.toFixed(1)} ms</text>`,
  );

  // Time grid.
  const step = niceStep(range);
  for (let t = 0; t <= range + 1e-9; t += step) {
    const gx = x(start + t);
    out.push(`<line x1="${gx.toFixed(1)}" y1="${top - 14}" x2="${gx.toFixed(1)}" y2="${height - 52}" stroke="#e2e8f0" stroke-width="1"/>`);
    out.push(`<text x="${gx.toFixed(1)}" y="${top - 20}" font-size="11" fill="#64748b" text-anchor="middle">${t.toFixed(t < 10 && step < 1 ? 1 : 0)} ms</text>`);
  }

  // Lane headings.
  const connectTop = y(traceRows) - separator / 2 - 4;
  out.push(`<line x1="24" y1="${connectTop - 12}" x2="${width - 24}" y2="${connectTop - 12}" stroke="#cbd5e1" stroke-dasharray="4 4"/>`);
  out.push(`<text x="24" y="${connectTop + 6}" font-size="12" font-style="italic" fill="#6d28d9">ssh.connect spans: each is a trace of its own, linked from every ssh.exec and ssh.pool.acquire that uses the connection</text>`);

  // Row stripes and bar positions first, then the links, then bars and text on top of them.
  const positions = new Map<string, { y: number; x0: number; x1: number }>();
  rows.forEach((row, index) => {
    const rowY = y(index);
    const x0 = x(ms(row.span.startTime));
    positions.set(row.span.spanContext().spanId, { y: rowY, x0, x1: Math.max(x0 + 2, x(ms(row.span.endTime))) });
    if (index % 2 === 0) out.push(`<rect x="16" y="${rowY - 4}" width="${width - 32}" height="${rowHeight}" fill="#f8fafc"/>`);
  });

  // Links from the acquires that opened a connection to that connection's ssh.connect span.
  for (const row of rows) {
    if (row.span.name !== 'ssh.pool.acquire' || row.span.attributes['ssh.pool.acquire.outcome'] !== 'created') continue;
    const from = positions.get(row.span.spanContext().spanId)!;
    for (const link of row.span.links) {
      const to = positions.get(link.context.spanId);
      if (!to) continue;
      const fx = from.x1 - 6;
      out.push(
        `<path d="M ${fx.toFixed(1)} ${from.y + rowHeight - 10} C ${fx.toFixed(1)} ${to.y - 20}, ${(to.x1 + 30).toFixed(1)} ${to.y - 10}, ${(to.x1 + 2).toFixed(1)} ${to.y + 4}" fill="none" stroke="#8b5cf6" stroke-width="1.5" stroke-dasharray="5 3" marker-end="url(#arrow)"/>`,
      );
    }
  }

  rows.forEach((row) => {
    const { span } = row;
    const { y: rowY, x0, x1 } = positions.get(span.spanContext().spanId)!;
    const failed = span.status.code === SpanStatusCode.ERROR;
    const color = failed ? ERROR_COLOR : (COLORS[span.name] ?? CALLER_COLOR);
    const { title, detail } = label(span);
    const indent = 24 + row.depth * 18;
    out.push(`<text x="${indent}" y="${rowY + 15}" font-size="13" fill="${failed ? ERROR_COLOR : '#0f172a'}">${escape(title)}</text>`);
    out.push(`<rect x="${x0.toFixed(1)}" y="${rowY + 2}" width="${(x1 - x0).toFixed(1)}" height="${rowHeight - 12}" rx="3" fill="${color}" fill-opacity="0.9"/>`);
    const duration = ms(span.endTime) - ms(span.startTime);
    const extra = failed ? ` · error.type ${String(span.attributes['error.type'] ?? 'ERROR')}` : '';
    const text = `${duration.toFixed(1)} ms · ${detail}${extra}`;
    // Right of the bar, or left of it when it would run off the picture.
    const fits = x1 + 8 + text.length * 7 < width - 16;
    const tx = fits ? x1 + 8 : x0 - 8;
    const anchor = fits ? 'start' : 'end';
    out.push(
      `<text x="${tx.toFixed(1)}" y="${rowY + 15}" font-size="12" text-anchor="${anchor}" fill="${failed ? ERROR_COLOR : '#334155'}" ` +
        `stroke="#ffffff" stroke-width="3" paint-order="stroke">${escape(text)}</text>`,
    );
  });

  // Legend.
  const legendY = height - 30;
  const legend: Array<[string, string]> = [
    ['application span', CALLER_COLOR],
    ['ssh.exec (CLIENT)', COLORS['ssh.exec']!],
    ['ssh.pool.acquire (INTERNAL)', COLORS['ssh.pool.acquire']!],
    ['ssh.connect (CLIENT, own trace)', COLORS['ssh.connect']!],
    ['status ERROR', ERROR_COLOR],
  ];
  let lx = 24;
  for (const [text, color] of legend) {
    out.push(`<rect x="${lx}" y="${legendY - 11}" width="14" height="14" rx="2" fill="${color}"/>`);
    out.push(`<text x="${lx + 20}" y="${legendY}" font-size="12" fill="#334155">${escape(text)}</text>`);
    lx += 40 + text.length * 7.2;
  }
  out.push(`<text x="${lx + 10}" y="${legendY}" font-size="12" fill="#6d28d9">- - ▸ span link</text>`);
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
