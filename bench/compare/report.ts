// Markdown tables of a workload's outcomes, so a run's output can go into BENCHMARKS.md as is.
import type { ContenderId } from './contender.js';
import { CONTENDER_LABELS } from './contender.js';
import type { Outcome } from './run-contender.js';

export interface Measured {
  readonly id: ContenderId;
  readonly outcome: Outcome;
}

/** Correct answers per second of the measured phase. */
export function rateOf(outcome: Outcome): number {
  if (outcome.kind !== 'ok') return Number.NaN;
  const { result } = outcome;
  return (result.commands - result.failed) / (result.elapsedMs / 1000);
}

export function cpuPerCommandOf(outcome: Outcome): number {
  return outcome.kind === 'ok' ? outcome.result.cpuMicros / outcome.result.commands : Number.NaN;
}

const fixed = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const ms = (value: number): string => (Number.isFinite(value) ? (value >= 100 ? value.toFixed(0) : value.toFixed(1)) : '–');
const ratio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–');
const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;

export function workloadTable(rows: readonly Measured[], outputBytes: number): string {
  const ceiling = rows.find((r) => r.id === 'ceiling')?.outcome;
  const ceilingRate = ceiling ? rateOf(ceiling) : Number.NaN;
  const ceilingCpu = ceiling ? cpuPerCommandOf(ceiling) : Number.NaN;
  const header = [
    'contender', 'failed', 'cmd/s', ...(outputBytes > 0 ? ['MiB/s'] : []), '× ceiling', 'p50 ms', 'p95 ms', 'p99 ms',
    'CPU µs/cmd', 'CPU × ceiling', 'machine busy (cores)', 'client share', 'conns (measured/all)', 'refused', 'loop p99 ms',
  ];
  const lines = [row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:')))];
  const notes: string[] = [];
  for (const { id, outcome } of rows) {
    if (outcome.kind !== 'ok') {
      lines.push(row([CONTENDER_LABELS[id], 'all', ...header.slice(2).map(() => '–')]));
      notes.push(`- ${CONTENDER_LABELS[id]}: ${outcome.reason}`);
      continue;
    }
    const { result, connections } = outcome;
    const rate = rateOf(outcome);
    const cpu = cpuPerCommandOf(outcome);
    lines.push(
      row([
        CONTENDER_LABELS[id],
        `${result.failed}/${result.commands}`,
        fixed(rate, rate < 10 ? 2 : 0),
        ...(outputBytes > 0 ? [fixed((rate * outputBytes) / 1024 / 1024, 1)] : []),
        ratio(rate / ceilingRate),
        ms(result.latencyMs.p50),
        ms(result.latencyMs.p95),
        ms(result.latencyMs.p99),
        fixed(cpu),
        ratio(cpu / ceilingCpu),
        fixed(result.machineBusyMicros / (result.elapsedMs * 1000), 2),
        result.machineBusyMicros > 0 ? `${fixed((100 * result.cpuMicros) / result.machineBusyMicros)} %` : '–',
        `${connections.measured}/${connections.total}`,
        String(connections.dropped),
        ms(result.loopDelayMs.p99),
      ]),
    );
    for (const { message, count } of result.errors) notes.push(`- ${CONTENDER_LABELS[id]}: ${count}× ${message}`);
    if (result.skipped > 0) notes.push(`- ${CONTENDER_LABELS[id]}: ${result.skipped} commands not started: the workload's time cap was reached (rates are over the commands run)`);
    if (result.warmUpFailed > 0) notes.push(`- ${CONTENDER_LABELS[id]}: ${result.warmUpFailed} warm-up commands failed (not counted above)`);
  }
  return [...lines, ...(notes.length > 0 ? ['', 'Notes:', ...notes] : [])].join('\n');
}

/** Throughput of each row's contender divided by each column's. */
export function ratioMatrix(rows: readonly Measured[]): string {
  const ok = rows.filter((r) => r.outcome.kind === 'ok');
  if (ok.length < 2) return '';
  const short = (id: ContenderId): string => id;
  const lines = [row(['cmd/s ratio (row ÷ column)', ...ok.map((r) => short(r.id))]), row(['---', ...ok.map(() => '---:')])];
  for (const a of ok) lines.push(row([short(a.id), ...ok.map((b) => (a === b ? '1' : ratio(rateOf(a.outcome) / rateOf(b.outcome))))]));
  return lines.join('\n');
}
