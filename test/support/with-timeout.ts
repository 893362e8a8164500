/**
 * `promise`, or a rejection once `ms` have passed. `what` names the wait ("… did not settle
 * within N ms"); a function gives the whole message, built when the time is up, so it can
 * report what had happened by then.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(typeof what === 'function' ? what() : `${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
