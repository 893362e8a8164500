import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { ChannelOutcome } from '../command/channel-contract.js';
import type { CommandRequest } from '../command/ssh-command.js';
import type { NormalizedTarget } from '../config/ssh-target.js';
import type { CarryTunnel } from './local-tunnel.js';
import type { StartRemoteForward } from './remote-tunnel.js';
import type { FileTransfers } from './file-transfers.js';

/**
 * What the facade (`$.ssh()`) and host groups need of a pool beyond its public API. Kept out of
 * the class, so that `SSHConnectionPool` shows users only what they may call, and out of
 * `index.ts`, so that it is never exported.
 */
export interface PoolInternals {
  /** Runs one command on a target's pool key, traced as `ssh.exec`. */
  execute(target: NormalizedTarget, request: CommandRequest, cancel: AbortSignal | undefined): Promise<ChannelOutcome>;
  /** Carries one tunnelled connection over a target's pool key (see `TunnelChannels.carry`). */
  tunnel(target: NormalizedTarget, ...args: Parameters<CarryTunnel>): ReturnType<CarryTunnel>;
  /** Starts a remote forward on a target's pool key (see `TunnelChannels.forwardRemote`). */
  forwardRemote(target: NormalizedTarget, ...args: Parameters<StartRemoteForward>): ReturnType<StartRemoteForward>;
  /** The file operations (SFTP) of a target's pool key. Throws `PoolClosedError` once the pool is closed. */
  files(target: NormalizedTarget): FileTransfers;
  /** Creates a target's pool key ahead of its first command, so that its `warmUpConnections` open now. */
  prepare(target: NormalizedTarget): void;
  /** The pool name a target runs under (`assigned`), or the one the pool will give its pool key next. */
  poolNameOf(target: NormalizedTarget): { readonly name: string; readonly assigned: boolean };
  /** The providers injected into the pool, which group telemetry uses too. */
  readonly tracerProvider: TracerProvider | undefined;
  readonly meterProvider: MeterProvider | undefined;
}

const registry = new WeakMap<object, PoolInternals>();

/** Called once by each pool instance for itself. */
export function registerPoolInternals(pool: object, internals: PoolInternals): void {
  registry.set(pool, internals);
}

export function internalsOf(pool: object): PoolInternals {
  const internals = registry.get(pool);
  if (!internals) throw new TypeError('not an SSHConnectionPool');
  return internals;
}
