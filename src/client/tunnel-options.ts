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

/** A UNIX socket path: a non-empty string without NUL (which would cut it short on either side). */
function socketPath(value: unknown, field: string): string {
  nonEmptyString(value, field);
  if ((value as string).includes('\0')) throw new InvalidArgumentError(`${field} must not contain a NUL character`);
  return value as string;
}

/** Checks `forwardRemote()` options strictly. */
export function normalizeForwardRemoteOptions(
  options: ForwardRemoteOptions,
): { listen: ListenAddress | { path: string }; to: { host: string; port: number } | { path: string } } {
  if (!isPlainObject(options)) throw new InvalidArgumentError(`forwardRemote() options must be an object, got ${describe(options)}`);
  checkObject(options, { to: () => {}, listen: () => {} }, 'forwardRemote() options');
  const listen: unknown = options.listen;
  let where: ListenAddress | { path: string };
  if (isPlainObject(listen) && 'path' in listen) {
    checkObject(listen, { path: () => {} }, 'forwardRemote() options.listen');
    where = { path: socketPath(listen.path, 'forwardRemote() options.listen.path') };
  } else {
    checkObject(options, { to: () => {}, listen: nested(LISTEN_SCHEMA) }, 'forwardRemote() options');
    where = listenOf(listen as TunnelListenAddress | undefined);
  }
  const to: unknown = options.to;
  if (!isPlainObject(to)) throw new InvalidArgumentError(`forwardRemote() options.to must be { host, port } or { path }, got ${describe(to)}`);
  if ('path' in to) {
    checkObject(to, { path: () => {} }, 'forwardRemote() options.to');
    return { listen: where, to: { path: socketPath(to.path, 'forwardRemote() options.to.path') } };
  }
  checkObject(to, { host: nonEmptyString, port: integer(1, 65535) }, 'forwardRemote() options.to');
  nonEmptyString(to.host, 'forwardRemote() options.to.host');
  integer(1, 65535)(to.port, 'forwardRemote() options.to.port');
  return { listen: where, to: { host: to.host as string, port: to.port as number } };
}
