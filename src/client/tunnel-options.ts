import { InvalidArgumentError } from '../core/errors.js';
import { checkObject, describe, integer, isPlainObject, nested, nonEmptyString } from '../core/validation.js';
import type { TunnelDestination } from '../pool/tunnel-channels.js';
import type { ForwardOptions, ForwardRemoteOptions, SocksOptions, TunnelListenAddress } from './tunnel-types.js';

/** A checked local listen address. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

const LISTEN_SCHEMA = { host: nonEmptyString, port: integer(0, 65535) };

function listenOf(listen: TunnelListenAddress | undefined): ListenAddress {
  return { host: listen?.host ?? '127.0.0.1', port: listen?.port ?? 0 };
}

/** Checks `forward()` options strictly; every message names the field. */
export function normalizeForwardOptions(options: ForwardOptions): { listen: ListenAddress; to: TunnelDestination } {
  if (!isPlainObject(options)) throw new InvalidArgumentError(`forward() options must be an object, got ${describe(options)}`);
  checkObject(options, { to: () => {}, listen: nested(LISTEN_SCHEMA) }, 'forward() options');
  const to: unknown = options.to;
  if (!isPlainObject(to)) throw new InvalidArgumentError(`forward() options.to must be { host, port } or { path }, got ${describe(to)}`);
  if ('path' in to) {
    checkObject(to, { path: nonEmptyString }, 'forward() options.to');
    nonEmptyString(to.path, 'forward() options.to.path');
    return { listen: listenOf(options.listen), to: { path: to.path as string } };
  }
  checkObject(to, { host: nonEmptyString, port: integer(1, 65535) }, 'forward() options.to');
  nonEmptyString(to.host, 'forward() options.to.host');
  integer(1, 65535)(to.port, 'forward() options.to.port');
  return { listen: listenOf(options.listen), to: { host: to.host as string, port: to.port as number } };
}

/** Checks `socks()` options strictly. */
export function normalizeSocksOptions(options: SocksOptions | undefined): { listen: ListenAddress } {
  if (options === undefined) return { listen: listenOf(undefined) };
  if (!isPlainObject(options)) throw new InvalidArgumentError(`socks() options must be an object, got ${describe(options)}`);
  checkObject(options, { listen: nested(LISTEN_SCHEMA) }, 'socks() options');
  return { listen: listenOf(options.listen as TunnelListenAddress | undefined) };
}

/** Checks `forwardRemote()` options strictly. */
export function normalizeForwardRemoteOptions(options: ForwardRemoteOptions): { listen: ListenAddress; to: { host: string; port: number } } {
  if (!isPlainObject(options)) throw new InvalidArgumentError(`forwardRemote() options must be an object, got ${describe(options)}`);
  checkObject(options, { to: () => {}, listen: nested(LISTEN_SCHEMA) }, 'forwardRemote() options');
  const to: unknown = options.to;
  if (!isPlainObject(to)) throw new InvalidArgumentError(`forwardRemote() options.to must be { host, port }, got ${describe(to)}`);
  checkObject(to, { host: nonEmptyString, port: integer(1, 65535) }, 'forwardRemote() options.to');
  nonEmptyString(to.host, 'forwardRemote() options.to.host');
  integer(1, 65535)(to.port, 'forwardRemote() options.to.port');
  return { listen: listenOf(options.listen as TunnelListenAddress | undefined), to: { host: to.host as string, port: to.port as number } };
}
