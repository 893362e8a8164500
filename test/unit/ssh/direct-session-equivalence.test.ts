// DirectSession (src/ssh/direct-session.ts) against ssh2's own Channel, under the same packets:
// they are fed through ssh2's real packet handlers (client._protocol._handlers) of a connected
// client, so that both kinds of channel see exactly the same sequence, and what a channel sends
// is recorded instead of sent. First the regressions, each named after the failure it pins;
// then randomised runs that check delivery, the receive window, runChannel's sinks and stdin.
import { Client } from 'ssh2';
import type { ServerChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, SSHConnectionPool } from '../../../src/index.js';
import type { OutputSink } from '../../../src/command/channel-contract.js';
import { CancelSource } from '../../../src/core/cancel-source.js';
import { windowKeeper } from '../../../src/ssh/channel-window.js';
import type { CommandChannel } from '../../../src/ssh/command-channel.js';
import { DirectSession } from '../../../src/ssh/direct-session.js';
import { openPreparedSession } from '../../../src/ssh/prepared-session.js';
import { runChannel } from '../../../src/ssh/run-channel.js';
import type { ChannelHost } from '../../../src/ssh/run-channel.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { plainClient, withClient } from '../../support/plain-ssh2-client.js';
import { until } from '../../support/until.js';

let server: EmbeddedSshServer;
/** Resolves once the server side of the latest exec channel closed (the client answered the server's CLOSE). */
let lastExecClosed: Promise<void> = Promise.resolve();

beforeAll(async () => {
  server = await new EmbeddedSshServer({
    onExec: (channel: ServerChannel) => {
      lastExecClosed = new Promise((resolve) => channel.once('close', () => resolve()));
    },
  }).start();
});
afterAll(async () => {
  await server.stop();
});

interface ProtocolInternals {
  _handlers: Record<string, (...args: unknown[]) => void>;
  [method: string]: unknown;
}

interface ChannelInternals {
  incoming: { id: number; window: number; state: string };
  outgoing: { id: number; window: number; state: string };
  _waitChanDrain: boolean;
}


/** A DirectSession: a prepared session, no command sent (the server runs nothing on it). */
function openDirect(client: Client): Promise<CommandChannel> {
  return new Promise((resolve, reject) => openPreparedSession(client, (error, channel) => (error ? reject(error) : resolve(channel!))));
}

/** ssh2's own Channel, on a command that prints nothing. */
function openSsh2(client: Client): Promise<CommandChannel> {
  return new Promise((resolve, reject) => client.exec('sleep 30', (error, channel) => (error ? reject(error) : resolve(channel as unknown as CommandChannel))));
}

function open(client: Client, kind: 'direct' | 'ssh2'): Promise<CommandChannel> {
  return kind === 'direct' ? openDirect(client) : openSsh2(client);
}

/**
 * Feeds packets for `channel` through ssh2's own handlers; what the channel would send
 * (data, EOF, close, window adjusts) is recorded in `sent` instead of going out.
 */
