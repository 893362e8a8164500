/** How a delay grows between attempts. */
export type BackoffCurve = 'exponential' | 'linear' | 'fixed';

/** A retry delay schedule (the reconnect settings carry one). */
export interface BackoffPolicy {
  readonly initialDelay: number;
  readonly maxDelay: number;
  readonly backoff: BackoffCurve;
  /** Spread each delay by ±20 %. */
  readonly jitter: boolean;
}

/** Delay before retry number `attempt` (1-based), following the policy's curve. */
export function backoffDelay(attempt: number, config: BackoffPolicy): number {
  const { initialDelay, maxDelay, backoff, jitter } = config;
  let delay: number;
  switch (backoff) {
    case 'fixed':
      delay = initialDelay;
      break;
    case 'linear':
      delay = initialDelay * attempt;
      break;
    default:
      delay = initialDelay * 2 ** Math.min(attempt - 1, 30);
  }
  delay = Math.min(delay, maxDelay);
  // ±20% spreads pools that failed together so they do not retry in lockstep.
  if (jitter) delay *= 0.8 + Math.random() * 0.4;
  return Math.round(delay);
}
