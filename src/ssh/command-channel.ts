/**
 * One output stream of a command's channel (stdout, or its stderr), as run-channel reads it:
 * flowing once a `data` listener is attached, held back while paused.
 */
export interface ChannelOutput {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  /** Bytes received and not yet handed to a listener (a paused stream). */
  readonly readableLength: number;
  /** True until `end` was emitted: all of its output was handed to a listener. */
  readonly readable: boolean;
  once(event: 'end', listener: () => void): unknown;
}

/**
 * What sshpool does with a session channel that carries a command: ssh2's own `ClientChannel`
 * (a Duplex stream) has this shape, and so has a `DirectSession` (direct-session.ts), which
 * carries a command without streams. Listeners are called as ssh2 calls a channel's: `exit`
 * with the status (or null and the signal), `close` once after the server closed the channel
 * and stdout ended (stderr may end later: ssh2 does not wait for it).
 */
export interface CommandChannel extends ChannelOutput {
  readonly stderr: ChannelOutput;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'exit', listener: (code: number | null, signal?: string) => void): unknown;
  on(event: 'drain' | 'finish' | 'close', listener: () => void): unknown;
  once(event: 'close' | 'end', listener: () => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'exit', listener: (code: number | null, signal?: string) => void): unknown;
  off(event: 'drain' | 'finish' | 'close', listener: () => void): unknown;
  /** Standard input; false when the caller should wait for `drain` before writing more. */
  write(data: string | Uint8Array): boolean;
  /** Sends EOF once what was written has gone. */
  end(): unknown;
  end(data: string | Uint8Array): unknown;
  /** Closes our side of the channel. */
  close(): unknown;
}
