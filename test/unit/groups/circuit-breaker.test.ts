// The pure parts of host groups: host selection per strategy, the circuit breaker (with a
// fake clock), option validation, and which rejections let a command move to another host.
import { describe, expect, it } from 'vitest';
import {
  AcquireTimeoutError,
  AuthenticationError,
  ChannelRefusedError,
  ConnectError,
  InvalidArgumentError,
  PoolClosedError,
} from '../../../src/index.js';
import { CircuitBreaker } from '../../../src/groups/circuit-breaker.js';
import { normalizeGroupTarget } from '../../../src/groups/group-options.js';
import { startFailureOf } from '../../../src/groups/start-failure.js';
import { createSelector } from '../../../src/groups/strategies.js';
import type { SSHHostGroupTarget } from '../../../src/index.js';

const endpoint = { poolName: 'u@h:22', host: 'h', port: 22 };

function picks(strategy: Parameters<typeof createSelector>[0], rounds: number, candidates = [0, 1, 2], load: (i: number) => number = () => 0): number[] {
  const selector = createSelector(strategy);
  return Array.from({ length: rounds }, () => selector.pick(candidates, load)!);
}

describe('host selection', () => {
  it('round-robin takes each host in turn', () => {
    expect(picks('round-robin', 7)).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it('round-robin skips hosts that are down and keeps its turn order when they return', () => {
    const selector = createSelector('round-robin');
    expect(selector.pick([0, 1, 2], () => 0)).toBe(0);
    expect(selector.pick([0, 2], () => 0)).toBe(2); // host 1 is down: its turn goes to the next
    expect(selector.pick([0, 2], () => 0)).toBe(0);
    expect(selector.pick([0, 1, 2], () => 0)).toBe(1);
  });

  it('least-used takes the host with the fewest running and waiting commands', () => {
    const loads = [4, 1, 3];
    expect(picks('least-used', 3, [0, 1, 2], (i) => loads[i]!)).toEqual([1, 1, 1]);
  });

  it('least-used spreads over tied hosts instead of piling on the first', () => {
    expect(picks('least-used', 6)).toEqual([0, 1, 2, 0, 1, 2]);
    const loads = [0, 5, 0];
    expect(picks('least-used', 4, [0, 1, 2], (i) => loads[i]!)).toEqual([0, 2, 0, 2]);
  });

  it('failover always takes the first host that is up, primary first', () => {
    expect(picks('failover', 3)).toEqual([0, 0, 0]);
    expect(picks('failover', 2, [1, 2])).toEqual([1, 1]);
  });

  it('returns nothing when no host is a candidate', () => {
    for (const strategy of ['round-robin', 'least-used', 'failover'] as const) expect(createSelector(strategy).pick([], () => 0)).toBeUndefined();
  });
});

describe('circuit breaker', () => {
  function breaker(settings = { failureThreshold: 2, cooldown: 1_000, maxCooldown: 3_000 }) {
    let now = 10_000;
    const cb = new CircuitBreaker(settings, () => now);
    return { cb, advance: (ms: number) => (now += ms), now: () => now };
  }
  const fail = (message = 'refused') => new ConnectError(message, endpoint, true);

  it('marks a host down after failureThreshold failed connections in a row', () => {
    const { cb, now } = breaker();
    expect(cb.recordFailure(fail())).toBeUndefined();
    expect(cb.isUp).toBe(true);
    expect(cb.recordFailure(fail())).toBe('down');
    expect(cb.state).toBe('down');
    expect(cb.retryAt).toBe(now() + 1_000);
    expect(cb.lastError?.message).toBe('refused');
  });

  it('counts one failed open once, however many waiting commands it rejected', () => {
    const { cb } = breaker();
    const shared = fail();
    for (let i = 0; i < 10; i++) cb.recordFailure(shared);
    expect(cb.isUp).toBe(true);
  });

  it('a success in between resets the count', () => {
    const { cb } = breaker();
    cb.recordFailure(fail());
    cb.recordSuccess();
    cb.recordFailure(fail());
    expect(cb.isUp).toBe(true);
  });

  it('allows the probe only once the cool-down is over', () => {
    const { cb, advance } = breaker();
    cb.recordFailure(fail());
    cb.recordFailure(fail());
    expect(cb.beginProbe()).toBe(false);
    advance(999);
    expect(cb.msUntilProbe()).toBe(1);
    expect(cb.beginProbe()).toBe(false);
    advance(1);
    expect(cb.beginProbe()).toBe(true);
    expect(cb.state).toBe('probing');
    expect(cb.isUp).toBe(false);
    expect(cb.beginProbe()).toBe(false); // one probe at a time
  });

  it('a successful probe brings the host up with a fresh cool-down', () => {
    const { cb, advance } = breaker();
    cb.recordFailure(fail());
    cb.recordFailure(fail());
    advance(1_000);
    cb.beginProbe();
    expect(cb.recordSuccess()).toBe('up');
    expect(cb).toMatchObject({ state: 'up', retryAt: undefined, lastError: undefined });
  });

  it('a failed probe doubles the cool-down, up to maxCooldown', () => {
    const { cb, advance, now } = breaker();
    cb.recordFailure(fail());
    cb.recordFailure(fail());
    const cooldowns: number[] = [];
    for (let i = 0; i < 4; i++) {
      advance(cb.msUntilProbe());
      expect(cb.beginProbe()).toBe(true);
      cb.probeFailed(fail(`still refused ${i}`));
      cooldowns.push(cb.retryAt! - now());
    }
    expect(cooldowns).toEqual([2_000, 3_000, 3_000, 3_000]);
    expect(cb.lastError?.message).toBe('still refused 3');
  });

  it('failures while down do not extend the cool-down', () => {
    const { cb } = breaker({ failureThreshold: 1, cooldown: 1_000, maxCooldown: 1_000 });
    cb.recordFailure(fail());
    const retryAt = cb.retryAt;
    expect(cb.recordFailure(fail('late'))).toBeUndefined();
    expect(cb.retryAt).toBe(retryAt);
  });
});

describe('which failures move a command to the next host', () => {
  it('a command whose connection could not be opened never started: it moves on, and counts against the host', () => {
    const refused = new ConnectError('refused', endpoint, true);
    expect(startFailureOf(refused)).toEqual({ hostFault: refused });
    const auth = new AuthenticationError('denied', endpoint);
    expect(startFailureOf(auth)).toEqual({ hostFault: auth });
  });

  it('an acquire timeout moves on; it counts against the host only when connecting is what failed', () => {
    const refused = new ConnectError('refused', endpoint, true);
    expect(startFailureOf(new AcquireTimeoutError('busy', 'u@h:22', 10, { cause: refused }))).toEqual({ hostFault: refused });
    expect(startFailureOf(new AcquireTimeoutError('busy', 'u@h:22', 10))).toEqual({ hostFault: undefined });
    expect(startFailureOf(new ChannelRefusedError('refused', 'u@h:22'))).toEqual({ hostFault: undefined });
  });

  it('a closed pool or a bad argument is the answer, not a reason to try elsewhere', () => {
    expect(startFailureOf(new PoolClosedError('closed'))).toBeUndefined();
    expect(startFailureOf(new InvalidArgumentError('bad'))).toBeUndefined();
    expect(startFailureOf(new Error('anything else'))).toBeUndefined();
  });
});

describe('host group options', () => {
  const base = { username: 'deploy', password: 'secret-password', hostKey: 'off' as const };
  const group = (extra: Partial<SSHHostGroupTarget>) => normalizeGroupTarget({ ...base, hosts: ['a', 'b'], ...extra } as SSHHostGroupTarget);

  it('fills in the documented defaults', () => {
    const spec = group({});
    expect(spec).toMatchObject({
      name: 'a:22,b:22',
      strategy: 'round-robin',
      retryable: false,
      concurrency: 10,
      circuitBreaker: { failureThreshold: 1, cooldown: 5_000, maxCooldown: 60_000 },
    });
    expect(spec.members.map((m) => m.label)).toEqual(['a:22', 'b:22']);
  });

  it('takes members as names or { host, port }, with the group port as the default', () => {
    const spec = group({ hosts: ['a', { host: 'b', port: 2222 }, { host: '::1' }], port: 2200 });
    expect(spec.members.map((m) => m.label)).toEqual(['a:2200', 'b:2222', '[::1]:2200']);
    expect(spec.members[1]!.target).toMatchObject({ host: 'b', port: 2222, username: 'deploy' });
  });

  it.each([
    [{ hosts: [] }, 'hosts must be a non-empty array of host names or { host, port } objects, got an empty array'],
    [{ hosts: ['a', 'a'] }, 'hosts[1]: a:22 is listed twice'],
    [{ hosts: ['a', 42] }, 'hosts[1] must be a host name or { host, port }, got 42'],
    [{ hosts: [{ host: 'a', user: 'x' }] }, 'hosts[0].user is not a known option (known: host, port)'],
    [{ hosts: ['a', { host: 'b', port: 0 }] }, 'hosts[1]: target.port must be an integer from 1 to 65535, got 0'],
    [{ strategy: 'random' }, 'strategy must be one of round-robin, least-used, failover, got a string of 6 characters'],
    [{ circuitBreaker: { cooldown: 0 } }, 'circuitBreaker.cooldown must be an integer from 1 to 2147483647, got 0'],
    [{ circuitBreaker: { threshold: 2 } }, 'circuitBreaker.threshold is not a known option (known: failureThreshold, cooldown, maxCooldown)'],
    [{ circuitBreaker: { cooldown: 5_000, maxCooldown: 1_000 } }, 'circuitBreaker.maxCooldown (1000) cannot be less than circuitBreaker.cooldown (5000)'],
    [{ retryable: 'yes' }, 'retryable must be a boolean, got a string of 3 characters'],
    [{ concurrency: 0 }, 'concurrency must be an integer from 1 to 10000, got 0'],
    [{ name: '' }, 'name must be a non-empty string, got an empty string'],
  ])('rejects %j with a precise message', (extra, message) => {
    expect(() => group(extra as Partial<SSHHostGroupTarget>)).toThrow(new InvalidArgumentError(message));
  });

  it('turns the circuit breaker off with circuitBreaker: false', () => {
    expect(group({ circuitBreaker: false }).circuitBreaker).toBeUndefined();
  });

  it('never puts the password in a validation message', () => {
    expect(() => group({ hosts: ['a', { host: 'b', port: -1 }] })).toThrow(/^(?!.*secret-password)/s);
  });
});
