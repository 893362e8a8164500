/**
 * Calls `start` and returns its promise, a synchronous throw turned into a rejection as an
 * async function would: for continuation-style code on the per-command path, which avoids
 * async functions (their resumes cost more before the JIT has optimised them).
 */
export function promiseOf<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(error as Error);
  }
}
