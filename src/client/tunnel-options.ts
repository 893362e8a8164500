import { InvalidArgumentError } from '../core/errors.js';
import { checkObject, describe, integer, isPlainObject, nested, nonEmptyString } from '../core/validation.js';
import type { Check } from '../core/validation.js';
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

/** A UNIX socket path: a non-empty string without NUL (which would cut it short on either side). */
const socketPath: Check = (value, field) => {
  nonEmptyString(value, field);
  if ((value as string).includes('\0')) throw new InvalidArgumentError(`${field} must not contain a NUL character`);
};

/** A destination, `{ host, port }` or `{ path }` with the path checked by `checkPath`; messages name `field`. */
function destinationOf(to: unknown, field: string, checkPath: Check): TunnelDestination {
  if (!isPlainObject(to)) throw new InvalidArgumentError(`${field} must be { host, port } or { path }, got ${describe(to)}`);
  if ('path' in to) {
    checkObject(to, { path: checkPath }, field);
    checkPath(to.path, `${field}.path`);
    return { path: to.path as string };
  }
  checkObject(to, { host: nonEmptyString, port: integer(1, 65535) }, field);
  nonEmptyString(to.host, `${field}.host`);
  integer(1, 65535)(to.port, `${field}.port`);
  return { host: to.host as string, port: to.port as number };
}

/** Checks `forward()` options strictly; every message names the field. */
export function normalizeForwardOptions(options: ForwardOptions): { listen: ListenAddress; to: TunnelDestination } {
  if (!isPlainObject(options)) throw new InvalidArgumentError(`forward() options must be an object, got ${describe(options)}`);
  checkObject(options, { to: () => {}, listen: nested(LISTEN_SCHEMA) }, 'forward() options');
  return { listen: listenOf(options.listen), to: destinationOf(options.to, 'forward() options.to', nonEmptyString) };
}

/** Checks `socks()` options strictly. */
export function normalizeSocksOptions(options: SocksOptions | undefined): { listen: ListenAddress } {
  if (options === undefined) return { listen: listenOf(undefined) };
  if (!isPlainObject(options)) throw new InvalidArgumentError(`socks() options must be an object, got ${describe(options)}`);
  checkObject(options, { listen: nested(LISTEN_SCHEMA) }, 'socks() options');
  return { listen: listenOf(options.listen as TunnelListenAddress | undefined) };
}

/** Where the server listens for `forwardRemote()`: a UNIX socket `{ path }`, else a TCP address. */
const remoteListen: Check = (value, field) => {
  if (!isPlainObject(value) || !('path' in value)) {
    nested(LISTEN_SCHEMA)(value, field);
    return;
  }
  checkObject(value, { path: socketPath }, field);
  socketPath(value.path, `${field}.path`);
};

/** Checks `forwardRemote()` options strictly. */
export function normalizeForwardRemoteOptions(options: ForwardRemoteOptions): { listen: ListenAddress | { path: string }; to: TunnelDestination } {
  if (!isPlainObject(options)) throw new InvalidArgumentError(`forwardRemote() options must be an object, got ${describe(options)}`);
  checkObject(options, { to: () => {}, listen: remoteListen }, 'forwardRemote() options');
  const listen = options.listen;
  const where = listen !== undefined && 'path' in listen ? { path: listen.path } : listenOf(listen);
  return { listen: where, to: destinationOf(options.to, 'forwardRemote() options.to', socketPath) };
}
