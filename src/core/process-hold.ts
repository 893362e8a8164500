import { MAX_TIMER_MS } from './clock.js';
/**
 * What keeps the Node.js process alive on the pool's behalf. The rule, as Node's `http.Agent`
 * keeps it: pending or running work (a waiting acquire, a running command, a held lease, a
 * remote kill in progress) keeps the process alive; idle state (idle sockets, keepalives, health
 * probes, housekeeping timers) never does. Every socket and timer of the pool is unref'd; this
 * counted hold is the one thing that is ref'd.
 */
export interface ProcessHold {
  /** Takes one hold; the returned function gives it back (idempotent). */
  take(): () => void;
  /** Holds taken and not given back. */
  readonly count: number;
}


/**
 * The process-wide hold: one timer, ref'd while at least one hold is taken. It is made once and
 * only switched between ref and unref, which is cheaper than a timer per command.
 */
class TimerProcessHold implements ProcessHold {
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  get count(): number {
    return this.#count;
  }

  take(): () => void {
    if (this.#count++ === 0) {
      this.#timer ??= setInterval(() => {}, MAX_TIMER_MS);
      this.#timer.ref();
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      if (--this.#count === 0) this.#timer?.unref();
    };
  }
}

export const processHold: ProcessHold = new TimerProcessHold();
