/**
 * What a cancellable piece of work watches: the part of `AbortSignal` the pool uses, so that a
 * caller's `AbortSignal` fits wherever a `CancelSignal` is asked for.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { readonly once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A cancel signal and its trigger in one small object, for work the pool stops itself (every
 * running command has one). An `AbortController` costs an `EventTarget`, and each listener an
 * options check and a wrapper object, on the path of every command; this keeps a plain list.
 * As with `AbortSignal`: listeners run once, in the order they were added, a listener removed
 * while others run is not called, and one that throws does not keep the others from running.
 */
export class CancelSource implements CancelSignal {
  #aborted = false;
  #reason: unknown;
  // Most commands never add more than three, and never abort: no array until the first listener.
  #listeners: Array<() => void> | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** Every listener is a `once` listener: it is dropped when it runs, whatever the options say. */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.#aborted) return;
    const listeners = (this.#listeners ??= []);
    if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    if (!listeners) return;
    const index = listeners.indexOf(listener);
    if (index !== -1) listeners.splice(index, 1);
  }

  /** Cancels with `reason` and tells the listeners; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = this.#listeners;
    if (!listeners) return;
    for (const listener of [...listeners]) {
      const index = listeners.indexOf(listener);
      if (index === -1) continue;
      listeners.splice(index, 1);
      try {
        listener();
      } catch (error) {
        // As an EventTarget reports it: an uncaught exception, after the other listeners ran.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
