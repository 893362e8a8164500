import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/index.js';
import type { SSHHostGroupTarget } from '../../../src/index.js';
import { normalizeGroupTarget } from '../../../src/groups/group-options.js';

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
