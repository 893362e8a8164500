/** Something waiting its turn: higher priority first, then lower sequence number. */
export interface Queued {
  readonly priority: number;
  readonly seq: number;
}

let nextSeq = 0;

/** A sequence number for a new entry: arrival order, or ahead of everyone for `front`. */
export function nextSequence(front: boolean): number {
  nextSeq++;
  return front ? -nextSeq : nextSeq;
}

/**
 * The waiters of one pool key. Invariant: `items` is sorted by priority descending, then by
 * sequence ascending, so the head is always the next to serve.
 */
export class WaitQueue<T extends Queued> {
  #items: T[] = [];

  get length(): number {
    return this.#items.length;
  }

  add(item: T): void {
    // Insertion from the tail: most arrivals have the default priority and belong there.
    let index = this.#items.length;
    while (index > 0) {
      const before = this.#items[index - 1]!;
      if (before.priority > item.priority || (before.priority === item.priority && before.seq < item.seq)) break;
      index--;
    }
    this.#items.splice(index, 0, item);
  }

  /** Removes `item`; false when it was not (or no longer) queued. */
  remove(item: T): boolean {
    const index = this.#items.indexOf(item);
    if (index === -1) return false;
    this.#items.splice(index, 1);
    return true;
  }

  shift(): T | undefined {
    return this.#items.shift();
  }

  /** The entries in serving order (a snapshot). */
  items(): readonly T[] {
    return [...this.#items];
  }

  /** Empties the queue, returning what was in it in serving order. */
  drain(): T[] {
    return this.#items.splice(0);
  }
}
