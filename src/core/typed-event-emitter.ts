import { warnListenerThrew } from './listener-warning.js';

/**
 * Event dispatch that a listener cannot break: a throwing listener is reported as a process
 * warning and the remaining listeners still run, so pool state is never left half-updated.
 */
// Listeners are stored type-erased; `on`/`emit` restore the per-event types at the boundary.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

/** Event name → listener arguments. */
type EventMap<Events> = { [K in keyof Events]: unknown[] };

export class TypedEventEmitter<Events extends EventMap<Events>> {
  #listeners = new Map<keyof Events, Set<AnyListener>>();

  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as unknown as AnyListener);
    return this;
  }

  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    const wrapped = (...args: Events[E]): void => {
      this.off(event, wrapped);
      listener(...args);
    };
    return this.on(event, wrapped);
  }

  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this {
    this.#listeners.get(event)?.delete(listener as unknown as AnyListener);
    return this;
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        warnListenerThrew(`a '${String(event)}' listener`, error);
      }
    }
  }
}
