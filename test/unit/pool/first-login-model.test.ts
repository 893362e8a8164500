// Model-based test of FirstLogin: fast-check runs random sequences of attempts that begin, reach
// the server, ask for their login turn and end (logged in, failed for a passing reason, refused),
// with the pool key's connection coming and going and the pool closing, and checks after every
// step what the gate promises: while no login speaks for the credentials, at most one attempt
// offers them; no attempt that a refused login covers offers them again; nobody waits without
// an attempt logging in to wait on; a closed gate lets nobody in.
//   SSHPOOL_MODEL_RUNS=20000 npx vitest run test/unit/pool/first-login-model.test.ts   (long mode: npm run test:model)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FirstLogin } from '../../../src/pool/first-login.js';
import type { AttemptEnd } from '../../../src/pool/first-login.js';
import type { ConnectAttemptHooks, LoginTurnAnswer } from '../../../src/ssh/connection.js';

const RUNS = Number.parseInt(process.env['SSHPOOL_MODEL_RUNS'] ?? '2000', 10);

interface TrackedAttempt {
  readonly hooks: ConnectAttemptHooks;
  asked: boolean;
  /** The answer, once it came (at once, or when the wait ended). */
  answer: LoginTurnAnswer | undefined;
  /** Whether the pool key had a usable connection when the answer came. */
  answeredProven: boolean;
  ended: boolean;
  /** A successful login ended after this attempt began: it speaks for its credentials. */
  coveredByLogin: boolean;
  /** A refused login ended after this attempt began. */
  coveredByRefusal: boolean;
}

interface World {
  readonly gate: FirstLogin;
  readonly attempts: TrackedAttempt[];
  proven: boolean;
  closed: boolean;
  violations: string[];
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function record(world: World, attempt: TrackedAttempt, answer: LoginTurnAnswer): void {
  attempt.answer = answer;
  attempt.answeredProven = world.proven;
  if (answer !== 'granted') return;
  // Granted while a refused login covers it, and nothing else speaks for the credentials.
  if (attempt.coveredByRefusal && !attempt.coveredByLogin && !world.proven) {
    world.violations.push('an attempt covered by a refused login was let in');
  }
}

/** Attempts offering credentials that no answered login or usable connection speaks for. */
function unprovenLogins(world: World): TrackedAttempt[] {
  return world.attempts.filter((a) => !a.ended && a.answer === 'granted' && !a.answeredProven && !a.coveredByLogin);
}

function check(world: World): void {
  if (!world.proven && unprovenLogins(world).length > 1) world.violations.push('two attempts log in with unproven credentials');
  if (world.gate.waitingCount > 0 && unprovenLogins(world).length === 0 && !world.proven) {
    world.violations.push('attempts wait with no login under way to wait on');
  }
  expect(world.violations).toEqual([]);
}

type Step = fc.AsyncCommand<object, World>;

class Begin implements Step {
  check = () => true;
  async run(_: object, world: World): Promise<void> {
    world.attempts.push({
      hooks: world.gate.begin(), asked: false, answer: undefined, answeredProven: false, ended: false,
      coveredByLogin: false, coveredByRefusal: false,
    });
    check(world);
  }
  toString = () => 'begin';
}

/** The `index`-th (modulo) of the attempts that `keep` picks: steps act on attempts they apply to. */
function pick(world: World, index: number, keep: (attempt: TrackedAttempt) => boolean): TrackedAttempt | undefined {
  const candidates = world.attempts.filter(keep);
  return candidates[index % Math.max(1, candidates.length)];
}

class Reach implements Step {
  constructor(readonly index: number) {}
  check = () => true;
  async run(_: object, world: World): Promise<void> {
    pick(world, this.index, (a) => !a.ended)?.hooks.reached();
    check(world);
  }
  toString = () => `reach(${this.index})`;
}

class Ask implements Step {
  constructor(readonly index: number) {}
  check = () => true;
  async run(_: object, world: World): Promise<void> {
    const attempt = pick(world, this.index, (a) => !a.asked && !a.ended);
    if (!attempt) return;
    attempt.asked = true;
    const answer = attempt.hooks.loginTurn();
    if (typeof answer === 'string') record(world, attempt, answer);
    else void answer.then((later) => record(world, attempt, later));
    await settle();
    check(world);
  }
  toString = () => `ask(${this.index})`;
}

class End implements Step {
  constructor(readonly index: number, readonly how: AttemptEnd) {}
  check = () => true;
  async run(_: object, world: World): Promise<void> {
    // Only an attempt that offered credentials can have logged in.
    const attempt = pick(world, this.index, (a) => !a.ended && (this.how !== 'connected' || a.answer === 'granted'));
    if (!attempt) return;
    const loggedIn = attempt.answer === 'granted';
    attempt.ended = true;
    world.gate.end(attempt.hooks, this.how);
    // A login answered by the server speaks for every attempt begun before it.
    if (loggedIn && this.how !== 'transient') {
      for (const other of world.attempts) {
        if (this.how === 'connected') other.coveredByLogin = true;
        else {
          other.coveredByRefusal = true;
          other.coveredByLogin = false;
        }
      }
    }
    await settle();
    check(world);
  }
  toString = () => `end(${this.index}, ${this.how})`;
}

class SetProven implements Step {
  constructor(readonly proven: boolean) {}
  check = () => true;
  async run(_: object, world: World): Promise<void> {
    world.proven = this.proven;
    check(world);
  }
  toString = () => `proven(${this.proven})`;
}

class Close implements Step {
  check = () => true;
  async run(_: object, world: World): Promise<void> {
    world.closed = true;
    world.gate.close();
    await settle();
    for (const attempt of world.attempts) {
      // One that ended while waiting gave up its wait (its connection is gone): no answer is due.
      if (attempt.asked && !attempt.ended && attempt.answer === undefined) world.violations.push('a waiting attempt outlived the close');
    }
    const late = world.gate.begin();
    if (late.loginTurn() !== 'closed') world.violations.push('a closed gate let an attempt in');
    check(world);
  }
  toString = () => 'close';
}

const steps = fc.oneof(
  { arbitrary: fc.constant(new Begin()), weight: 4 },
  { arbitrary: fc.nat(8).map((i) => new Reach(i)), weight: 1 },
  { arbitrary: fc.nat(8).map((i) => new Ask(i)), weight: 4 },
  { arbitrary: fc.tuple(fc.nat(8), fc.constantFrom<AttemptEnd>('connected', 'transient', 'refused')).map(([i, how]) => new End(i, how)), weight: 3 },
  { arbitrary: fc.boolean().map((proven) => new SetProven(proven)), weight: 1 },
  { arbitrary: fc.constant(new Close()), weight: 1 },
);

describe('first login (model)', () => {
  it('keeps its promises over random sequences of attempts, answers, connections and a close', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands([steps], { maxCommands: 60 }), async (commands) => {
        let world!: World;
        const gate = new FirstLogin({ proven: () => world.proven, serverReached: () => {} });
        world = { gate, attempts: [], proven: false, closed: false, violations: [] };
        await fc.asyncModelRun(() => ({ model: {}, real: world }), commands);
      }),
      { numRuns: RUNS },
    );
  });
});
