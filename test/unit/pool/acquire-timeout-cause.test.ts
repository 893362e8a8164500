// An acquire that times out while its connection is still being retried names the error of the
// attempt that failed, not "no channel became free" alone.
import { describe, expect, it } from 'vitest';
import { resolvePoolConfig } from '../../../src/config/pool-config.js';
import { AcquireTimeoutError, ConnectError } from '../../../src/core/errors.js';
import { ConnectionBudget } from '../../../src/pool/connection-budget.js';
import { HostPool } from '../../../src/pool/host-pool.js';
import { FakeClock, settle } from '../../support/fake-clock.js';
import { FakeConnectionLayer, FakeHold } from '../../support/fake-connections.js';

describe('acquire timeout while the connection is retried', () => {
  it('regression: an acquire timed out during the backoff between connect attempts without naming the failed attempt', async () => {
    const clock = new FakeClock();
    const layer = new FakeConnectionLayer(clock);
    layer.up = false;
    const pool = new HostPool({
      name: 'u@fake:22', host: 'fake', port: 22, username: 'u',
      // The first attempt fails after 5 ms; the retry waits 10 s, past the 1 s acquire timeout.
      config: resolvePoolConfig({ maxRetries: 3, acquireTimeout: 1_000, reconnect: { initialDelay: 10_000, maxDelay: 10_000, jitter: false } }),
      factory: layer.factory, budget: new ConnectionBudget(0), clock, hold: new FakeHold(),
    });
    pool.start();
    const outcome: { error?: unknown } = {};
    pool.execute({ command: 'true', stdin: undefined, maxBuffer: 1024 }, { priority: 0, cancel: new AbortController().signal })
      .catch((error: unknown) => (outcome.error = error));
    await clock.advance(1_000);
    await settle();
    expect(outcome.error).toBeInstanceOf(AcquireTimeoutError);
    expect((outcome.error as Error).message).toBe('No channel to u@fake:22 became free within 1000 ms; last connection error: Cannot connect to fake: ECONNREFUSED');
    expect((outcome.error as Error).cause).toBeInstanceOf(ConnectError);
    await pool.close({ timeout: 0 }).catch(() => {});
  });
});
