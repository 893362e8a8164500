import type { ReconnectConfig } from './types.js';

/** Delay before retry number `attempt` (1-based), following the configured curve. */
export function backoffDelay(attempt: number, config: Required<ReconnectConfig>): number {
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
