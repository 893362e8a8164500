import type { ChannelOutcome } from './run-channel.js';

/**
 * The stable error code a command outcome maps to, or undefined for success. Shared by the
 * error a caller receives and the `error.type` telemetry records, so the two always agree.
 */
export function errorCodeForOutcome(outcome: ChannelOutcome): string | undefined {
  switch (outcome.ending) {
    case 'closed':
      return outcome.exitCode === 0 ? undefined : 'ERR_SSHPOOL_COMMAND_FAILED';
    case 'timeout':
      return 'ERR_SSHPOOL_COMMAND_TIMEOUT';
    case 'aborted':
      return 'ERR_SSHPOOL_ABORTED';
    case 'output-limit':
      return 'ERR_SSHPOOL_OUTPUT_LIMIT';
    case 'connection-lost':
      return 'ERR_SSHPOOL_CONNECTION_LOST';
  }
}
