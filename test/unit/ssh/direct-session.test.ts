// Direct sessions on a real ssh2 connection (the in-process server): ssh2 routes a prepared
// session's packets to a DirectSession, which carries output, exit status, stdin beyond the
// server's window, flow control and the connection's loss as ssh2's own Channel does, and
// leaves every other channel of the client to ssh2.
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandChannel } from '../../../src/ssh/command-channel.js';
import { DIRECT_SESSION_WINDOW, DirectSession, directSessionsInstalled } from '../../../src/ssh/direct-session.js';
import { execOnPreparedSession, openPreparedSession } from '../../../src/ssh/prepared-session.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { plainClient, withClient } from '../../support/plain-ssh2-client.js';
import { until } from '../../support/until.js';

let server: EmbeddedSshServer;

beforeAll(async () => {
  server = await new EmbeddedSshServer().start();
});
afterAll(async () => {
  await server.stop();
});


function openSession(client: Client): Promise<CommandChannel> {
  return new Promise((resolve, reject) => openPreparedSession(client, (error, channel) => (error ? reject(error) : resolve(channel!))));
}

async function exec(client: Client, command: string): Promise<CommandChannel> {
  const channel = await openSession(client);
  await new Promise<void>((resolve, reject) => execOnPreparedSession(channel, command, (error) => (error ? reject(error) : resolve())));
  return channel;
}

interface Gathered {
  stdout: Buffer;
  stderr: Buffer;
  exit: unknown[];
  closes: number;
}

/** Attaches listeners now and resolves with everything once the channel closed. */
function gather(channel: CommandChannel): Promise<Gathered> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let exit: unknown[] = [];
  let closes = 0;
  channel.on('data', (chunk) => stdout.push(chunk));
  channel.stderr.on('data', (chunk) => stderr.push(chunk));
  channel.on('exit', (...args) => (exit = args));
  return new Promise((resolve) => {
    channel.on('close', () => {
      closes++;
      // A second close would be counted before this settles the test's next tick.
      setImmediate(() => resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), exit, closes }));
    });
  });
}

