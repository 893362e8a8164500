// FirstLogin: until a pool key has a connection, attempts run their handshakes side by side but
// log in one at a time, and a refused login ends the others without offering anything.
import { describe, expect, it } from 'vitest';
import { FirstLogin } from '../../../src/pool/first-login.js';
import type { LoginTurnAnswer } from '../../../src/ssh/connection.js';

function setup() {
  const state = { proven: false, reachedCalls: 0 };
  const gate = new FirstLogin({ proven: () => state.proven, serverReached: () => void state.reachedCalls++ });
  return { gate, state };
}

/** What a pending turn resolved to, once it did. */
function track(turn: LoginTurnAnswer | Promise<LoginTurnAnswer>): { value?: LoginTurnAnswer } {
  const seen: { value?: LoginTurnAnswer } = {};
  if (typeof turn === 'string') seen.value = turn;
  else void turn.then((value) => (seen.value = value));
  return seen;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('first login', () => {
  it('lets the first attempt log in at once and holds the next ones until its login is answered', async () => {
    const { gate } = setup();
    const [first, second, third] = [gate.begin(), gate.begin(), gate.begin()];
    expect(first.loginTurn()).toBe('granted');
    const waiting = [track(second.loginTurn()), track(third.loginTurn())];
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual([undefined, undefined]);
    expect(gate.waitingCount).toBe(2);
    gate.end(first, 'connected');
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual(['granted', 'granted']);
    expect(gate.waitingCount).toBe(0);
  });

  it('ends the waiting attempts without a login when the first login is refused', async () => {
    const { gate } = setup();
    const [first, second, third] = [gate.begin(), gate.begin(), gate.begin()];
    first.loginTurn();
    const waiting = [track(second.loginTurn()), track(third.loginTurn())];
    gate.end(first, 'refused');
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual(['refused', 'refused']);
  });

  it('hands the turn to the next waiting attempt, and to it alone, when the login failed for another reason', async () => {
    const { gate } = setup();
    const [first, second, third] = [gate.begin(), gate.begin(), gate.begin()];
    first.loginTurn();
    const waiting = [track(second.loginTurn()), track(third.loginTurn())];
    gate.end(first, 'transient');
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual(['granted', undefined]);
    gate.end(second, 'connected');
    await settle();
    expect(waiting.map((turn) => turn.value)).toEqual(['granted', 'granted']);
  });

  it('never waits once the pool key has a usable connection', () => {
    const { gate, state } = setup();
    const [first, second] = [gate.begin(), gate.begin()];
    first.loginTurn();
    state.proven = true;
    expect(second.loginTurn()).toBe('granted');
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
    expect(later.value).toBe('granted');
  });

  it('refuses an attempt begun before the refusal that asks for its turn only afterwards (its key exchange was slower)', () => {
    const { gate } = setup();
    const [first, slow] = [gate.begin(), gate.begin()];
    first.loginTurn();
    gate.end(first, 'refused');
    expect(slow.loginTurn()).toBe('refused');
  });

  it('lets an attempt begun before a successful login log in at once when it asks afterwards', () => {
    const { gate } = setup();
    const [first, slow, other] = [gate.begin(), gate.begin(), gate.begin()];
    first.loginTurn();
    gate.end(first, 'connected');
    expect(slow.loginTurn()).toBe('granted');
    expect(other.loginTurn()).toBe('granted');
  });

  it('after a refusal, a new attempt is the first again', () => {
    const { gate } = setup();
    const first = gate.begin();
    first.loginTurn();
    gate.end(first, 'refused');
    expect(gate.begin().loginTurn()).toBe('granted');
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
    expect(attempt.loginTurn()).toBe('refused');
  });

  it('ends the waiting attempts, and later ones, with closed when the pool closes', async () => {
    const { gate } = setup();
    const [first, second] = [gate.begin(), gate.begin()];
    first.loginTurn();
    const waiting = track(second.loginTurn());
    gate.close();
    await settle();
    expect(waiting.value).toBe('closed');
    expect(gate.begin().loginTurn()).toBe('closed');
  });

  it('refuses an attempt of an open that started before the refusal, though the attempt itself began after it', () => {
    const { gate } = setup();
    const since = gate.generation;
    const first = gate.begin();
    first.loginTurn();
    gate.end(first, 'refused');
    // The open waited at the connect gate meanwhile, and begins its attempt only now.
    expect(gate.begin(since).loginTurn()).toBe('refused');
    expect(gate.begin().loginTurn()).toBe('granted');
  });

  it('lets the waiting attempts in when any attempt logs in, not only the one whose turn it is', async () => {
    const { gate, state } = setup();
    const [covered, first, waiting] = [gate.begin(), gate.begin(), gate.begin()];
    state.proven = true;
    expect(covered.loginTurn()).toBe('granted');
    state.proven = false;
    expect(first.loginTurn()).toBe('granted');
    const turn = track(waiting.loginTurn());
    // The attempt let in while a connection was usable logged in: the credentials are proven.
    gate.end(covered, 'connected');
    await settle();
    expect(turn.value).toBe('granted');
  });

  it('refuses attempts begun before a refusal of any attempt that offered credentials', () => {
    const { gate, state } = setup();
    const [offered, later] = [gate.begin(), gate.begin()];
    state.proven = true;
    expect(offered.loginTurn()).toBe('granted');
    gate.end(offered, 'refused');
    state.proven = false;
    expect(later.loginTurn()).toBe('refused');
  });

  it('does not count a failure of an attempt that never offered credentials as a refused login', () => {
    const { gate } = setup();
    const [first, rejectedHostKey, other] = [gate.begin(), gate.begin(), gate.begin()];
    expect(first.loginTurn()).toBe('granted');
    // Say, a host key the policy did not accept: a permanent failure before any login.
    gate.end(rejectedHostKey, 'refused');
    gate.end(first, 'transient');
    expect(other.loginTurn()).toBe('granted');
  });
});
