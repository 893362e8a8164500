import type { CommandChannel } from './command-channel.js';

/**
 * The receive window sshpool keeps open on a command's channel. ssh2 grants 2 MiB and tops it
 * up only once half of that is used, so 1–2 MiB is in flight: at a 50 ms round trip one
 * command's output arrived at ~16 MiB/s, below OpenSSH (~26), which tops up after every few
 * packets. Output is taken from the channel as it arrives (maxBuffer bounds what is kept), so a
 * wider window costs no memory a command would not use anyway. Measured with 50 MiB outputs
 * from OpenSSH 9.2: 4 MiB gives ~47 MiB/s at 50 ms; 8 MiB gave ~60 but on loopback made one
 * command in a few stall for seconds, which 4 MiB never did (27 commands).
 */
export const RECEIVE_WINDOW_BYTES = 4 * 1024 * 1024;
/** Consumed bytes that trigger a top-up: a few packets, as OpenSSH does, without a packet per chunk. */
export const WINDOW_TOP_UP_BYTES = 256 * 1024;

/**
 * A channel that is not a stream (ssh2's SFTP object, which parses its data as it arrives):
 * `unread` then says what it holds unread, and the keeper runs after each of its packets.
 */
export type WindowedChannel = object;

interface ChannelInternals {
  incoming?: { window?: unknown };
  outgoing?: { id?: unknown; state?: unknown };
  _client?: { _protocol?: { channelWindowAdjust?: (id: number, amount: number) => void } };
}

/**
 * Returns a function to call after each chunk of output is taken: it tops the channel's window
 * back up to `RECEIVE_WINDOW_BYTES` once `WINDOW_TOP_UP_BYTES` of it have been used. Short
 * outputs never send anything. ssh2 has no public API for this, so its internals are used,
 * guarded for shape: with another shape the function does nothing and ssh2's own policy stays.
 * ssh2 and this function add to the same window counter, so each grant is counted once.
 * `widen` false (memory is short) leaves the window to ssh2's own 2 MiB policy, and so does
 * output still waiting in ssh2's buffers (a stream whose consumer is slow).
 */
export function windowKeeper(
  channel: CommandChannel | WindowedChannel,
  widen: () => boolean = () => true,
  unread: () => number = () => (channel as CommandChannel).readableLength + (channel as CommandChannel).stderr.readableLength,
): () => void {
  const internals = channel as unknown as ChannelInternals;
  const { incoming, outgoing } = internals;
  const protocol = internals._client?._protocol;
  const adjust = protocol?.channelWindowAdjust;
  if (typeof incoming?.window !== 'number' || typeof outgoing?.id !== 'number' || typeof adjust !== 'function') return () => {};
  const id = outgoing.id;
  // The window right after the last grant (ssh2's initial one to begin with): a top-up is due
  // once the server has used WINDOW_TOP_UP_BYTES of it.
  let granted = incoming.window;
  return () => {
    const window = incoming.window as number;
    if (granted - window < WINDOW_TOP_UP_BYTES || outgoing.state === 'closed' || !widen()) return;
    // Output the consumer has not taken yet (a paused stream) must not earn the server more
    // window, or it would pile up here without bound; ssh2 grants more once it is read.
    if (unread() >= WINDOW_TOP_UP_BYTES) return;
    const missing = RECEIVE_WINDOW_BYTES - window;
    granted = RECEIVE_WINDOW_BYTES;
    if (missing <= 0) return;
    incoming.window = window + missing;
    try {
      adjust.call(protocol, id, missing);
    } catch {
      // The connection is going away; its close ends the command.
    }
  };
}
