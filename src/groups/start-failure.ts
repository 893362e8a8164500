import { AcquireTimeoutError, ChannelRefusedError, ConnectError } from '../core/errors.js';

/** A rejection that proves the command never ran on the host, so another host may run it. */
export interface StartFailure {
  /** The connection failure to count against the host, when that is what went wrong. */
  readonly hostFault: ConnectError | undefined;
}

/**
 * Sorts a rejection of one try of a group command: `StartFailure` when the command never
 * started on that host (its connection could not be opened, no slot became free, every
 * channel was refused) and may move on; undefined when the rejection is the caller's answer
 * (pool closed, invalid argument, the command's own timeout or abort).
 *
 * A command that did start is never rejected: it resolves with how it ended, and whether it
 * may run again elsewhere is the group's call (only `connection-lost`, only when retryable).
 */
export function startFailureOf(error: unknown): StartFailure | undefined {
  if (error instanceof ConnectError) return { hostFault: error };
  if (error instanceof AcquireTimeoutError) {
    // Waited in vain: the host's fault only when opening a connection is what failed.
    return { hostFault: error.cause instanceof ConnectError ? error.cause : undefined };
  }
  if (error instanceof ChannelRefusedError) return { hostFault: undefined };
  return undefined;
}
