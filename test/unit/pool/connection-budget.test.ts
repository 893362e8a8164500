import { describe, expect, it } from 'vitest';
import { ConnectionBudget } from '../../../src/pool/connection-budget.js';

describe('connection budget', () => {
  const member = (idle: number) => ({ idle, closed: 0, closeOneIdleConnection(): boolean {
    if (this.idle === 0) return false;
    this.idle--;
    this.closed++;
    return true;
  } });

  it('grants permits up to the cap, then asks another member to give up an idle connection', async () => {
    const budget = new ConnectionBudget(1);
    const a = member(1);
    const b = member(0);
    budget.join(a);
    budget.join(b);
    expect(await budget.acquire(a)).toBe(true);
    const waiting = budget.acquire(b);
    expect(a.closed).toBe(1);
    budget.release(); // the idle connection of `a` closed: its permit goes to `b`
    expect(await waiting).toBe(true);
    expect(budget.used).toBe(1);
  });

  it('never evicts from the requester itself, and is unlimited at 0', async () => {
    const budget = new ConnectionBudget(1);
    const a = member(3);
    budget.join(a);
    await budget.acquire(a);
    void budget.acquire(a);
    expect(a.closed).toBe(0);
    const unlimited = new ConnectionBudget(0);
    for (let i = 0; i < 100; i++) expect(await unlimited.acquire(a)).toBe(true);
  });

  it('resolves the pending requests of a member that leaves with false', async () => {
    const budget = new ConnectionBudget(1);
    const a = member(0);
    const b = member(0);
    budget.join(a);
    budget.join(b);
    await budget.acquire(a);
    const pending = budget.acquire(b);
    budget.leave(b);
    expect(await pending).toBe(false);
  });
});
