import type { Duplex } from 'node:stream';
import { AcquireTimeoutError, ConnectError, JumpHostError, PoolClosedError } from '../core/errors.js';
import type { EndpointInfo } from '../core/errors.js';
import type { HostPool } from './host-pool.js';
import type { Slot } from './slot.js';
import { ChannelOpenRefusal } from '../ssh/connection.js';
import type { ConnectAttemptHooks, ConnectionFactory, PoolConnection } from '../ssh/connection.js';
import { SSHConnection } from '../ssh/ssh2-connection.js';
import type { ConnectionSettings } from '../ssh/ssh2-connection.js';

/** Opens an SSH connection over a stream that already reaches the server. */
export type TunnelledOpen = (settings: ConnectionSettings, tunnel: Duplex, hooks?: ConnectAttemptHooks) => Promise<PoolConnection>;

export interface JumpDialerOptions {
  /** The target's connection settings: its own credentials, host-key policy and timeouts. */
  readonly settings: ConnectionSettings;
  /** The pool key of the previous hop, whose connections carry the tunnels. */
  readonly via: HostPool;
  /** @default `SSHConnection.open(settings, tunnel)` */
  readonly open?: TunnelledOpen;
}

// Which jump host connection carries each tunnelled connection, for telemetry links.
const carriers = new WeakMap<PoolConnection, PoolConnection>();

/** The jump host connection a connection was opened through; undefined for a direct one. */
export function jumpConnectionOf(connection: PoolConnection): PoolConnection | undefined {
  return carriers.get(connection);
}

/**
 * The connection factory of a target behind a jump host (`ssh -J`), one attempt per call:
 * 1. takes a channel slot on a pooled connection of the previous hop (`via.acquire()`, so the
 *    hop's own pool opens, reuses, caps and backs off its connections, and a dead hop costs one
 *    connect at a time however many targets wait on it);
 * 2. asks that connection for a `direct-tcpip` channel to the target;
 * 3. speaks SSH to the target over the channel: the target's host key is checked under the
 *    target's own policy, as the hop's was under its own.
 * The slot stays held for the life of the target connection, so a hop connection carries at
 * most its pool key's `maxChannelsPerConnection` tunnels and commands together; the slot is
 * given back when the target connection closes, for whatever reason.
 * Failures of the hop become `JumpHostError` (cause: the hop's error); failures of the target
 * itself keep their own class (`HostKeyError`, `AuthenticationError`, ...).
 */
export function jumpDialer(options: JumpDialerOptions): ConnectionFactory {
  const { settings, via } = options;
  const open = options.open ?? ((target, tunnel, hooks) => SSHConnection.open(target, tunnel, hooks));
  return async (hooks) => {
    let slot: Slot;
    try {
      slot = await via.acquire({ priority: 0 });
    } catch (error) {
      throw hopFailed(settings, via.name, error);
    }
    let tunnel: Duplex;
    try {
      if (!slot.connection.openTunnel) throw new ChannelOpenRefusal('the connection cannot forward');
      tunnel = await slot.connection.openTunnel(settings.host, settings.port);
    } catch (error) {
      via.releaseSlot(slot);
      throw tunnelRefused(settings, via.name, error);
    }
    let connection: PoolConnection;
    try {
      connection = await open(settings, tunnel, hooks);
    } catch (error) {
      tunnel.destroy();
      via.releaseSlot(slot);
      throw error;
    }
    carriers.set(connection, slot.connection);
    connection.onClose(() => {
      tunnel.destroy();
      via.releaseSlot(slot);
    });
    return connection;
  };
}

function hopFailed(target: EndpointInfo, hop: string, error: unknown): JumpHostError {
  const reason = (error as Error)?.message ?? String(error);
  // The hop's connect errors say themselves whether a retry may help; an acquire timeout means
  // the hop was busy or slow, which may pass; a closed pool will not reopen.
  const transient = error instanceof ConnectError ? error.transient : !(error instanceof PoolClosedError);
  const what = error instanceof AcquireTimeoutError ? 'no channel on jump host' : 'cannot connect to jump host';
  return new JumpHostError(`Cannot reach ${target.poolName}: ${what} ${hop}: ${reason}`, target, hop, transient, { cause: error });
}

function tunnelRefused(target: EndpointInfo, hop: string, error: unknown): JumpHostError {
  const reason = (error as Error)?.message ?? String(error);
  // OpenSSH answers "administratively prohibited" when AllowTcpForwarding or PermitOpen forbid
  // the tunnel: asking again will not change its mind. Refused or unreachable targets may come back.
  const transient = !/prohibited/i.test(reason);
  return new JumpHostError(
    `Cannot reach ${target.poolName}: jump host ${hop} could not open a tunnel to ${target.host}:${target.port}: ${reason}`,
    target,
    hop,
    transient,
    { cause: error },
  );
}
