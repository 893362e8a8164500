/** A host pool as the budget sees it: something that may give up an idle connection. */
export interface BudgetMember {
  /** Closes this member's longest-idle connection, if it has one; true when it did. */
  closeOneIdleConnection(): boolean;
}

/**
 * The instance-wide cap on connections (`maxTotalConnections`), so that a fleet of hundreds
 * of hosts cannot exhaust file descriptors. Every open or opening connection holds one
 * permit. When none is free, idle connections of other pool keys are closed to make room;
 * connections in use never are. Requests that still cannot be served wait in FIFO order.
 */
export class ConnectionBudget {
  readonly #max: number;
  #used = 0;
  #waiting: Array<{ requester: BudgetMember; grant: (granted: boolean) => void }> = [];
  #members = new Set<BudgetMember>();

  /** `max` 0 means unlimited. */
  constructor(max: number) {
    this.#max = max;
  }

  get used(): number {
    return this.#used;
  }

  join(member: BudgetMember): void {
    this.#members.add(member);
  }

  /** A closing member stops waiting: its pending requests resolve `false`. */
  leave(member: BudgetMember): void {
    this.#members.delete(member);
    const leaving = this.#waiting.filter((entry) => entry.requester === member);
    this.#waiting = this.#waiting.filter((entry) => entry.requester !== member);
    for (const entry of leaving) entry.grant(false);
  }

  /** Resolves `true` when `requester` may open one connection, `false` if it left meanwhile. */
  acquire(requester: BudgetMember): Promise<boolean> {
    if (this.#max === 0 || this.#used < this.#max) {
      this.#used++;
      return Promise.resolve(true);
    }
    const granted = new Promise<boolean>((grant) => this.#waiting.push({ requester, grant }));
    this.#evictFor(requester);
    return granted;
  }

  /** Gives a permit back: the connection closed, or its open failed. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next.grant(true);
    else this.#used = Math.max(0, this.#used - 1);
  }

  /** A member's connection just became idle: if another member waits for a permit, hand it over. */
  connectionIdled(member: BudgetMember): void {
    if (this.#waiting.some((entry) => entry.requester !== member)) member.closeOneIdleConnection();
  }

  #evictFor(requester: BudgetMember): void {
    // The closed connection's permit passes to the head waiter through release().
    for (const member of this.#members) {
      if (member !== requester && member.closeOneIdleConnection()) return;
    }
  }
}
