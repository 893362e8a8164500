/** Warning codes of callbacks that threw: user listeners, and the pool's own observers. */
export type ListenerWarningCode = 'SSHPOOL_LISTENER_ERROR' | 'SSHPOOL_OBSERVER_ERROR';

/**
 * Reports a listener that threw as a process warning. Every place that calls listeners catches
 * around each call and reports here, so one throwing listener never breaks the pool or the
 * listeners after it. (A catch at each call site, not a wrapper: the pool's event stream runs
 * several times per command.)
 */
export function warnListenerThrew(which: string, error: unknown, code: ListenerWarningCode = 'SSHPOOL_LISTENER_ERROR'): void {
  process.emitWarning(`sshpool: ${which} threw: ${(error as Error | null)?.message ?? String(error)}`, { code });
}
