import type { ServerChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../../src/index.js';
import { RECEIVE_WINDOW_BYTES, WINDOW_TOP_UP_BYTES, windowKeeper } from '../../../src/ssh/channel-window.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';

/** ssh2's own receive window: what a channel gets without sshpool's top-ups. */
const SSH2_WINDOW = 2 * 1024 * 1024;

interface WindowSeen {
  /** The largest send window the server had before one of its writes. */
  largest: number;
  /** The server's send window when the command ended. */
  atEnd: number;
}

let server: EmbeddedSshServer;
let pool: SSHConnectionPool;
let ssh: ReturnType<typeof $.ssh>;
const seen: Array<{ command: string; window: WindowSeen }> = [];

/** What the server saw for the latest command whose text contains `part`. */
function windowOf(part: string): WindowSeen {
  const found = seen.findLast((entry) => entry.command.includes(part));
  if (!found) throw new Error(`no exec containing ${part}`);
  return found.window;
}

/** The server's view of the window the client granted, sampled before every write it makes. */
function watchWindow(channel: ServerChannel, command: string): void {
  const outgoing = (channel as unknown as { outgoing: { window: number } }).outgoing;
  const record: WindowSeen = { largest: outgoing.window, atEnd: outgoing.window };
  seen.push({ command, window: record });
  const sample = (): void => {
    record.largest = Math.max(record.largest, outgoing.window);
    record.atEnd = outgoing.window;
  };
  for (const stream of [channel, channel.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    (stream as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
      sample();
      return write(...args);
    };
  }
  const exit = channel.exit.bind(channel) as (...args: unknown[]) => void;
  (channel as { exit: (...args: unknown[]) => void }).exit = (...args: unknown[]) => {
    sample();
    exit(...args);
  };
}

beforeAll(async () => {
  server = await new EmbeddedSshServer({ onExec: watchWindow }).start();
  pool = new SSHConnectionPool();
  ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
});

afterAll(async () => {
  await pool.closeAll();
  await server.stop();
});

describe("a command's receive window", () => {
  it('stays open wider than ssh2 keeps it while a command streams bulk stdout, and every byte arrives', async () => {
    const bytes = 24 * 1024 * 1024;
    const result = await ssh`head -c ${bytes} /dev/zero | tr '\\0' o`.maxBuffer(bytes + 1);
    expect(result.stdoutBuffer.length).toBe(bytes);
    expect(result.stdoutBuffer.every((byte) => byte === 0x6f)).toBe(true);
    const window = windowOf('/dev/zero | tr');
    expect(window.largest).toBeGreaterThan(SSH2_WINDOW);
    expect(window.largest).toBeLessThanOrEqual(RECEIVE_WINDOW_BYTES);
  });

  it('is kept open for bulk stderr too', async () => {
    const bytes = 12 * 1024 * 1024;
    const result = await ssh`head -c ${bytes} /dev/zero | tr '\\0' e >&2`.maxBuffer(bytes + 1);
    expect(result.stderrBuffer.length).toBe(bytes);
    expect(windowOf('/dev/zero | tr').largest).toBeGreaterThan(SSH2_WINDOW);
  });

  it('is never topped up for a short output, so a short command costs no extra packet', async () => {
    const result = await ssh`echo short`;
    expect(result.stdout).toBe('short\n');
    const window = windowOf('echo short');
    expect(window.largest).toBe(SSH2_WINDOW);
    expect(window.atEnd).toBe(SSH2_WINDOW - 'short\n'.length);
  });
});

describe('windowKeeper on a channel that is not a stream (the SFTP channel)', () => {
  function fakeChannel(window: number) {
    const adjusts: Array<[number, number]> = [];
    const channel = {
      incoming: { window },
      outgoing: { id: 7, state: 'open' },
      _client: { _protocol: { channelWindowAdjust: (id: number, amount: number) => void adjusts.push([id, amount]) } },
    };
    return { channel, adjusts };
  }

  it('tops the window up to RECEIVE_WINDOW_BYTES once WINDOW_TOP_UP_BYTES of it were used, and not before', () => {
    const { channel, adjusts } = fakeChannel(SSH2_WINDOW);
    const topUp = windowKeeper(channel, () => true, () => 0);
    channel.incoming.window -= WINDOW_TOP_UP_BYTES - 1;
    topUp();
    expect(adjusts).toEqual([]);
    channel.incoming.window -= 1;
    topUp();
    expect(adjusts).toEqual([[7, RECEIVE_WINDOW_BYTES - (SSH2_WINDOW - WINDOW_TOP_UP_BYTES)]]);
    expect(channel.incoming.window).toBe(RECEIVE_WINDOW_BYTES);
  });

  it('grants nothing while what the caller says is unread reaches a top-up, or once the channel closed', () => {
    const { channel, adjusts } = fakeChannel(SSH2_WINDOW);
    let unread = WINDOW_TOP_UP_BYTES;
    const topUp = windowKeeper(channel, () => true, () => unread);
    channel.incoming.window -= WINDOW_TOP_UP_BYTES;
    topUp();
    expect(adjusts).toEqual([]);
    channel.outgoing.state = 'closed';
    unread = 0;
    topUp();
    expect(adjusts).toEqual([]);
  });

  it('leaves a channel of another shape to ssh2 (no internals it knows: a keeper that does nothing)', () => {
    const topUp = windowKeeper({ incoming: {} }, () => true, () => 0);
    expect(() => topUp()).not.toThrow();
  });
});
