/** Longest delay Node's timers take: above 2^31-1 ms they fire after 1 ms instead. Every ms option is capped here. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A scheduled callback that can be cancelled. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time as the pool sees it. Every timer the pool makes goes through here, so that a test can
 * drive the pool deterministically with a fake clock. Timers made here never keep the process
 * alive: whether it stays alive is decided by `ProcessHold` alone.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (`performance.now()` for the real clock). */
  now(): number;
  /** Milliseconds since the epoch, for span timestamps. */
  epochNow(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  epochNow: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/**
 * Resolves after `ms` on `clock`, or at once when `cutShort` fires (resolving, not rejecting:
 * a backoff is simply over when its pool is closing).
 */
export function sleep(clock: Clock, ms: number, cutShort?: AbortSignal): Promise<void> {
  if (ms <= 0 || cutShort?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      timer.cancel();
      cutShort?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    cutShort?.addEventListener('abort', done, { once: true });
  });
}
