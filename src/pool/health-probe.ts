import { errorCodeForOutcome } from '../command/error-mapping.js';
import { ERROR_CODES } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { ChannelOpenCancelled } from '../ssh/connection.js';
import type { PoolConnection } from '../ssh/connection.js';
import type { HealthCheckConfig } from '../config/types.js';

export interface ProbeResult {
  readonly healthy: boolean;
  readonly durationMs: number;
  /** Why the probe failed; its message never holds command output. */
  readonly error?: Error;
  /** Stable code for telemetry, set when unhealthy. */
  readonly errorType?: string;
  /** Settles when the server has freed the probe's channel. */
  readonly freed: Promise<void>;
}

const PROBE_OUTPUT_LIMIT = 64 * 1024;

/**
 * Runs the health command on a connection's spare channel. The caller has already counted
 * the channel against the connection (so nothing else can take it) and releases it on `freed`.
 */
export async function probeConnection(connection: PoolConnection, config: Required<HealthCheckConfig>, clock: Clock): Promise<ProbeResult> {
  const startedAt = clock.now();
  const cancel = new AbortController();
  const timer = clock.setTimeout(() => cancel.abort('timeout'), config.timeout);
  const elapsed = (): number => clock.now() - startedAt;
  try {
    const running = await connection.openChannel(
      { command: config.command, stdin: undefined, maxBuffer: PROBE_OUTPUT_LIMIT },
      cancel.signal,
      { trackProcessGroup: false },
    );
    const outcome = await running.outcome;
    const done = { durationMs: elapsed(), freed: running.freed };
    if (outcome.ending === 'closed' && outcome.exitCode === 0) return { healthy: true, ...done };
    // The probe's `error.type` is what the same ending of a command records.
    const errorType = errorCodeForOutcome(outcome);
    switch (outcome.ending) {
      case 'timeout':
        return { healthy: false, ...done, error: new Error(`health check timed out after ${config.timeout} ms`), errorType };
      case 'connection-lost':
        return { healthy: false, ...done, error: new Error('connection lost during the health check'), errorType };
      default: {
        const status = outcome.exitCode !== null ? `exit code ${outcome.exitCode}` : outcome.signal ?? 'no exit status';
        return { healthy: false, ...done, error: new Error(`health check command ended with ${status}`), errorType };
      }
    }
  } catch (error) {
    if (error instanceof ChannelOpenCancelled) {
      return {
        healthy: false,
        durationMs: elapsed(),
        error: new Error(`health check timed out after ${config.timeout} ms (no channel opened)`),
        errorType: ERROR_CODES.commandTimeout,
        freed: error.settled,
      };
    }
    return {
      healthy: false,
      durationMs: elapsed(),
      error: new Error(`health check could not open a channel: ${(error as Error).message}`),
      errorType: ERROR_CODES.channelRefused,
      freed: Promise.resolve(),
    };
  } finally {
    timer.cancel();
  }
}
