// The circuit breaker over a clock the test moves.
import { describe, expect, it } from 'vitest';
import { ConnectError } from '../../../src/core/errors.js';
import { CircuitBreaker } from '../../../src/groups/circuit-breaker.js';

const endpoint = { poolName: 'u@h:22', host: 'h', port: 22 };

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
