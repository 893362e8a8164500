import { describe, expect, it } from 'vitest';
import { AcquireTimeoutError, AuthenticationError, ChannelRefusedError, ConnectError, InvalidArgumentError, PoolClosedError } from '../../../src/index.js';
import { startFailureOf } from '../../../src/groups/start-failure.js';

const endpoint = { poolName: 'u@h:22', host: 'h', port: 22 };

describe('which failures move a command to the next host', () => {
  it('a command whose connection could not be opened never started: it moves on, and counts against the host', () => {
    const refused = new ConnectError('refused', endpoint, true);
    expect(startFailureOf(refused)).toEqual({ hostFault: refused });
    const auth = new AuthenticationError('denied', endpoint);
    expect(startFailureOf(auth)).toEqual({ hostFault: auth });
  });

  it('an acquire timeout moves on; it counts against the host only when connecting is what failed', () => {
    const refused = new ConnectError('refused', endpoint, true);
    expect(startFailureOf(new AcquireTimeoutError('busy', 'u@h:22', 10, { cause: refused }))).toEqual({ hostFault: refused });
    expect(startFailureOf(new AcquireTimeoutError('busy', 'u@h:22', 10))).toEqual({ hostFault: undefined });
    expect(startFailureOf(new ChannelRefusedError('refused', 'u@h:22'))).toEqual({ hostFault: undefined });
  });

  it('a closed pool or a bad argument is the answer, not a reason to try elsewhere', () => {
    expect(startFailureOf(new PoolClosedError('closed'))).toBeUndefined();
    expect(startFailureOf(new InvalidArgumentError('bad'))).toBeUndefined();
    expect(startFailureOf(new Error('anything else'))).toBeUndefined();
  });
});
