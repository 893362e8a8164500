// forward(), forwardRemote() and socks() options: strict checks with precise messages, and their defaults.
import { describe, expect, it } from 'vitest';
import { normalizeForwardOptions, normalizeForwardRemoteOptions, normalizeSocksOptions } from '../../../src/client/tunnel-options.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { ForwardOptions, ForwardRemoteOptions } from '../../../src/client/tunnel-types.js';

describe('tunnel options', () => {
  it('listens on 127.0.0.1, on a free port, unless told otherwise', () => {
    expect(normalizeForwardOptions({ to: { host: 'db', port: 5432 } })).toEqual({ listen: { host: '127.0.0.1', port: 0 }, to: { host: 'db', port: 5432 } });
    expect(normalizeForwardOptions({ to: { path: '/run/app.sock' }, listen: { port: 15432 } })).toEqual({ listen: { host: '127.0.0.1', port: 15432 }, to: { path: '/run/app.sock' } });
    expect(normalizeSocksOptions(undefined)).toEqual({ listen: { host: '127.0.0.1', port: 0 } });
    expect(normalizeSocksOptions({ listen: { host: '::1' } })).toEqual({ listen: { host: '::1', port: 0 } });
  });

  it.each<[unknown, RegExp]>([
    [undefined, /forward\(\) options must be an object/],
    [{}, /options\.to must be \{ host, port \} or \{ path \}/],
    [{ to: { host: 'db' } }, /options\.to\.port must be an integer from 1 to 65535, got undefined/],
    [{ to: { host: 'db', port: 70000 } }, /options\.to\.port must be an integer from 1 to 65535/],
    [{ to: { host: '', port: 1 } }, /options\.to\.host must be a non-empty string/],
    [{ to: { path: '' } }, /options\.to\.path must be a non-empty string/],
    [{ to: { path: '/x', port: 1 } }, /options\.to\.port is not a known option/],
    [{ to: { host: 'db', port: 1 }, listen: { port: -1 } }, /options\.listen\.port must be an integer from 0 to 65535/],
    [{ to: { host: 'db', port: 1 }, local: true }, /options\.local is not a known option \(known: to, listen\)/],
  ])('refuses %j', (options, message) => {
    expect(() => normalizeForwardOptions(options as ForwardOptions)).toThrow(InvalidArgumentError);
    expect(() => normalizeForwardOptions(options as ForwardOptions)).toThrow(message);
  });

  it('refuses unknown socks() options', () => {
    expect(() => normalizeSocksOptions({ auth: true } as never)).toThrow(/socks\(\) options\.auth is not a known option/);
  });

  it('lets forwardRemote() listen on a TCP port or on a UNIX socket of the server, and carry to a local port or UNIX socket', () => {
    expect(normalizeForwardRemoteOptions({ to: { host: '127.0.0.1', port: 80 } })).toEqual({ listen: { host: '127.0.0.1', port: 0 }, to: { host: '127.0.0.1', port: 80 } });
    expect(normalizeForwardRemoteOptions({ listen: { path: '/tmp/app.sock' }, to: { host: 'localhost', port: 80 } }))
      .toEqual({ listen: { path: '/tmp/app.sock' }, to: { host: 'localhost', port: 80 } });
    expect(normalizeForwardRemoteOptions({ listen: { port: 8080 }, to: { path: '/run/local.sock' } }))
      .toEqual({ listen: { host: '127.0.0.1', port: 8080 }, to: { path: '/run/local.sock' } });
  });

  it.each<[unknown, RegExp]>([
    [undefined, /forwardRemote\(\) options must be an object/],
    [{}, /forwardRemote\(\) options\.to must be \{ host, port \} or \{ path \}/],
    [{ to: { host: 'h', port: 0 } }, /options\.to\.port must be an integer from 1 to 65535/],
    [{ to: { path: '' } }, /options\.to\.path must be a non-empty string/],
    [{ to: { path: 'a\0b' } }, /options\.to\.path must not contain a NUL character/],
    [{ to: { path: '/x', host: 'h' } }, /options\.to\.host is not a known option/],
    [{ listen: { path: '' }, to: { host: 'h', port: 1 } }, /options\.listen\.path must be a non-empty string/],
    [{ listen: { path: '/tmp/x\0' }, to: { host: 'h', port: 1 } }, /options\.listen\.path must not contain a NUL character/],
    [{ listen: { path: '/tmp/x', port: 1 }, to: { host: 'h', port: 1 } }, /options\.listen\.port is not a known option/],
    [{ listen: { port: 70000 }, to: { host: 'h', port: 1 } }, /options\.listen\.port must be an integer from 0 to 65535/],
    [{ listen: 'tmp.sock', to: { host: 'h', port: 1 } }, /options\.listen must be/],
  ])('forwardRemote() refuses %j', (options, message) => {
    expect(() => normalizeForwardRemoteOptions(options as ForwardRemoteOptions)).toThrow(InvalidArgumentError);
    expect(() => normalizeForwardRemoteOptions(options as ForwardRemoteOptions)).toThrow(message);
  });
});
