// runChannel on a stand-in channel: what it leaves attached to the channel once the command is over.
import { EventEmitter } from 'node:events';
import type { ClientChannel } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { CancelSource } from '../../../src/core/cancel-source.js';
import { runChannel } from '../../../src/ssh/run-channel.js';
import type { ChannelHost } from '../../../src/ssh/run-channel.js';

/** The parts of an ssh2 channel runChannel touches (no window internals: its keeper then does nothing). */
class StandInChannel extends EventEmitter {
  readonly stderr = Object.assign(new EventEmitter(), { pause: () => {}, resume: () => {} });
  ended = false;
  end(): void {
    this.ended = true;
  }
  write(): boolean {
    return true;
  }
  close(): void {}
  pause(): void {}
  resume(): void {}
}

const host: ChannelHost = { usable: true, signalsHonoured: true, onClose: () => () => {}, killProcessGroup: () => {} };

describe('runChannel', () => {
  it('reports output and exit status, then takes its output and exit listeners off the closed channel', async () => {
    const channel = new StandInChannel();
    const running = runChannel(host, channel as unknown as ClientChannel, { stdin: undefined, maxBuffer: 1024, cancel: new CancelSource(), reportsProcessGroup: false });
    expect(channel.ended).toBe(true);
    channel.emit('data', Buffer.from('out'));
    channel.stderr.emit('data', Buffer.from('err'));
    channel.emit('exit', 0);
    channel.emit('close');
    const outcome = await running.outcome;
    await running.freed;
    expect(outcome).toMatchObject({ exitCode: 0, signal: null, ending: 'closed', bytesReceived: 6 });
    expect(outcome.stdout.toString()).toBe('out');
    expect(outcome.stderr.toString()).toBe('err');
    expect(channel.listenerCount('data')).toBe(0);
    expect(channel.stderr.listenerCount('data')).toBe(0);
    expect(channel.listenerCount('exit')).toBe(0);
    expect(channel.listenerCount('close')).toBe(0);
    // Writes racing the close may still fail on the channel: that stays harmless.
    expect(channel.listenerCount('error')).toBe(1);
  });

  it('keeps stderr that arrives after the close, until stderr ends; the channel counts as freed at the close', async () => {
    const channel = new StandInChannel();
    // ssh2 closes a channel once stdout ended; a paused stderr may still hold output then.
    const stderr = Object.assign(channel.stderr, { readable: true });
    const running = runChannel(host, channel as unknown as ClientChannel, { stdin: undefined, maxBuffer: 1024, cancel: new CancelSource(), reportsProcessGroup: false });
    let settled = false;
    void running.outcome.then(() => (settled = true));
    channel.emit('exit', 0);
    channel.emit('close');
    await running.freed;
    stderr.emit('data', Buffer.from('late'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    stderr.readable = false;
    stderr.emit('end');
    const outcome = await running.outcome;
    expect(outcome).toMatchObject({ exitCode: 0, ending: 'closed', bytesReceived: 4 });
    expect(outcome.stderr.toString()).toBe('late');
    expect(stderr.listenerCount('data')).toBe(0);
  });
});
