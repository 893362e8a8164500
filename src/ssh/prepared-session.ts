import { createRequire } from 'node:module';
import type { Client } from 'ssh2';
import type { CommandChannel } from './command-channel.js';
import { DIRECT_OPEN, DIRECT_SESSION_PACKET_SIZE, DIRECT_SESSION_WINDOW, directSessionsInstalled } from './direct-session.js';

/**
 * The ssh2 releases whose internals this adapter was read against and is tested with
 * (test/unit/ssh/prepared-session.test.ts). Any other release gets no prepared sessions:
 * every command then opens its channel the public way, as before.
 */
export const PREPARED_SESSION_SSH2_VERSIONS: readonly string[] = Object.freeze(['1.17.0']);

/** What ssh2 1.17 `Client` keeps privately that opening a bare session needs (lib/client.js `openChannel`). */
interface ClientInternals {
  _chanMgr?: { add?: (wrapper: unknown) => number };
  _protocol?: { session?: (localId: number, window: number, packetSize: number) => void };
  _sock?: { writable?: boolean; _readableState?: { ended?: boolean } };
}

/** What a ssh2 1.17 `Channel` keeps privately that a request on it needs (lib/client.js `reqExec`). */
interface ChannelInternals {
  _callbacks?: Array<(failed: boolean | Error) => void>;
  outgoing?: { id?: number; state?: string };
  _client?: { _protocol?: RequestProtocol; config?: { allowAgentFwd?: boolean }; _agentFwdEnabled?: boolean };
  subtype?: string;
  allowHalfOpen?: boolean;
}

/** The protocol calls a request on a prepared session may make (ssh2 `Protocol`). */
export interface RequestProtocol {
  exec?: (channelId: number, command: string, wantReply: boolean) => void;
  pty?: (channelId: number, rows: number, cols: number, height: number, width: number, term: string, modes: unknown, wantReply: boolean) => void;
  openssh_agentForward?: (channelId: number, wantReply: boolean) => void;
}

/** A pending open as ssh2's channel table holds it. */
interface PendingOpen {
  (error: Error | undefined, channel?: CommandChannel): void;
  type?: string;
  [DIRECT_OPEN]?: true;
}

let installedVersion: string | null | undefined;

/** The installed ssh2's version, read once; null when it cannot be read. */
export function installedSsh2Version(): string | null {
  if (installedVersion === undefined) {
    try {
      const manifest = createRequire(import.meta.url)('ssh2/package.json') as { version?: unknown };
      installedVersion = typeof manifest.version === 'string' ? manifest.version : null;
    } catch {
      installedVersion = null;
    }
  }
  return installedVersion;
}

/**
 * Whether this client can open prepared sessions: a pinned ssh2 release whose internals have
 * the shape this adapter uses. False means: use `client.exec` as usual.
 */
export function preparedSessionsFit(client: Client, version: string | null = installedSsh2Version()): boolean {
  if (version === null || !PREPARED_SESSION_SSH2_VERSIONS.includes(version)) return false;
  const internals = client as unknown as ClientInternals;
  return typeof internals._chanMgr?.add === 'function' && typeof internals._protocol?.session === 'function';
}

/**
 * Opens a session channel and sends no request on it (ssh2 has no public call for this): the
 * command, and any request that must precede it (a `pty-req`), are sent later with `request`.
 * This is ssh2 1.17's `openChannel(self, 'session', cb)` step for step. `done` runs once: with
 * the open channel, or with ssh2's open error (a refusal carries `reason`). Throws when the
 * client cannot write any more, as `client.exec` does.
 */
