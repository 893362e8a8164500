// Messages between the orchestrator (bench/compare.ts) and a contender's process.
import type { BenchHost } from './bench-host.js';
import type { ContenderId } from './contender.js';
import type { LatencySummary } from './stats.js';

/** One workload as a contender process runs it. */
export interface WorkloadRun {
  readonly hosts: readonly BenchHost[];
  /** Measured commands per host. */
  readonly commandsPerHost: number;
  /** Commands in flight at once per host (workers pulling from the host's queue). */
  readonly perHostConcurrency: number;
  /** Untimed commands per host before the clock starts; 0 measures from a cold start. */
  readonly warmUpPerHost: number;
  /** Bytes of output per command besides its token; 0 for `echo <token>`. */
  readonly outputBytes: number;
  /** A command without an answer after this long counts as failed. */
  readonly commandTimeoutMs: number;
  /** No new command starts after this long; the rest count as failed. */
  readonly deadlineMs: number;
}

export type ToContender = { readonly type: 'run'; readonly contender: ContenderId; readonly workload: WorkloadRun } | { readonly type: 'go' };

export interface ContenderResult {
  readonly type: 'result';
  /** Commands run (measured phase). */
  readonly commands: number;
  /** Commands not started because the time cap (deadlineMs) was reached. */
  readonly skipped: number;
  readonly failed: number;
  /** Distinct failure messages with their counts, most frequent first (at most a few). */
  readonly errors: ReadonlyArray<{ readonly message: string; readonly count: number }>;
  readonly elapsedMs: number;
  readonly latencyMs: LatencySummary;
  /** Client CPU of the measured phase, this process plus external helpers (µs). */
  readonly cpuMicros: number;
  /**
   * CPU the whole machine spent while measuring (µs, all cores: this client, the servers, the
   * proxy and anything else): with `cpuMicros` it tells a client-bound workload from a
   * server-bound one.
   */
  readonly machineBusyMicros: number;
  /** Event-loop delay while measuring (ms). */
  readonly loopDelayMs: { readonly p99: number; readonly max: number };
  readonly rssBytes: number;
  /** Failures of the untimed warm-up (they are not in `failed`). */
  readonly warmUpFailed: number;
}

export type FromContender =
  | { readonly type: 'warmed' }
  | ContenderResult
  | { readonly type: 'crash'; readonly message: string };
