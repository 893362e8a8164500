// FirstLogin: until a pool key has a connection, attempts run their handshakes side by side but
// log in one at a time, and a refused login ends the others without offering anything.
import { describe, expect, it } from 'vitest';
import { FirstLogin } from '../../../src/pool/first-login.js';

function setup() {
  const state = { proven: false, reachedCalls: 0 };
  const gate = new FirstLogin({ proven: () => state.proven, serverReached: () => void state.reachedCalls++ });
  return { gate, state };
}

/** What a pending turn resolved to, once it did. */
function track(turn: boolean | Promise<boolean>): { value?: boolean } {
  const seen: { value?: boolean } = {};
  if (typeof turn === 'boolean') seen.value = turn;
  else void turn.then((value) => (seen.value = value));
  return seen;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('first login', () => {
  it('lets the first attempt log in at once and holds the next ones until its login is answered', async () => {
    const { gate } = setup();
    const [first, second, third] = [gate.begin(), gate.begin(), gate.begin()];
    expect(first.loginTurn()).toBe(true);
    const waiting = [track(second.loginTurn()), track(third.loginTurn())];
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual([undefined, undefined]);
    expect(gate.waitingCount).toBe(2);
    gate.end(first, 'connected');
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual([true, true]);
    expect(gate.waitingCount).toBe(0);
  });

  it('ends the waiting attempts without a login when the first login is refused', async () => {
    const { gate } = setup();
    const [first, second, third] = [gate.begin(), gate.begin(), gate.begin()];
    first.loginTurn();
    const waiting = [track(second.loginTurn()), track(third.loginTurn())];
    gate.end(first, 'refused');
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual([false, false]);
  });

  it('hands the turn to the next waiting attempt, and to it alone, when the login failed for another reason', async () => {
    const { gate } = setup();
    const [first, second, third] = [gate.begin(), gate.begin(), gate.begin()];
    first.loginTurn();
    const waiting = [track(second.loginTurn()), track(third.loginTurn())];
    gate.end(first, 'transient');
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual([true, undefined]);
    gate.end(second, 'connected');
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual([true, true]);
  });

  it('never waits once the pool key has a usable connection', () => {
    const { gate, state } = setup();
    const [first, second] = [gate.begin(), gate.begin()];
    first.loginTurn();
    state.proven = true;
    expect(second.loginTurn()).toBe(true);
  });

  it('forgets an attempt that ended while waiting: the turn goes to one still there', async () => {
    const { gate } = setup();
    const [first, second, third] = [gate.begin(), gate.begin(), gate.begin()];
    first.loginTurn();
    const timedOut = track(second.loginTurn());
    const later = track(third.loginTurn());
    gate.end(second, 'transient');
    expect(gate.waitingCount).toBe(1);
    gate.end(first, 'transient');
    await settle();
    expect(timedOut.value).toBeUndefined();
    expect(later.value).toBe(true);
  });

  it('refuses an attempt begun before the refusal that asks for its turn only afterwards (its key exchange was slower)', () => {
    const { gate } = setup();
    const [first, slow] = [gate.begin(), gate.begin()];
    first.loginTurn();
    gate.end(first, 'refused');
    expect(slow.loginTurn()).toBe(false);
  });

  it('lets an attempt begun before a successful login log in at once when it asks afterwards', () => {
    const { gate } = setup();
    const [first, slow, other] = [gate.begin(), gate.begin(), gate.begin()];
    first.loginTurn();
    gate.end(first, 'connected');
    expect(slow.loginTurn()).toBe(true);
    expect(other.loginTurn()).toBe(true);
  });

  it('after a refusal, a new attempt is the first again', () => {
    const { gate } = setup();
    const first = gate.begin();
    first.loginTurn();
    gate.end(first, 'refused');
    expect(gate.begin().loginTurn()).toBe(true);
  });

  it('tells of the server answering once per stretch with no attempt in flight that reached it', () => {
    const { gate, state } = setup();
    const [first, second] = [gate.begin(), gate.begin()];
    expect(gate.serverAnswering).toBe(false);
    first.reached();
    first.reached();
    second.reached();
    expect(state.reachedCalls).toBe(1);
    expect(gate.serverAnswering).toBe(true);
    gate.end(first, 'connected');
    expect(gate.serverAnswering).toBe(true);
    gate.end(second, 'transient');
    expect(gate.serverAnswering).toBe(false);
    gate.begin().reached();
    expect(state.reachedCalls).toBe(2);
  });

  it('ignores hooks called after their attempt ended', () => {
    const { gate, state } = setup();
    const attempt = gate.begin();
    gate.end(attempt, 'transient');
    attempt.reached();
    expect(state.reachedCalls).toBe(0);
    expect(attempt.loginTurn()).toBe(false);
  });
});
