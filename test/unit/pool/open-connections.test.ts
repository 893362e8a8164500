// OpenConnections: which connection lends the next slot, and the live counts of a pool key.
import { describe, expect, it } from 'vitest';
import { OpenConnections } from '../../../src/pool/open-connections.js';
import type { PoolEntry } from '../../../src/pool/pool-entry.js';
import { FakeClock } from '../../support/fake-clock.js';
import { FakeConnectionLayer } from '../../support/fake-connections.js';
import type { FakeConnection } from '../../support/fake-connections.js';
import { entryOf } from '../../support/pool-parts.js';

function setup(limits: number[]): { connections: OpenConnections; entries: PoolEntry[] } {
  const clock = new FakeClock();
  const layer = new FakeConnectionLayer(clock);
  const connections = new OpenConnections();
  const entries = limits.map((limit) => entryOf(layer, clock, limit));
  for (const entry of entries) connections.add(entry);
  return { connections, entries };
}

const lend = (entry: PoolEntry, n: number): void => {
  for (let i = 0; i < n; i++) entry.lend();
};

describe('open connections', () => {
  it('picks the least-loaded connection that has room', () => {
    const { connections, entries: [a, b, c] } = setup([4, 4, 4]);
    lend(a!, 2);
    lend(b!, 1);
    lend(c!, 3);
    expect(connections.pick()).toBe(b);
  });

  it('takes the earlier connection of two equally loaded ones, so that later ones fall idle', () => {
    const { connections, entries: [a] } = setup([2, 2]);
    expect(connections.pick()).toBe(a);
  });

  it('passes over full, retiring and closed connections, and picks nothing when none has room', () => {
    const { connections, entries: [full, retiring, closed, last] } = setup([1, 2, 2, 2]);
    lend(full!, 1);
    retiring!.retire();
    (closed!.connection as FakeConnection).drop();
    lend(last!, 1);
    expect(connections.pick()).toBe(last);
    lend(last!, 1);
    expect(connections.pick()).toBeUndefined();
  });

  it('counts probes as load when picking', () => {
    const { connections, entries: [a, b] } = setup([3, 3]);
    a!.startProbe();
    expect(connections.pick()).toBe(b);
  });

  it('counts as usable only connections that take new channels', () => {
    const { connections, entries: [, retiring, closed] } = setup([2, 2, 2, 2]);
    retiring!.retire();
    (closed!.connection as FakeConnection).drop();
    expect(connections.usableCount()).toBe(2);
  });

  it('lists as idle only usable connections carrying nothing and not being probed', () => {
    const { connections, entries: [busy, probing, retiring, closed, idle] } = setup([2, 2, 2, 2, 2]);
    lend(busy!, 1);
    probing!.startProbe();
    retiring!.retire();
    (closed!.connection as FakeConnection).drop();
    expect(connections.idle()).toEqual([idle]);
  });

  it('counts busy and retiring connections as active, empty ones as idle, closed ones not at all', () => {
    const { connections, entries: [busy, retiring, closed, probing] } = setup([3, 3, 3, 3, 3]);
    lend(busy!, 2);
    retiring!.retire();
    lend(closed!, 1);
    (closed!.connection as FakeConnection).drop();
    probing!.startProbe();
    expect(connections.counts()).toEqual({ active: 2, idle: 2, openChannels: 3 });
  });

  it('gives the channel capacity from learned limits, with unopened connections at the configured limit', () => {
    const { connections, entries: [learned, , retiring] } = setup([5, 5, 5]);
    lend(learned!, 2);
    learned!.noteRefusal(); // two established, one refused: the server allows one
    retiring!.retire();
    // learned 1 + the other open one 5 + (4 - 2 counted) unopened × 5
    expect(connections.capacity(4, 5)).toBe(1 + 5 + 2 * 5);
  });

  it('knows whether any connection still carries a command or lease, probes aside', () => {
    const { connections, entries: [a, b] } = setup([2, 2]);
    b!.startProbe();
    expect(connections.anyBusy()).toBe(false);
    lend(a!, 1);
    expect(connections.anyBusy()).toBe(true);
    a!.release(0);
    expect(connections.anyBusy()).toBe(false);
  });

  it('forgets a deleted connection', () => {
    const { connections, entries: [a, b] } = setup([2, 2]);
    expect(connections.delete(a!)).toBe(true);
    expect(connections.delete(a!)).toBe(false);
    expect([...connections]).toEqual([b]);
    expect(connections.size).toBe(1);
  });
});
