import { ConnectError } from '../core/errors.js';
import type { FanOutResult } from '../core/fan-out-result.js';

/** A host that did not succeed, and the stable code of why. */
export interface FanOutHostFailure {
  readonly host: string;
  readonly code: string;
}

/** What a fan-out came to, host by host, in the group's host order. */
export interface FanOutSummary {
  readonly total: number;
  /** Hosts whose command exited 0. */
  readonly succeeded: readonly string[];
  /** Hosts whose command ran and did not succeed: a non-zero exit, a timeout, a lost connection. */
  readonly failed: readonly FanOutHostFailure[];
  /** Hosts the command never reached: connect, authentication or host-key failures. */
  readonly unreachable: readonly FanOutHostFailure[];
  /** One line for people: `3 hosts: 1 succeeded, 1 failed (b:22 ERR_…), 1 unreachable (c:22 ERR_…)`. */
  toString(): string;
}

function codeOf(error: Error): string {
  const { code } = error as Error & { code?: unknown };
  return typeof code === 'string' ? code : error.name;
}

/** Sorts each host's settled result into succeeded, failed or unreachable. */
export function summarizeFanOut(results: readonly FanOutResult[]): FanOutSummary {
  const succeeded: string[] = [];
  const failed: FanOutHostFailure[] = [];
  const unreachable: FanOutHostFailure[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') {
      // A nothrow() fan-out resolves with results that did not succeed.
      if (result.value.ok) succeeded.push(result.host);
      else failed.push({ host: result.host, code: result.value.exitCode === null ? 'ended' : `exit ${result.value.exitCode}` });
    } else if (result.reason instanceof ConnectError) {
      unreachable.push({ host: result.host, code: codeOf(result.reason) });
    } else {
      failed.push({ host: result.host, code: codeOf(result.reason) });
    }
  }
  const list = (hosts: readonly FanOutHostFailure[]): string => (hosts.length === 0 ? '' : ` (${hosts.map((h) => `${h.host} ${h.code}`).join(', ')})`);
  return {
    total: results.length,
    succeeded,
    failed,
    unreachable,
    toString: () =>
      `${results.length} hosts: ${succeeded.length} succeeded, ${failed.length} failed${list(failed)}, ${unreachable.length} unreachable${list(unreachable)}`,
  };
}
