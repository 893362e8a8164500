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

/** Parses one hop. */
export function parseJumpHost(text: string, where: string): JumpSpec {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`${where}: jump host ${JSON.stringify(text)} ${why} (expected [user@]host[:port] or ssh://[user@]host[:port])`);
  };
  let rest = text.startsWith('ssh://') ? text.slice('ssh://'.length).replace(/\/$/, '') : text;
  if (rest === '') fail('is empty');
  let username: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    username = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (username === '' || /[\s@]/.test(username)) fail('has an invalid user name');
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
