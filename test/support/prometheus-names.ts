// The Prometheus metric name an OpenTelemetry instrument gets, as each of the two exporters in
// front of sshpool's dashboards and rules computes it.
//
// The Collector (opentelemetry-collector-contrib, pkg/translator/prometheus/normalize_name.go,
// `normalizeName`, used by the prometheus and prometheusremotewrite exporters when
// add_metric_suffixes is on, the default):
//   - the name is split into tokens at every character that is not a letter or digit;
//   - the unit is split at the first '/'. The main unit is appended when it is not blank, holds
//     no '{' or '}' (annotations such as `{connection}` add nothing), maps to a non-empty
//     Prometheus unit (`unitMap`: s -> seconds, ms -> milliseconds, By -> bytes, `1` -> "",
//     % -> percent, …; unknown units are kept as written) and is not already a token of the
//     name; the per-unit, if any, is appended as `per_<unit>` (`perUnitMap`: s -> second, …);
//   - monotonic sums (counters) get `total` (removed first if already a token, then appended);
//   - gauges (not sums) of unit exactly `1` get `ratio`, the same way;
//   - tokens are joined with '_'; a leading digit gets a '_' prefix.
// Histograms then gain `_bucket`, `_sum` and `_count` (`le` label on buckets).
//
// The JS exporter (@opentelemetry/exporter-prometheus, PrometheusSerializer.mjs,
// `sanitizePrometheusMetricName` and `enforcePrometheusNamingConvention`): every character other
// than [a-zA-Z0-9_] becomes '_', runs of '_' collapse, monotonic sums get `_total` unless the
// name already ends with it. No unit suffix: the unit goes to a `# UNIT` comment only.
//
// Observable UpDownCounters are non-monotonic sums: gauges for both, with no `_total`.

/** What both translations need to know of an instrument. */
export interface InstrumentShape {
  readonly name: string;
  readonly unit: string;
  readonly kind: 'counter' | 'updowncounter' | 'gauge' | 'histogram';
}

const UNIT_MAP: Readonly<Record<string, string>> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', TiBy: 'tibibytes',
  KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes', TBy: 'terabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams',
  Cel: 'celsius', Hz: 'hertz', '1': '', '%': 'percent',
};
const PER_UNIT_MAP: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

const tokensOf = (text: string): string[] => text.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
const cleanUp = (text: string): string => tokensOf(text).join('_');

/** The Collector's name for the instrument (before `_bucket`/`_sum`/`_count` of histograms). */
export function collectorName(instrument: InstrumentShape): string {
  let tokens = tokensOf(instrument.name);
  const [main, per] = instrument.unit.split(/\/(.*)/s, 2) as [string, string | undefined];
  const mainUnit = main.trim();
  if (mainUnit !== '' && !/[{}]/.test(mainUnit)) {
    const prom = cleanUp(UNIT_MAP[mainUnit] ?? mainUnit);
    if (prom !== '' && !tokens.includes(prom)) tokens.push(prom);
  }
  const perUnit = per?.trim();
  if (perUnit && !/[{}]/.test(perUnit)) {
    const prom = cleanUp(PER_UNIT_MAP[perUnit] ?? perUnit);
    if (prom !== '' && !tokens.includes(prom)) tokens.push('per', prom);
  }
  if (instrument.kind === 'counter') tokens = [...tokens.filter((t) => t !== 'total'), 'total'];
  if (instrument.unit === '1' && instrument.kind === 'gauge') tokens = [...tokens.filter((t) => t !== 'ratio'), 'ratio'];
  const name = tokens.join('_');
  return /^\d/.test(name) ? `_${name}` : name;
}

/** The JS exporter's name for the instrument (before `_bucket`/`_sum`/`_count` of histograms). */
export function jsExporterName(instrument: InstrumentShape): string {
  let name = instrument.name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
  if (/^\d/.test(name)) name = `_${name}`;
  if (instrument.kind === 'counter' && !name.endsWith('_total')) name = `${name}_total`;
  return name;
}

/** Every series name an instrument shows in Prometheus under `translate`. */
export function seriesNames(instrument: InstrumentShape, translate: (i: InstrumentShape) => string): string[] {
  const base = translate(instrument);
  return instrument.kind === 'histogram' ? [`${base}_bucket`, `${base}_sum`, `${base}_count`] : [base];
}

/**
 * The metric names a PromQL expression selects: bare names before `{`, `[`, `)` or the end of a
 * term, and `__name__=~"…"` / `__name__="…"` matchers. Function names, keywords, label names in
 * `by (…)`/`on (…)` lists and string contents are not names.
 */
export function selectedMetrics(expr: string): Array<{ readonly kind: 'name' | 'regex'; readonly value: string }> {
  const found: Array<{ kind: 'name' | 'regex'; value: string }> = [];
  for (const m of expr.matchAll(/__name__\s*(=~|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
    found.push({ kind: m[1] === '=~' ? 'regex' : 'name', value: m[2]!.replace(/\\\\/g, '\\') });
  }
  // Strip strings and label lists, then look for identifiers followed by a selector or used alone.
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\{[^}]*\}/g, (m) => (m.includes('__name__') ? '{}' : m.replace(/[^{}]/g, ' ')));
  for (const m of stripped.matchAll(/(?<![\w:."$])([a-zA-Z_:][\w:]*)(?=\s*(\{|\[|\)|$|\s*(?:[-+*/^%<>=!]|\band\b|\bor\b|\bunless\b|\n)))/g)) {
    const word = m[1]!;
    if (/^(by|without|on|ignoring|group_left|group_right|bool|and|or|unless|offset|inf|nan)$/i.test(word)) continue;
    // A function call is a word followed by '(' (excluded by the lookahead); an aggregation
    // with a trailing clause (`sum by (...) (`) was removed with its label list above.
    found.push({ kind: 'name', value: word });
  }
  return found;
}
