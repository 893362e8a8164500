// ProxyJump values: `[user@]host[:port]` or `ssh://[user@]host[:port]`, comma-separated, first
// hop first; `none` means no jump. IPv6 addresses go in brackets: `[::1]:2222`.
import { InvalidArgumentError } from '../../core/errors.js';

export interface JumpSpec {
  readonly host: string;
  readonly username?: string;
  readonly port?: number;
}

/** Parses one ProxyJump value; `none` gives an empty list. */
export function parseProxyJump(value: string, where: string): JumpSpec[] {
  if (value.trim().toLowerCase() === 'none') return [];
  return value.split(',').map((hop) => parseJumpHost(hop.trim(), where));
}

/**
 * Parses one hop. Messages never show the part before the `@`: it may hold a password
 * (`user:password@host`), which is refused, since a user name goes into pool names, spans,
 * metric labels and events.
 */
export function parseJumpHost(text: string, where: string): JumpSpec {
  let rest = text.startsWith('ssh://') ? text.slice('ssh://'.length).replace(/\/$/, '') : text;
  const at = rest.lastIndexOf('@');
  const shown = JSON.stringify(at >= 0 ? `…@${rest.slice(at + 1)}` : rest);
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`${where}: ${shown} ${why} (expected [user@]host[:port] or ssh://[user@]host[:port])`);
  };
  if (rest === '') fail('is empty');
  let username: string | undefined;
  if (at >= 0) {
    username = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (username.includes(':')) {
      fail("has a ':' in its user name (not shown): a password cannot be given in a destination; use the target's password or a key");
    }
    if (username === '' || /[\s@]/.test(username)) fail('has an invalid user name (not shown)');
  }
  let host = rest;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    [host, portText] = rest.split(':') as [string, string];
  }
  if (host === '' || /[\s/,]/.test(host)) fail('has an invalid host name');
  const spec: { host: string; username?: string; port?: number } = { host };
  if (username !== undefined) spec.username = username;
  if (portText !== undefined) {
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65_535) fail('has an invalid port');
    spec.port = port;
  }
  return spec;
}