describe('a direct session', () => {
  it('is what a prepared session is once ssh2 routes its packets here', async () => {
    await withClient(server, async (client) => {
      const channel = await openSession(client);
      expect(channel).toBeInstanceOf(DirectSession);
      expect(directSessionsInstalled(client)).toBe(true);
      channel.close();
    });
  });

  it('delivers stdout, stderr and the exit status, then closes once', async () => {
    await withClient(server, async (client) => {
      const channel = await exec(client, 'printf out; printf err >&2; exit 3');
      channel.end();
      const result = await gather(channel);
      expect(result.stdout.toString()).toBe('out');
      expect(result.stderr.toString()).toBe('err');
      expect(result.exit).toEqual([3]);
      expect(result.closes).toBe(1);
    });
  });

  it('reports a command ended by a signal with the signal name', async () => {
    await withClient(server, async (client) => {
      const channel = await exec(client, 'kill -TERM $$');
      channel.end();
      const result = await gather(channel);
      expect(result.exit[0]).toBeNull();
      expect(result.exit[1]).toBe('SIGTERM');
    });
  });

  it('receives an output several times its window, topping the window up as it is read', async () => {
    await withClient(server, async (client) => {
      const bytes = 3 * DIRECT_SESSION_WINDOW + 12_345;
      const channel = await exec(client, `head -c ${bytes} /dev/zero`);
      channel.end();
      const result = await gather(channel);
      expect(result.stdout.length).toBe(bytes);
      expect(result.exit).toEqual([0]);
    });
  });

  it('holds output while paused, stops the server once its hold is full, and delivers the rest in order once resumed', async () => {
    await withClient(server, async (client) => {
      const lines = 1_000_000; // about 6.9 MB, more than a full hold and a window
      const channel = (await exec(client, `seq 1 ${lines}`)) as DirectSession;
      channel.pause();
      const pending = gather(channel);
      channel.end();
      // As with ssh2's Channel: the window is topped up until the hold reaches its bound, then
      // the server may spend what is left of it and must wait.
      await until(() => channel._waitChanDrain && channel.incoming.window === 0, 10_000, 'the server stopped');
      expect(channel.readableLength).toBeGreaterThanOrEqual(DIRECT_SESSION_WINDOW);
      expect(channel.readableLength).toBeLessThanOrEqual(2 * DIRECT_SESSION_WINDOW);
      channel.resume();
      const result = await pending;
      const got = result.stdout.toString().trim().split('\n');
      expect(got.length).toBe(lines);
      expect(got.every((line, index) => Number(line) === index + 1)).toBe(true);
      expect(result.closes).toBe(1);
    });
  });

  it('delivers held output a tick after resume(), as a Node stream: a close listener attached right after the data listener hears it', async () => {
    await withClient(server, async (client) => {
      const channel = await exec(client, 'echo held');
      channel.end();
      // Not flowing yet: the output, EOF and close arrive and wait for a reader.
      await until(() => channel.readableLength > 0 && (channel as DirectSession).incoming.state === 'closed', 5_000, 'the command ended');
      const stdout: Buffer[] = [];
      let closed = 0;
      channel.on('data', (chunk) => stdout.push(chunk));
      channel.on('close', () => closed++);
      expect(stdout).toEqual([]);
      await until(() => closed === 1, 5_000, 'the close');
      expect(Buffer.concat(stdout).toString()).toBe('held\n');
    });
  });

  it('stops the flow for a reader that pauses inside its data listener, until it resumes', async () => {
    await withClient(server, async (client) => {
      const channel = (await exec(client, 'seq 1 200000')) as DirectSession;
      let pauses = 0;
      let text = '';
      channel.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        // A reader that takes one chunk at a time, like a full sink: no chunk reaches it while paused.
        channel.pause();
        pauses++;
        setImmediate(() => channel.resume());
      });
      const closed = new Promise<void>((resolve) => channel.on('close', () => resolve()));
      let flowingWhilePaused = false;
      const check = setInterval(() => {
        if (channel.readableLength > 2 * DIRECT_SESSION_WINDOW) flowingWhilePaused = true;
      }, 5);
      channel.end();
      await closed;
      clearInterval(check);
      const lines = text.trim().split('\n');
      expect(lines.length).toBe(200_000);
      expect(lines.at(-1)).toBe('200000');
      expect(pauses).toBeGreaterThan(1);
      expect(flowingWhilePaused).toBe(false);
    });
  });

  it('sends stdin larger than the server\'s window, then EOF, and says when it drained', async () => {
    await withClient(server, async (client) => {
      const channel = await exec(client, 'wc -c');
      const pending = gather(channel);
      const big = Buffer.alloc(3 * DIRECT_SESSION_WINDOW, 0x61);
      let drained = 0;
      let finished = 0;
      channel.on('drain', () => drained++);
      channel.on('finish', () => finished++);
      expect(channel.write(big)).toBe(false);
      channel.end('tail');
      const result = await pending;
      expect(result.stdout.toString().trim()).toBe(String(big.length + 4));
      expect(drained).toBe(1);
      expect(finished).toBe(1);
    });
  });

  it('closes once, without throwing, when the connection is lost mid-command', async () => {
    await withClient(server, async (client) => {
      client.on('error', () => {});
      const channel = await exec(client, 'sleep 30');
      const pending = gather(channel);
      server.dropAllConnections();
      const result = await pending;
      expect(result.closes).toBe(1);
      expect(result.exit).toEqual([]);
      // Writes after the close go nowhere.
      expect(channel.write('late')).toBe(false);
    });
  });

  it('is closed from our side and ends with the server\'s close', async () => {
    await withClient(server, async (client) => {
      const channel = await exec(client, 'sleep 30');
      const pending = gather(channel);
      channel.close();
      const result = await pending;
      expect(result.closes).toBe(1);
    });
  });

  it('leaves every other channel of the client to ssh2', async () => {
    await withClient(server, async (client) => {
      const direct = await exec(client, 'echo direct');
      direct.end();
      const ssh2Channel = await new Promise<CommandChannel>((resolve, reject) => client.exec('echo ssh2', (error, channel) => (error ? reject(error) : resolve(channel))));
      expect(ssh2Channel).not.toBeInstanceOf(DirectSession);
      const [a, b] = await Promise.all([gather(direct), gather(ssh2Channel)]);
      expect(a.stdout.toString()).toBe('direct\n');
      expect(b.stdout.toString()).toBe('ssh2\n');
    });
  });

  it('is not used by a client whose internals have another shape', () => {
    const client = new Client();
    // Not connected: no protocol object, so no handler to route confirmations through.
    expect(directSessionsInstalled(client)).toBe(false);
  });
});

describe('a direct session facing a hostile server', () => {
  /** A session over a protocol that records what would go out, with the server's window and packet size given. */
  function fakeSession(window: number, packetSize: number) {
    const sent: Array<{ call: string; bytes?: number }> = [];
    const protocol = {
      channelData: (_id: number, data: Buffer) => sent.push({ call: 'data', bytes: data.length }),
      channelEOF: () => sent.push({ call: 'eof' }),
      channelClose: () => sent.push({ call: 'close' }),
      channelWindowAdjust: () => sent.push({ call: 'adjust' }),
    };
    const session = new DirectSession(new Client(), { recipient: 0, sender: 7, window, packetSize }, protocol);
    return { session, sent };
  }

  it('closes the channel instead of sending empty packets forever when the server allows 0 bytes per packet', () => {
    const { session, sent } = fakeSession(1024, 0);
    expect(session.write('abc')).toBe(true);
    expect(sent).toEqual([{ call: 'close' }]);
    expect(session.writable).toBe(false);
  });

  it('splits stdin into the server\'s packet size and waits for window beyond it', () => {
    const { session, sent } = fakeSession(10, 4);
    session.end('0123456789abcdef');
    expect(sent).toEqual([{ call: 'data', bytes: 4 }, { call: 'data', bytes: 4 }, { call: 'data', bytes: 2 }]);
    expect(session._waitWindow).toBe(true);
    // What ssh2's WINDOW_ADJUST handler does: grow the window, then call back.
    session.outgoing.window += 100;
    session._waitWindow = false;
    session._chunkcb!();
    expect(sent.slice(3)).toEqual([{ call: 'data', bytes: 4 }, { call: 'data', bytes: 2 }, { call: 'eof' }]);
  });
});
