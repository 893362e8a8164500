// The jump dialer over a fake bastion pool: which slot it holds, when it gives it back, and
// how a failure at the hop is named. The real thing runs in test/integration/jump-hosts.test.ts.
import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionBudget } from '../../../src/pool/connection-budget.js';
import { AuthenticationError, HostKeyError, JumpHostError } from '../../../src/core/errors.js';
import { HostPool } from '../../../src/pool/host-pool.js';
import { jumpConnectionOf, jumpDialer } from '../../../src/pool/jump-dialer.js';
import { resolvePoolConfig } from '../../../src/config/pool-config.js';
import { ChannelOpenRefusal } from '../../../src/ssh/connection.js';
import type { PoolConnection } from '../../../src/ssh/connection.js';
import type { ConnectionSettings } from '../../../src/ssh/ssh2-connection.js';
import { systemClock } from '../../../src/core/clock.js';
import { FakeConnection, FakeConnectionLayer, FakeHold } from '../../support/fake-connections.js';

const target: ConnectionSettings = {
  poolName: 'u@inner:22', host: 'inner', port: 22, username: 'u', credentials: { password: 'pw' },
  hostKey: { policy: 'off' } as ConnectionSettings['hostKey'], connectionTimeout: 1_000, keepAliveInterval: 0, keepAliveCountMax: 3,
};

const pools: HostPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close({ timeout: 100 })));
});

/** A bastion pool key over fake connections that forward as `tunnel` says. */
function bastion(tunnel: (connection: FakeConnection) => Promise<Duplex>, maxChannelsPerConnection = 5): { pool: HostPool; layer: FakeConnectionLayer; tunnels: Duplex[] } {
  const layer = new FakeConnectionLayer(systemClock, 1);
  const tunnels: Duplex[] = [];
  const factory = async (): Promise<PoolConnection> => {
    const connection = (await layer.factory()) as FakeConnection;
    Object.assign(connection, {
      openTunnel: async () => {
        const stream = await tunnel(connection);
        tunnels.push(stream);
        return stream;
      },
    });
    return connection;
  };
  const config = resolvePoolConfig({ maxChannelsPerConnection, maxRetries: 0, acquireTimeout: 500, reconnect: { enabled: false } });
  const pool = new HostPool({ name: 'ops@bastion:22', host: 'bastion', port: 22, username: 'ops', config, factory, budget: new ConnectionBudget(0), hold: new FakeHold() });
  pool.start();
  pools.push(pool);
  return { pool, layer, tunnels };
}

const reachable = async (): Promise<Duplex> => new PassThrough();
const openOver = (layer: FakeConnectionLayer) => async (): Promise<PoolConnection> => new FakeConnection(layer);

describe('jump dialer', () => {
  it('holds one bastion slot per target connection and gives it back when that connection closes', async () => {
    const hop = bastion(reachable);
    const dial = jumpDialer({ settings: target, via: hop.pool, open: openOver(hop.layer) });
    const first = await dial();
    const second = await dial();
    expect(hop.layer.connections).toHaveLength(1);
    expect(hop.pool.stats()).toMatchObject({ totalConnections: 1, openChannels: 2 });
    expect(jumpConnectionOf(first)).toBe(hop.layer.connections[0]);
    first.close('idle');
    expect(hop.pool.stats().openChannels).toBe(1);
    expect(hop.tunnels[0]!.destroyed).toBe(true);
    second.close('idle');
    expect(hop.pool.stats().openChannels).toBe(0);
  });

  it('opens a second bastion connection once maxChannelsPerConnection tunnels are held', async () => {
    const hop = bastion(reachable, 2);
    const dial = jumpDialer({ settings: target, via: hop.pool, open: openOver(hop.layer) });
    const connections = await Promise.all([dial(), dial(), dial()]);
    expect(hop.pool.stats()).toMatchObject({ totalConnections: 2, openChannels: 3 });
    for (const connection of connections) connection.close('shutdown');
  });

  it('gives the slot back and names the hop when the bastion refuses the tunnel (transient: the target may come back)', async () => {
    const hop = bastion(async () => {
      throw new ChannelOpenRefusal('(SSH) Channel open failure: Connection refused');
    });
    const error = await jumpDialer({ settings: target, via: hop.pool, open: openOver(hop.layer) })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JumpHostError);
    expect(error).toMatchObject({ jumpHost: 'ops@bastion:22', poolName: 'u@inner:22', transient: true });
    expect((error as Error).message).toBe('Cannot reach u@inner:22: jump host ops@bastion:22 could not open a tunnel to inner:22: (SSH) Channel open failure: Connection refused');
    expect(hop.pool.stats().openChannels).toBe(0);
  });

  it('treats a tunnel the bastion prohibits (AllowTcpForwarding no) as permanent', async () => {
    const hop = bastion(async () => {
      throw new ChannelOpenRefusal('(SSH) Channel open failure: administratively prohibited');
    });
    const error = await jumpDialer({ settings: target, via: hop.pool, open: openOver(hop.layer) })().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ transient: false });
  });

  it('keeps the target\'s own error class when the target fails over the tunnel, and frees slot and tunnel', async () => {
    const hop = bastion(reachable);
    const refused = new HostKeyError('Host key for inner:22 is not pinned', target, { fingerprint: 'SHA256:x', keyType: 'ssh-ed25519', reason: 'not-pinned' });
    const error = await jumpDialer({ settings: target, via: hop.pool, open: async () => Promise.reject(refused) })().catch((caught: unknown) => caught);
    expect(error).toBe(refused);
    expect(hop.pool.stats().openChannels).toBe(0);
    expect(hop.tunnels[0]!.destroyed).toBe(true);
  });

  it('fails fast with the bastion\'s connect error as cause, permanent when that one is', async () => {
    const layer = new FakeConnectionLayer(systemClock, 1);
    const denied = new AuthenticationError('Authentication failed for ops@bastion:22', { poolName: 'ops@bastion:22', host: 'bastion', port: 22 });
    const config = resolvePoolConfig({ maxRetries: 0, acquireTimeout: 5_000, reconnect: { enabled: false } });
    const pool = new HostPool({ name: 'ops@bastion:22', host: 'bastion', port: 22, username: 'ops', config, factory: async () => Promise.reject(denied), budget: new ConnectionBudget(0), hold: new FakeHold() });
    pools.push(pool);
    const started = Date.now();
    const error = await jumpDialer({ settings: target, via: pool, open: openOver(layer) })().catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(JumpHostError);
    expect(error).toMatchObject({ jumpHost: 'ops@bastion:22', transient: false, cause: denied });
  });
});