export function openPreparedSession(client: Client, done: (error: Error | undefined, channel?: CommandChannel) => void): void {
  const internals = client as unknown as Required<ClientInternals>;
  // ssh2's own opens refuse a socket that is gone (its `isWritable`): a channel added after the
  // connection's cleanup would never be answered, and its command would wait forever.
  const sock = internals._sock;
  if (!sock?.writable || sock._readableState?.ended !== false) throw new Error('Not connected');
  // ssh2 tells a pending open from an open channel by the wrapper being a function with a
  // `type`; the mark makes its channel a DirectSession where this client allows it.
  const wrapper: PendingOpen = (error, channel) => done(error, channel);
  wrapper.type = 'session';
  if (directSessionsInstalled(client)) wrapper[DIRECT_OPEN] = true;
  const localId = internals._chanMgr.add!(wrapper);
  if (localId === -1) {
    done(new Error('No free channels available'));
    return;
  }
  // ssh2's own window and packet size for the sessions it opens: a prepared one behaves the same.
  internals._protocol.session!(localId, DIRECT_SESSION_WINDOW, DIRECT_SESSION_PACKET_SIZE);
}

/**
 * Sends one channel request that wants a reply, on a prepared session, and calls `done` with
 * the server's answer: undefined when it agreed, an error when it refused or the channel closed
 * first (ssh2 fails pending requests on close). `send` writes the request (`protocol.exec`,
 * `protocol.pty`, ...) for the channel's remote id. Requests are answered in order, as ssh2's
 * own `reqPty` then `reqExec` rely on.
 */
export function requestOnPreparedSession(
  channel: CommandChannel,
  send: (protocol: RequestProtocol, channelId: number) => void,
  done: (error: Error | undefined) => void,
): void {
  const internals = channel as unknown as ChannelInternals;
  const id = internals.outgoing?.id;
  const protocol = internals._client?._protocol;
  if (internals.outgoing?.state !== 'open' || typeof id !== 'number' || !Array.isArray(internals._callbacks) || !protocol) {
    done(new Error('Channel is not open'));
    return;
  }
  const answered = (failed: boolean | Error): void => {
    if (failed) done(failed instanceof Error ? failed : new Error('The server refused the channel request'));
    else done(undefined);
  };
  internals._callbacks.push(answered);
  try {
    send(protocol, id);
  } catch (error) {
    // Nothing was sent: no answer will come for this request.
    const at = internals._callbacks.indexOf(answered);
    if (at !== -1) internals._callbacks.splice(at, 1);
    done(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * Starts `command` on a prepared session: what `client.exec` does after its open, including
 * how it marks the channel (`subtype`, half-open allowed) so that the rest of ssh2 treats it
 * exactly like a channel `client.exec` returned.
 */
export function execOnPreparedSession(channel: CommandChannel, command: string, done: (error: Error | undefined) => void): void {
  // Agent forwarding (`agentForward`), asked on the connection's first session as ssh2's exec
  // does (lib/client.js `reqAgentFwd`): sshd keeps one agent socket for the whole connection,
  // so later sessions have it without asking.
  const client = (channel as unknown as ChannelInternals)._client;
  if (client?.config?.allowAgentFwd === true && client._agentFwdEnabled !== true) {
    client._agentFwdEnabled = true;
    requestOnPreparedSession(channel, (protocol, id) => {
      if (typeof protocol.openssh_agentForward !== 'function') throw new Error('ssh2 protocol cannot request agent forwarding');
      protocol.openssh_agentForward(id, true);
    }, (error) => {
      if (!error) {
        sendExec(channel, command, done);
        return;
      }
      client._agentFwdEnabled = false;
      done(new Error('Unable to request agent forwarding', { cause: error }));
    });
    return;
  }
  sendExec(channel, command, done);
}

function sendExec(channel: CommandChannel, command: string, done: (error: Error | undefined) => void): void {
  requestOnPreparedSession(channel, (protocol, id) => {
    if (typeof protocol.exec !== 'function') throw new Error('ssh2 protocol cannot send exec');
    protocol.exec(id, command, true);
  }, (error) => {
    if (!error) {
      const internals = channel as unknown as ChannelInternals;
      internals.subtype = 'exec';
      internals.allowHalfOpen = true;
    }
    done(error);
  });
}
