/**
 * Default of `maxOutputMemory`: 512 MiB of output buffered by the running commands of one
 * `SSHConnectionPool`, all pool keys together. Without a pool-wide bound, 100 commands with
 * endless output each filled their `maxBuffer` (16 MiB per stream) and took the process to
 * 1.75 GB of RSS.
 */
export const DEFAULT_MAX_OUTPUT_MEMORY = 512 * 1024 * 1024;

/** One running command's channel, as the budget sees it. */
export interface OutputBudgetMember {
  /** Stop taking output: the SSH window is then no longer replenished, so the server stops sending. */
  pause(): void;
  resume(): void;
  /** End the command with `OutputLimitError`: every command holding output is paused, and this one holds the most. */
  starve(): void;
}

interface Holding {
  bytes: number;
  paused: boolean;
}

/**
 * Room a paused command needs before it is resumed: what it may take at once when it resumes
 * (what ssh2 kept for it while it was paused, about one receive window).
 */
const RESUME_ROOM_BYTES = 4 * 1024 * 1024;

/**
 * The bytes of output that running commands hold, pool-wide. A command whose output takes the
 * total past the limit is paused (backpressure reaches the server through the SSH window) and
 * resumed, oldest first and only as many as there is room for, once others have finished.
 * When every command holding output is paused and none can be resumed, none could ever
 * finish, so the one holding the most is ended with `OutputLimitError` and the others go on.
 * What a paused channel still receives (at most its receive window, 4 MiB) is held by ssh2
 * until it resumes, so memory stays under `limit` plus one window per running command.
 */
export class OutputBudget {
  readonly limit: number;
  #used = 0;
  readonly #members = new Map<OutputBudgetMember, Holding>();
  #pausedCount = 0;
  #checkScheduled = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held by running commands now. */
  get used(): number {
    return this.#used;
  }

  /** Whether channels may keep receive windows wider than ssh2's: not once half the budget is used. */
  readonly roomy = (): boolean => this.#used * 2 < this.limit;

  join(member: OutputBudgetMember): void {
    this.#members.set(member, { bytes: 0, paused: false });
  }

  /** Counts `bytes` that arrived for `member`; pauses it when the pool is over its limit. */
  take(member: OutputBudgetMember, bytes: number): void {
    const holding = this.#members.get(member);
    if (!holding) return;
    holding.bytes += bytes;
    this.#used += bytes;
    if (this.#used <= this.limit || holding.paused) return;
    holding.paused = true;
    this.#pausedCount++;
    member.pause();
    this.#scheduleCheck();
  }

  /** Gives back everything `member` held: its command has ended (its output is its caller's now). */
  leave(member: OutputBudgetMember): void {
    const holding = this.#members.get(member);
    if (!holding) return;
    this.#members.delete(member);
    this.#used -= holding.bytes;
    if (holding.paused) this.#pausedCount--;
    if (this.#pausedCount > 0) this.#scheduleCheck();
  }

  // Deferred: a resumed channel delivers what it holds at once, and a starved one settles
  // and leaves; neither may run inside another channel's data handler.
  #scheduleCheck(): void {
    if (this.#checkScheduled) return;
    this.#checkScheduled = true;
    setImmediate(() => {
      this.#checkScheduled = false;
      this.#check();
    }).unref();
  }

  /** Whether a resumed command fits: what it may take at once, and then some. */
  get #roomToResume(): boolean {
    return this.#used + Math.min(RESUME_ROOM_BYTES, this.limit / 4) <= this.limit;
  }

  #check(): void {
    if (this.#pausedCount === 0) return;
    if (this.#roomToResume) {
      // Oldest first; each resumed command is counted as taking its room until it reports.
      let room = this.limit - this.#used;
      const need = Math.min(RESUME_ROOM_BYTES, this.limit / 4);
      for (const [member, holding] of this.#members) {
        if (room < need) break;
        if (!holding.paused) continue;
        holding.paused = false;
        this.#pausedCount--;
        room -= need;
        member.resume();
      }
      return;
    }
    let largest: OutputBudgetMember | undefined;
    let largestBytes = -1;
    for (const [member, holding] of this.#members) {
      // A running holder may still finish and give its bytes back.
      if (holding.bytes > 0 && !holding.paused) return;
      if (holding.bytes > largestBytes) {
        largest = member;
        largestBytes = holding.bytes;
      }
    }
    largest?.starve();
  }
}
