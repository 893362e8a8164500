import type { CommandChannel } from './command-channel.js';
import type { StdinSource } from '../command/channel-contract.js';

/** What the pump reports to the channel it feeds. */
export interface StdinPumpHooks {
  /** True once the command is over for the channel: nothing more is read or written. */
  over(): boolean;
  /** Bytes handed to the channel. */
  sent(bytes: number): void;
  /** The source threw, or gave something that is not bytes or text. */
  failed(error: unknown): void;
}

/**
 * Copies a stream into a command's standard input, then sends EOF. The next chunk is read only
 * once the channel has taken the last one (ssh2 holds a write until the server's window has room),
 * so a fast source waits for a slow command instead of filling memory. A command that ends
 * first stops the reading, and the source is closed (its iterator's `return`).
 */
export function pumpStdin(channel: CommandChannel, source: StdinSource, hooks: StdinPumpHooks): void {
  void pump(channel, source, hooks);
}

async function pump(channel: CommandChannel, source: StdinSource, hooks: StdinPumpHooks): Promise<void> {
  try {
    for await (const chunk of source) {
      if (hooks.over()) return;
      const bytes = toBytes(chunk);
      if (bytes.length === 0) continue;
      hooks.sent(bytes.length);
      if (!channel.write(bytes)) await drained(channel);
      if (hooks.over()) return;
    }
    if (!hooks.over()) channel.end();
  } catch (error) {
    if (!hooks.over()) hooks.failed(error);
  }
}

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return chunk;
  throw new TypeError(`a stdin() stream gave ${chunk === null ? 'null' : typeof chunk}, not bytes or text`);
}

/** Settles when the channel takes more, or will never take any (closed). */
function drained(channel: CommandChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.off('drain', done);
      channel.off('close', done);
      channel.off('finish', done);
      resolve();
    };
    channel.on('drain', done);
    channel.on('close', done);
    channel.on('finish', done);
  });
}
