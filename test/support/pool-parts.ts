// Small pieces for testing the host pool's parts one at a time: an event recorder, entries over
// fake connections, and promises the test settles by hand.
import { HostPoolEventStream } from '../../src/pool/host-pool-events.js';
import type { HostPoolEvent, HostPoolEventType } from '../../src/pool/host-pool-events.js';
import { PoolEntry } from '../../src/pool/pool-entry.js';
import type { Slot } from '../../src/pool/slot.js';
import { FakeConnection } from './fake-connections.js';
import type { FakeConnectionLayer } from './fake-connections.js';
import type { FakeClock } from './fake-clock.js';

export type EventOf<T extends HostPoolEventType> = Extract<HostPoolEvent, { type: T }>;

/** An event stream that keeps everything emitted on it. */
export class RecordedEvents extends HostPoolEventStream {
  readonly all: HostPoolEvent[] = [];

  constructor() {
    super();
    this.subscribe((event) => this.all.push(event));
  }

  of<T extends HostPoolEventType>(type: T): Array<EventOf<T>> {
    return this.all.filter((event): event is EventOf<T> => event.type === type);
  }

  types(): HostPoolEventType[] {
    return this.all.map((event) => event.type);
  }
}

/** A promise and the functions that settle it. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An entry over a new fake connection, opened at the clock's `now`. */
export function entryOf(layer: FakeConnectionLayer, clock: FakeClock, channelLimit = 2): PoolEntry {
  return new PoolEntry(new FakeConnection(layer), channelLimit, clock.now());
}

/** Lends a slot of `entry` directly, as the slot lender would. */
export function slotOf(entry: PoolEntry, clock: FakeClock): Slot {
  const first = entry.lend();
  return { entry, connection: entry.connection, outcome: first ? 'created' : 'reused', waitMs: 0, grantedAt: clock.now() };
}

