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
 * How many entries that arrived later may be served before a waiting entry, after which it
 * is served next whatever its priority. Keeps a steady stream of high-priority work from
 * starving low-priority work forever.
 */
export const DEFAULT_MAX_OVERTAKES = 32;

export interface WaitQueueOptions {
  /**
   * Aging bound: an entry is overtaken by at most this many later arrivals (of higher
   * priority, the only ones that can overtake it); then it is served before any other entry
   * that has not reached the bound. 0 turns aging off: strict priority order.
   * @default 32
   */
  readonly maxOvertakes?: number;
}

/**
 * The waiters of one pool key. Serving order:
 * 1. entries that have been overtaken `maxOvertakes` times ("aged"), oldest first;
 * 2. then by priority descending, FIFO (sequence ascending) within a priority.
 *
 * So with a bound of N, a waiter is served after at most N later arrivals plus those that
 * were already ahead of it: low priority is delayed, never starved. Within one priority the
 * order is always FIFO, because an entry can only be overtaken by a later arrival of strictly
 * higher priority, or by an aged (earlier) one.
 *
 * Invariant: `#items` is sorted by priority descending, then by sequence ascending;
 * `#aged` is sorted by sequence ascending.
 */
export class WaitQueue<T extends Queued> {
  #items: T[] = [];
  #aged: T[] = [];
  readonly #overtaken = new Map<T, number>();
  readonly #maxOvertakes: number;

  constructor(options: WaitQueueOptions = {}) {
    const max = options.maxOvertakes ?? DEFAULT_MAX_OVERTAKES;
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`maxOvertakes must be a non-negative integer, got ${String(max)}`);
    this.#maxOvertakes = max;
  }

  get length(): number {
    return this.#items.length + this.#aged.length;
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
    for (const list of [this.#items, this.#aged]) {
      const index = list.indexOf(item);
      if (index === -1) continue;
      list.splice(index, 1);
      this.#overtaken.delete(item);
      return true;
    }
    return false;
  }

  shift(): T | undefined {
    const fromAged = this.#aged.length > 0;
    const next = fromAged ? this.#aged.shift()! : this.#items.shift();
    if (next === undefined) return undefined;
    this.#overtaken.delete(next);
    // The head of a queue holding one priority only overtakes nobody: it arrived first.
    const overtakesNobody = !fromAged && (this.#items.length === 0 || this.#items.at(-1)!.priority === next.priority);
    if (this.#maxOvertakes > 0 && !overtakesNobody) this.#countOvertakes(next);
    return next;
  }

  /** The entry `shift()` would return, left in place. */
  peek(): T | undefined {
    return this.#aged[0] ?? this.#items[0];
  }

  /** The entries in serving order (a snapshot): the aged ones first, as `shift()` serves them. */
  items(): readonly T[] {
    return [...this.#aged, ...this.#items];
  }

  /** Empties the queue, returning what was in it in serving order. */
  drain(): T[] {
    this.#overtaken.clear();
    return [...this.#aged.splice(0), ...this.#items.splice(0)];
  }

  /** `served` went ahead of every entry that arrived before it: each of those ages by one. */
  #countOvertakes(served: T): void {
    const nowAged: T[] = [];
    this.#items = this.#items.filter((item) => {
      if (item.seq >= served.seq) return true;
      const count = (this.#overtaken.get(item) ?? 0) + 1;
      if (count < this.#maxOvertakes) {
        this.#overtaken.set(item, count);
        return true;
      }
      this.#overtaken.delete(item);
      nowAged.push(item);
      return false;
    });
    if (nowAged.length === 0) return;
    // Aged entries keep their arrival order among themselves.
    this.#aged.push(...nowAged);
    this.#aged.sort((a, b) => a.seq - b.seq);
  }
}
