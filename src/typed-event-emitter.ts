import type { PoolEventListener, PoolEventName, PoolEvents } from './types.js';

/**
 * Event dispatch that a listener cannot break: a throwing listener is reported as a process
 * warning and the remaining listeners still run, so pool state is never left half-updated.
 */
// Listeners are stored type-erased; `on`/`emit` restore the per-event types at the boundary.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

export class TypedEventEmitter {
  #listeners = new Map<PoolEventName, Set<AnyListener>>();

  on<E extends PoolEventName>(event: E, listener: PoolEventListener<E>): this {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as unknown as AnyListener);
    return this;
  }

  once<E extends PoolEventName>(event: E, listener: PoolEventListener<E>): this {
    const wrapped = ((...args: PoolEvents[E]) => {
      this.off(event, wrapped);
      listener(...args);
    }) as PoolEventListener<E>;
    return this.on(event, wrapped);
  }

  off<E extends PoolEventName>(event: E, listener: PoolEventListener<E>): this {
    this.#listeners.get(event)?.delete(listener as unknown as AnyListener);
    return this;
  }

  listenerCount(event: PoolEventName): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  emit<E extends PoolEventName>(event: E, ...args: PoolEvents[E]): void {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        process.emitWarning(`sshpool: a '${event}' listener threw: ${(error as Error)?.message ?? String(error)}`, {
          code: 'SSHPOOL_LISTENER_ERROR',
        });
      }
    }
  }
}
