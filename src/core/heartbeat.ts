import type { Clock, TimerHandle } from './clock.js';

/** What a heartbeat calls once per period. */
export interface HeartbeatMember {
  tick(): void;
}

/**
 * One timer per clock and period for every member that wants to be called at that period,
 * instead of a timer each: a fleet of thousands of pool keys, each with periodic upkeep, then
 * keeps one timer, not thousands. Members are called in the order they joined. A member that
 * throws does not stop the others; its error is rethrown on its own, as a timer's would be.
 * Timers come from the clock, so they keep the process alive exactly as the clock's own do
 * (the system clock's never do).
 */
class Heartbeat {
  readonly #clock: Clock;
  readonly #period: number;
  readonly #members = new Set<HeartbeatMember>();
  readonly #emptied: () => void;
  #timer: TimerHandle | undefined;

  constructor(clock: Clock, period: number, emptied: () => void) {
    this.#clock = clock;
    this.#period = period;
    this.#emptied = emptied;
  }

  join(member: HeartbeatMember): () => void {
    this.#members.add(member);
    this.#timer ??= this.#schedule();
    return () => this.#leave(member);
  }

  #leave(member: HeartbeatMember): void {
    if (!this.#members.delete(member) || this.#members.size > 0) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#emptied();
  }

  #schedule(): TimerHandle {
    return this.#clock.setTimeout(() => this.#beat(), this.#period);
  }

  #beat(): void {
    this.#timer = undefined;
    for (const member of [...this.#members]) {
      // One that left during this beat (a pool closed by another's upkeep) is not called.
      if (!this.#members.has(member)) continue;
      try {
        member.tick();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    if (this.#members.size > 0) this.#timer ??= this.#schedule();
  }
}

const heartbeats = new WeakMap<Clock, Map<number, Heartbeat>>();

/**
 * Calls `member.tick()` every `period` ms of `clock`, on the timer shared by every member of
 * that clock and period, until the returned function is called. The first call comes within
 * one period of joining (sooner when the shared timer is already running).
 */
export function joinHeartbeat(clock: Clock, period: number, member: HeartbeatMember): () => void {
  let byPeriod = heartbeats.get(clock);
  if (!byPeriod) heartbeats.set(clock, (byPeriod = new Map()));
  let heartbeat = byPeriod.get(period);
  if (!heartbeat) {
    const periods = byPeriod;
    const created: Heartbeat = new Heartbeat(clock, period, () => {
      if (periods.get(period) === created) periods.delete(period);
    });
    periods.set(period, created);
    heartbeat = created;
  }
  return heartbeat.join(member);
}