function rig(client: Client, channel: CommandChannel) {
  const protocol = (client as unknown as { _protocol: ProtocolInternals })._protocol;
  const handlers = protocol._handlers;
  const internals = channel as unknown as ChannelInternals;
  const id = internals.incoming.id;
  const sent: string[] = [];
  for (const name of ['channelWindowAdjust', 'channelData', 'channelEOF', 'channelClose']) {
    const original = protocol[name] as (...args: unknown[]) => void;
    protocol[name] = function (this: unknown, chan: number, arg: unknown, ...rest: unknown[]) {
      if (chan !== internals.outgoing.id) return original.call(this, chan, arg, ...rest);
      if (name === 'channelData') sent.push(`data:${(arg as Buffer).length}`);
      else if (name === 'channelWindowAdjust') sent.push(`adjust:${arg as number}`);
      else sent.push(name);
    };
  }
  return {
    sent,
    internals,
    data: (bytes: string | Buffer) => handlers['CHANNEL_DATA']!(protocol, id, Buffer.from(bytes)),
    stderr: (bytes: string | Buffer) => handlers['CHANNEL_EXTENDED_DATA']!(protocol, id, Buffer.from(bytes), 1),
    eof: () => handlers['CHANNEL_EOF']!(protocol, id),
    exit: (code: number) => handlers['CHANNEL_REQUEST']!(protocol, id, 'exit-status', false, code),
    close: () => handlers['CHANNEL_CLOSE']!(protocol, id),
    windowAdjust: (amount: number) => handlers['CHANNEL_WINDOW_ADJUST']!(protocol, id, amount),
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** xorshift32: reproducible random sequences. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** An output sink that is full after `capacity` bytes until `consume()` empties it. */
class FakeSink implements OutputSink {
  readonly got: Buffer[] = [];
  #queued = 0;
  #resume: (() => void) | undefined;
  constructor(readonly capacity: number) {}
  write(chunk: Buffer): boolean {
    this.got.push(chunk);
    this.#queued += chunk.length;
    return this.#queued < this.capacity;
  }
  onReady(resume: () => void): void {
    this.#resume = resume;
  }
  consume(): void {
    this.#queued = 0;
    this.#resume?.();
  }
  text(): string {
    return Buffer.concat(this.got).toString();
  }
}

/**
 * Times the same work on ssh2's Channel, then on a DirectSession: `prepare` sets a fresh channel
 * up and returns the step to time and the condition that says the work is done.
 */
async function timeOnBoth(
  client: Client,
  prepare: (channel: CommandChannel, feed: ReturnType<typeof rig>) => { go: () => void; done: () => boolean },
): Promise<{ ssh2Ms: number; directMs: number }> {
  const time = async (kind: 'direct' | 'ssh2'): Promise<number> => {
    const channel = await open(client, kind);
    expect(channel instanceof DirectSession).toBe(kind === 'direct');
    const { go, done } = prepare(channel, rig(client, channel));
    const started = performance.now();
    go();
    await until(done, 120_000, `the work done on the ${kind} channel`);
    const took = performance.now() - started;
    channel.close();
    return took;
  };
  const ssh2Ms = await time('ssh2');
  return { ssh2Ms, directMs: await time('direct') };
}

describe('regressions', () => {
  it('regression: a hold of many small packets took seconds to deliver (quadratic), in one synchronous run; it takes about what ssh2\'s Channel takes', async () => {
    await withClient(server, async (client) => {
      // A paused reader holds every packet the window lets in: with small packets (a command
      // that writes line by line, a slow reader) that is a great many, bounded by bytes only.
      const count = 200_000;
      const packet = Buffer.from('ab\n');
      const { ssh2Ms, directMs } = await timeOnBoth(client, (channel, feed) => {
        let got = 0;
        channel.pause();
        channel.on('data', (chunk: Buffer) => (got += chunk.length));
        for (let i = 0; i < count; i++) feed.data(packet);
        expect(channel.readableLength).toBe(count * packet.length);
        return { go: () => channel.resume(), done: () => got === count * packet.length };
      });
      // Before the fix: 2,000-15,000 ms for the DirectSession against ~50 ms for ssh2's Channel,
      // in one synchronous run (the event loop, every connection of the process, waited). The
      // bound is a same-run ratio with a wide margin: it tells quadratic from linear, no more.
      expect(directMs, `DirectSession ${directMs.toFixed(0)} ms, ssh2 Channel ${ssh2Ms.toFixed(0)} ms`).toBeLessThan(Math.max(500, 10 * ssh2Ms));
    });
  }, 180_000);

  it('regression: stdin queued as many small writes behind a spent window took seconds to send (quadratic) inside ssh2\'s window-adjust handler; it takes about what ssh2\'s Channel takes', async () => {
    await withClient(server, async (client) => {
      const count = 150_000;
      const line = Buffer.from('0123456789abcdef\n');
      const { ssh2Ms, directMs } = await timeOnBoth(client, (channel, feed) => {
        // The command does not read yet: the server's window is spent, the writes wait.
        feed.internals.outgoing.window = 0;
        for (let i = 0; i < count; i++) channel.write(line);
        const sentBytes = (): number => feed.sent.reduce((sum, entry) => sum + (entry.startsWith('data:') ? Number(entry.slice(5)) : 0), 0);
        expect(sentBytes()).toBe(0);
        return { go: () => feed.windowAdjust(count * line.length), done: () => sentBytes() === count * line.length };
      });
      // Before the fix: 500-2,000 ms for the DirectSession, in one synchronous run inside
      // ssh2's WINDOW_ADJUST handler, against 20-40 ms for ssh2's Channel (wide margin as above).
      expect(directMs, `DirectSession ${directMs.toFixed(0)} ms, ssh2 Channel ${ssh2Ms.toFixed(0)} ms`).toBeLessThan(Math.max(300, 10 * ssh2Ms));
    });
  }, 180_000);

  it('regression: a command the server had closed was reported lost, its held output dropped, when the connection dropped while its stdout reader was behind', async () => {
    const pool = new SSHConnectionPool();
    try {
      const ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
      const cmd = ssh`head -c 1000000 /dev/zero`;
      const chunks = cmd.stdout[Symbol.asyncIterator]();
      let stdoutBytes = ((await chunks.next()).value as Buffer).length;
      // The command ended, the server closed the channel and the client answered: all of the
      // output is in the client, most of it held for the reader. Then the server goes away.
      await lastExecClosed;
      server.dropAllConnections();
      await until(() => server.openConnections === 0, 5_000, 'the connection dropped');
      let streamError: string | undefined;
      try {
        for (let chunk = await chunks.next(); !chunk.done; chunk = await chunks.next()) stdoutBytes += (chunk.value as Buffer).length;
      } catch (error) {
        streamError = (error as Error).name;
      }
      const settled = await cmd.then((result) => ({ ok: result.ok, exitCode: result.exitCode }), (error: unknown) => ({ error: (error as Error).name }));
      // Before the fix: { stdoutBytes: ~32 KiB, streamError: 'ConnectionLostError', settled: { error: 'ConnectionLostError' } }
      expect({ stdoutBytes, streamError, settled }).toEqual({ stdoutBytes: 1_000_000, streamError: undefined, settled: { ok: true, exitCode: 0 } });
    } finally {
      await pool.closeAll();
    }
  }, 30_000);

  it('regression (the same, below the pool): runChannel reported the server\'s close followed by the connection\'s loss as a lost connection, for both kinds of channel', async () => {
    await withClient(server, async (client) => {
      const seen: Record<string, unknown> = {};
      for (const kind of ['ssh2', 'direct'] as const) {
        const channel = await open(client, kind);
        const feed = rig(client, channel);
        let connectionClosed: (() => void) | undefined;
        const host: ChannelHost & { usable: boolean } = {
          usable: true,
          signalsHonoured: true,
          onClose: (listener) => {
            connectionClosed = listener;
            return () => (connectionClosed = undefined);
          },
          killProcessGroup: () => {},
        };
        const sink = new FakeSink(1);
        const running = runChannel(host, channel, { stdin: undefined, maxBuffer: 1000, stdoutSink: sink, cancel: new CancelSource(), reportsProcessGroup: false });
        let settled = false;
        void running.outcome.then(() => (settled = true));
        await tick();
        // The sink takes 'a' and is full: 'b' and 'c' wait in the channel while the command ends.
        feed.data('a');
        feed.data('b');
        feed.data('c');
        feed.exit(0);
        feed.eof();
        feed.close();
        expect((channel as unknown as ChannelInternals).incoming.state).toBe('closed');
        host.usable = false;
        connectionClosed?.();
        for (let i = 0; i < 50 && !settled; i++) {
          sink.consume();
          await tick();
        }
        const outcome = await running.outcome;
        seen[kind] = { ending: outcome.ending, exitCode: outcome.exitCode, stdout: sink.text() };
      }
      // Before the fix: both { ending: 'connection-lost', exitCode: 0, stdout: 'a' }.
      expect(seen).toEqual({ ssh2: { ending: 'closed', exitCode: 0, stdout: 'abc' }, direct: { ending: 'closed', exitCode: 0, stdout: 'abc' } });
    });
  });
});

describe('same packets, same outcome: randomised runs', () => {
  /** Random data, pauses and resumes (some inside data listeners), EOF and close; what each side saw. */
  async function deliveryRun(client: Client, kind: 'direct' | 'ssh2', seed: number) {
    const channel = await open(client, kind);
    const feed = rig(client, channel);
    const next = random(seed);
    const out: string[] = [];
    const err: string[] = [];
    const violations: string[] = [];
    let outEnded = false;
    let errEnded = false;
    let closes = 0;
    channel.on('data', (chunk: Buffer) => {
      if (outEnded || closes) violations.push('stdout data after end or close');
      out.push(chunk.toString());
      const x = next();
      if (x < 0.2) channel.pause();
      else if (x < 0.3) {
        channel.pause();
        channel.resume();
      }
      else if (x < 0.35) channel.stderr.pause();
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      if (errEnded) violations.push('stderr data after end');
      err.push(chunk.toString());
      const x = next();
      if (x < 0.2) channel.stderr.pause();
      else if (x < 0.3) {
        channel.stderr.pause();
        channel.stderr.resume();
      }
    });
    const events = (target: unknown) => target as { on(event: string, listener: () => void): void };
    events(channel).on('end', () => {
      if (outEnded) violations.push('stdout end twice');
      outEnded = true;
    });
    events(channel.stderr).on('end', () => {
      if (errEnded) violations.push('stderr end twice');
      errEnded = true;
    });
    channel.on('close', () => {
      closes++;
      if (!outEnded) violations.push('close before stdout end');
    });
    const sentOut: string[] = [];
    const sentErr: string[] = [];
    let n = 0;
    let eofSent = false;
    let closeSent = false;
    for (let step = 0; step < 40 && !closeSent; step++) {
      const x = next();
      if (eofSent && x < 0.45) await tick();
      else if (x < 0.3) {
        const text = `o${n++};`;
        sentOut.push(text);
        feed.data(text);
      } else if (x < 0.45) {
        const text = `e${n++};`;
        sentErr.push(text);
        feed.stderr(text);
      } else if (x < 0.52) channel.pause();
      else if (x < 0.6) channel.resume();
      else if (x < 0.65) channel.stderr.pause();
      else if (x < 0.7) channel.stderr.resume();
      else if (x < 0.85) await tick();
      else if (x < 0.88) {
        if (!eofSent) {
          feed.eof();
          feed.exit(0);
          eofSent = true;
        }
      } else if (x < 0.9) {
        if (!eofSent) {
          feed.eof();
          feed.exit(0);
          eofSent = true;
        }
        feed.close();
        closeSent = true;
      }
    }
    if (!eofSent) {
      feed.eof();
      feed.exit(0);
    }
    if (!closeSent) feed.close();
    for (let i = 0; i < 20; i++) {
      channel.resume();
      channel.stderr.resume();
      await tick();
    }
    return {
      got: { out: out.join(''), err: err.join(''), closes, outEnded, errEnded, violations },
      expected: { out: sentOut.join(''), err: sentErr.join(''), closes: 1, outEnded: true, errEnded: true, violations: [] },
    };
  }

  it('delivers stdout and stderr whole, in order, once, never after end, with close after stdout\'s end', async () => {
    await withClient(server, async (client) => {
      const failures: string[] = [];
      for (let seed = 1; seed <= 150; seed++) {
        for (const kind of ['direct', 'ssh2'] as const) {
          const { got, expected } = await deliveryRun(client, kind, seed);
          if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(`${kind} seed ${seed}: ${JSON.stringify(got)}`);
        }
      }
      expect(failures).toEqual([]);
    });
  }, 60_000);

  /** A server model that sends stdout and stderr as its window allows; the reader pauses at random, also in its listeners. */
  async function windowRun(client: Client, kind: 'direct' | 'ssh2', seed: number, keeper: boolean) {
    const channel = await open(client, kind);
    const feed = rig(client, channel);
    const next = random(seed);
    let serverWindow = feed.internals.incoming.window;
    const topUp = keeper ? windowKeeper(channel) : () => {};
    let gotOut = 0;
    let gotErr = 0;
    const problems: string[] = [];
    let mostHeld = 0;
    const maybePause = (): void => {
      if (next() >= 0.1) return;
      channel.pause();
      channel.stderr.pause();
      setTimeout(() => {
        channel.resume();
        channel.stderr.resume();
      }, 1);
    };
    channel.on('data', (chunk: Buffer) => {
      gotOut += chunk.length;
      topUp();
      maybePause();
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      gotErr += chunk.length;
      topUp();
      maybePause();
    });
    const totalOut = 6 * 1024 * 1024 + Math.floor(next() * 100_000);
    const totalErr = 3 * 1024 * 1024 + Math.floor(next() * 100_000);
    let leftOut = totalOut;
    let leftErr = totalErr;
    const takeAdjusts = (): void => {
      for (const entry of feed.sent.splice(0)) if (entry.startsWith('adjust:')) serverWindow += Number(entry.slice(7));
    };
    let stalls = 0;
    for (let step = 0; step < 20_000 && (leftOut > 0 || leftErr > 0); step++) {
      takeAdjusts();
      if (feed.internals.incoming.window !== serverWindow) {
        problems.push(`step ${step}: client window ${feed.internals.incoming.window}, server's ${serverWindow}`);
        break;
      }
      const x = next();
      if (x < 0.15) {
        channel.pause();
        channel.stderr.pause();
      } else if (x < 0.3) {
        channel.resume();
        channel.stderr.resume();
      } else if (x < 0.45) await tick();
      else {
        const toStderr = x < 0.6 ? leftErr > 0 : leftOut === 0;
        const size = Math.min(toStderr ? leftErr : leftOut, 32 * 1024, serverWindow);
        if (size <= 0) {
          channel.resume();
          channel.stderr.resume();
          await new Promise((resolve) => setTimeout(resolve, 2));
          takeAdjusts();
          if (serverWindow === 0 && ++stalls > 200) {
            problems.push(`stalled: window 0, ${channel.readableLength + channel.stderr.readableLength} bytes held`);
            break;
          }
          continue;
        }
        stalls = 0;
        if (feed.internals.incoming.window === 0) problems.push('the server sent into a window the client counts as 0 (ssh2 drops it)');
        if (toStderr) {
          feed.stderr(Buffer.alloc(size, 0x65));
          leftErr -= size;
        } else {
          feed.data(Buffer.alloc(size, 0x6f));
          leftOut -= size;
        }
        serverWindow -= size;
      }
      mostHeld = Math.max(mostHeld, channel.readableLength + channel.stderr.readableLength);
    }
    feed.eof();
    feed.exit(0);
    feed.close();
    channel.resume();
    channel.stderr.resume();
    await until(() => (gotOut === totalOut && gotErr === totalErr) || problems.length > 0, 5_000, 'everything delivered').catch(() => problems.push(`delivered ${gotOut}/${totalOut} and ${gotErr}/${totalErr}`));
    if (mostHeld > 6 * 1024 * 1024) problems.push(`held ${mostHeld} bytes`);
    return problems;
  }

  it('keeps the receive window equal to what the server may still send, never lets data into a zero window, bounds the hold and never stalls (with and without the window keeper)', async () => {
    await withClient(server, async (client) => {
      const failures: string[] = [];
      for (let seed = 1; seed <= 10; seed++) {
        for (const keeper of [false, true]) {
          const problems = await windowRun(client, 'direct', seed, keeper);
          if (problems.length > 0) failures.push(`seed ${seed} keeper ${keeper}: ${problems.join('; ')}`);
        }
      }
      expect(failures).toEqual([]);
    });
  }, 120_000);

  it('through runChannel, with sinks that fill and drain at random, every byte reaches a sink or the result, with the exit status', async () => {
    await withClient(server, async (client) => {
      const failures: string[] = [];
      for (let seed = 1; seed <= 150; seed++) {
        for (const kind of ['direct', 'ssh2'] as const) {
          const channel = await open(client, kind);
          const feed = rig(client, channel);
          const next = random(seed);
          const mode = Math.floor(next() * 3);
          const outSink = mode !== 1 ? new FakeSink(1 + Math.floor(next() * 12)) : undefined;
          const errSink = mode !== 0 ? new FakeSink(1 + Math.floor(next() * 12)) : undefined;
          const running = runChannel({ usable: true, signalsHonoured: true, onClose: () => () => {}, killProcessGroup: () => {} }, channel, {
            stdin: undefined, maxBuffer: 1_000_000, stdoutSink: outSink, stderrSink: errSink, cancel: new CancelSource(), reportsProcessGroup: false,
          });
          let settled = false;
          void running.outcome.then(() => (settled = true));
          const sentOut: string[] = [];
          const sentErr: string[] = [];
          let n = 0;
          for (let step = 0; step < 30; step++) {
            const x = next();
            if (x < 0.35) {
              const text = `o${n++};`;
              sentOut.push(text);
              feed.data(text);
            } else if (x < 0.6) {
              const text = `e${n++};`;
              sentErr.push(text);
              feed.stderr(text);
            } else if (x < 0.7) outSink?.consume();
            else if (x < 0.8) errSink?.consume();
            else await tick();
          }
          feed.eof();
          feed.exit(0);
          feed.close();
          for (let i = 0; i < 100 && !settled; i++) {
            await tick();
            if (next() < 0.5) outSink?.consume();
            else errSink?.consume();
          }
          if (!settled) {
            failures.push(`${kind} seed ${seed}: never settled`);
            continue;
          }
          const outcome = await running.outcome;
          const got = { out: outSink ? outSink.text() : outcome.stdout.toString(), err: errSink ? errSink.text() : outcome.stderr.toString(), exitCode: outcome.exitCode, ending: outcome.ending };
          const expected = { out: sentOut.join(''), err: sentErr.join(''), exitCode: 0, ending: 'closed' };
          if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(`${kind} seed ${seed}: ${JSON.stringify(got)}`);
        }
      }
      expect(failures).toEqual([]);
    });
  }, 60_000);

  it('sends everything written before end(), then one EOF and nothing after it, whatever the server\'s window does; write() after end() is refused', async () => {
    await withClient(server, async (client) => {
      const failures: string[] = [];
      for (let seed = 1; seed <= 60; seed++) {
        const channel = await openDirect(client);
        const feed = rig(client, channel);
        const next = random(seed);
        feed.internals.outgoing.window = Math.floor(next() * 100_000);
        let written = 0;
        let ended = false;
        let closedByServer = false;
        let refusedAfterEnd = true;
        let finishes = 0;
        channel.on('finish', () => finishes++);
        for (let step = 0; step < 30; step++) {
          const x = next();
          if (x < 0.4) {
            const size = next() < 0.1 ? 0 : Math.floor(next() * 3_000_000);
            const accepted = !ended && !closedByServer;
            if (accepted) written += size;
            const returned = channel.write(Buffer.alloc(size, 0x61));
            if (ended && returned) refusedAfterEnd = false;
          } else if (x < 0.45) {
            ended = true;
            channel.end();
          } else if (x < 0.75) feed.windowAdjust(Math.floor(next() * 2_000_000));
          else if (x < 0.77) {
            feed.eof();
            feed.exit(0);
            feed.close();
            closedByServer = true;
          } else await tick();
        }
        channel.end();
        for (let i = 0; i < 10; i++) {
          feed.windowAdjust(3_000_000);
          await tick();
        }
        let bytes = 0;
        let eofs = 0;
        let afterEof = 0;
        for (const entry of feed.sent) {
          if (entry.startsWith('data:')) {
            bytes += Number(entry.slice(5));
            if (eofs > 0) afterEof++;
          }
          if (entry === 'channelEOF') eofs++;
        }
        const bad = afterEof > 0 || eofs > 1 || finishes > 1 || !refusedAfterEnd || (!closedByServer && (bytes !== written || eofs !== 1 || finishes !== 1));
        if (bad) failures.push(`seed ${seed}: ${JSON.stringify({ written, bytes, eofs, afterEof, finishes, refusedAfterEnd, closedByServer })}`);
      }
      expect(failures).toEqual([]);
    });
  }, 120_000);
});
