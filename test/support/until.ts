/**
 * Waits until `condition()` holds (or resolves true), polling every 10 ms, and resolves with the time it took;
 * throws once `timeoutMs` has passed. Tests wait for state this way, never with a fixed sleep.
 */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - started;
}
