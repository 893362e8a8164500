import type { ClientChannel } from 'ssh2';
import { OutputBuffer } from './output-buffer.js';
import type { SSHConnection } from './ssh-connection.js';

/** How a channel's life ended, as far as the command is concerned. */
export type ChannelEnding = 'closed' | 'timeout' | 'aborted' | 'output-limit' | 'connection-lost';

/** Why the caller gave up on a command early. Carried as the reason of the cancel signal. */
export type CancelReason = 'timeout' | 'aborted';

export interface ChannelOutcome {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly ending: ChannelEnding;
}

export interface ChannelRequest {
  readonly stdin: string | Buffer | undefined;
  /** Bytes allowed per stream before the channel is closed. */
  readonly maxBuffer: number;
  /** Fires (with a `CancelReason`) when the command must stop early. */
  readonly cancel: AbortSignal;
}

export interface RunningChannel {
  /** Settles as soon as the command's fate is known. Never rejects. */
  readonly outcome: Promise<ChannelOutcome>;
  /**
   * Settles when the server has freed the channel (or the connection is gone): only then may
   * its slot be reused, or a busy server refuses the next channel.
   */
  readonly freed: Promise<void>;
}

/** Feeds stdin, gathers output, and reports one command's exit. */
export function runChannel(connection: SSHConnection, channel: ClientChannel, request: ChannelRequest): RunningChannel {
  const stdout = new OutputBuffer(request.maxBuffer);
  const stderr = new OutputBuffer(request.maxBuffer);
  let exitCode: number | null = null;
  let signal: string | null = null;
  let settle!: (outcome: ChannelOutcome) => void;
  let markFreed!: () => void;
  let settled = false;

  const outcome = new Promise<ChannelOutcome>((resolve) => (settle = resolve));
  const freed = new Promise<void>((resolve) => (markFreed = resolve));

  const finish = (ending: ChannelEnding): void => {
    if (settled) return;
    settled = true;
    request.cancel.removeEventListener('abort', onCancel);
    settle({ stdout: stdout.bytes(), stderr: stderr.bytes(), exitCode, signal, ending });
  };

  const stopEarly = (ending: ChannelEnding): void => {
    finish(ending);
    sendKill(channel);
    channel.close();
  };

  const onCancel = (): void => stopEarly(request.cancel.reason === 'aborted' ? 'aborted' : 'timeout');

  channel.on('data', (chunk: Buffer) => {
    if (settled) return;
    if (!stdout.append(chunk)) stopEarly('output-limit');
  });
  channel.stderr.on('data', (chunk: Buffer) => {
    if (settled) return;
    if (!stderr.append(chunk)) stopEarly('output-limit');
  });
  channel.on('exit', (code: number | null, signalName?: string) => {
    exitCode = typeof code === 'number' ? code : null;
    signal = typeof signalName === 'string' ? signalName : null;
  });
  // Writes racing a closing channel surface here; the close event tells the real story.
  channel.on('error', () => {});
  channel.stderr.on('error', () => {});
  const stopWatchingConnection = connection.onClose(() => {
    finish('connection-lost');
    markFreed();
  });
  channel.once('close', () => {
    stopWatchingConnection();
    finish(connection.state === 'ready' ? 'closed' : 'connection-lost');
    markFreed();
  });

  if (request.cancel.aborted) onCancel();
  else request.cancel.addEventListener('abort', onCancel, { once: true });

  // EOF right after stdin: a command that reads its input (cat, sh -s) must not wait forever.
  if (!settled) {
    if (request.stdin === undefined) channel.end();
    else channel.end(request.stdin);
  }
  return { outcome, freed };
}

interface ChannelInternals {
  outgoing?: { id?: number; state?: string };
  _client?: { _protocol?: { signal?: (id: number, name: string) => void } };
}

/**
 * Asks the server to SIGKILL the command's process group. OpenSSH (>= 7.9) honours it;
 * without it sshd keeps the session, and its MaxSessions slot, until the command ends on its
 * own, because it only closes a session channel once the child has exited.
 * ssh2's public `signal()` refuses once stdin has been closed (which every command does at
 * start), so the request goes through the protocol object, guarded for shape.
 */
function sendKill(channel: ClientChannel): void {
  const internals = channel as unknown as ChannelInternals;
  const id = internals.outgoing?.id;
  const signal = internals._client?._protocol?.signal;
  if (typeof id !== 'number' || typeof signal !== 'function' || internals.outgoing?.state === 'closed') return;
  try {
    signal.call(internals._client!._protocol, id, 'KILL');
  } catch {
    // The connection may be going away; the close that follows is what matters.
  }
}
