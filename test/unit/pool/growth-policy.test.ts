// GrowthPolicy: how many connections the waiters get opened, and when the pool is full.
import { describe, expect, it } from 'vitest';
import type { OpenResult } from '../../../src/pool/connector.js';
import { GrowthPolicy } from '../../../src/pool/growth-policy.js';
import type { OpenPurpose } from '../../../src/pool/host-pool-events.js';
import { RecordedEvents } from '../../support/pool-parts.js';

interface State {
  waiting: number;
  usable: number;
  opening: number;
  size: number;
  max: number;
  answering: boolean;
}

function setup(initial: Partial<State>, config = { maxChannelsPerConnection: 2, maxRetries: 2 }) {
  const state: State = { waiting: 0, usable: 0, opening: 0, size: 0, max: 4, answering: false, ...initial };
  const opens: Array<{ purpose: OpenPurpose; attempts: number; retryDropsOnly?: boolean | undefined }> = [];
  const events = new RecordedEvents();
  const parts = {
    pending: { get length() { return state.waiting; } },
    connections: { usableCount: () => state.usable },
    store: { get opening() { return state.opening; }, get size() { return state.size; }, get max() { return state.max; } },
    contact: { get serverAnswering() { return state.answering; } },
    opener: {
      // As the store does: an open counts against the cap and as opening from its start.
      open(purpose: OpenPurpose, attempts: number, retryDropsOnly?: boolean): Promise<OpenResult> {
        opens.push(retryDropsOnly === undefined ? { purpose, attempts } : { purpose, attempts, retryDropsOnly });
        state.opening++;
        state.size++;
        return new Promise<OpenResult>(() => {});
      },
    },
  };
  const growth = new GrowthPolicy(config, parts, events);
  return { state, opens, events, growth };
}

describe('growth policy', () => {
  it('opens nothing while nobody waits', () => {
    const { growth, opens } = setup({ waiting: 0, usable: 0 });
    growth.grow();
    expect(opens).toEqual([]);
  });

  it('opens one connection at a time until one of the pool key is usable or has reached the server, however many wait', () => {
    const { growth, opens, state } = setup({ waiting: 7, usable: 0 });
    growth.grow();
    expect(opens).toHaveLength(1);
    growth.grow();
    expect(opens).toHaveLength(1);
    // The first one failed: the next grow tries one again.
    state.opening = 0;
    state.size = 0;
    growth.grow();
    expect(opens).toHaveLength(2);
  });

  it('once an open has reached the server, opens the rest the waiters need beside it (their logins wait for its own)', () => {
    const { growth, opens, state } = setup({ waiting: 7, usable: 0, max: 10 });
    growth.grow();
    expect(opens).toHaveLength(1);
    state.answering = true;
    growth.grow();
    // 7 waiters at 2 channels each: 4 connections, the first one included.
    expect(opens).toHaveLength(4);
    // The first open retries any transient failure; those beside it only dropped handshakes
    // (the server may fail after its key exchange: every open's retries must not hit it).
    expect(opens.map((open) => open.retryDropsOnly)).toEqual([false, true, true, true]);
  });

  it('once a connection is usable, opens enough to cover the waiters at maxChannelsPerConnection each', () => {
    const { growth, opens } = setup({ waiting: 5, usable: 1, size: 1, max: 10 });
    growth.grow();
    expect(opens).toHaveLength(3);
  });

  it('counts the opens in flight as covering waiters', () => {
    const { growth, opens, state } = setup({ waiting: 4, usable: 1, size: 1, max: 10 });
    growth.grow();
    expect(opens).toHaveLength(2);
    state.waiting = 5;
    growth.grow();
    expect(opens).toHaveLength(3);
    growth.grow();
    expect(opens).toHaveLength(3);
  });

  it('never opens past the cap', () => {
    const { growth, opens } = setup({ waiting: 20, usable: 2, size: 2, max: 4 });
    growth.grow();
    expect(opens).toHaveLength(2);
  });

  it('opens on demand with maxRetries + 1 attempts', () => {
    const { growth, opens } = setup({ waiting: 1, usable: 0 }, { maxChannelsPerConnection: 3, maxRetries: 4 });
    growth.grow();
    expect(opens).toEqual([{ purpose: 'demand', attempts: 5, retryDropsOnly: false }]);
  });

  it('reports pool-full once per saturation: when the waiters outnumber what the cap can still carry', () => {
    const { growth, events, state } = setup({ waiting: 6, usable: 2, size: 2, max: 3 });
    growth.grow();
    expect(events.types()).toEqual(['pool-full']);
    state.waiting = 9;
    growth.grow();
    growth.grow();
    expect(events.types()).toEqual(['pool-full']);
    growth.queueEmptied();
    growth.grow();
    expect(events.types()).toEqual(['pool-full', 'pool-full']);
  });

  it('does not report pool-full while the cap can still carry every waiter', () => {
    const { growth, events } = setup({ waiting: 4, usable: 1, size: 1, max: 3 });
    growth.grow();
    expect(events.types()).toEqual([]);
  });
});
