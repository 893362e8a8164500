import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { SpanContext } from '@opentelemetry/api';
import { Client } from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import {
  AuthenticationError,
  ConnectError,
  ConnectTimeoutError,
  HostKeyError,
} from './errors.js';
import type { EndpointInfo } from './errors.js';
import { describeRejection, preferredHostKeyAlgorithms, verifyHostKey } from './host-key-verifier.js';
import type { HostKeyVerdict, ResolvedHostKeyVerification } from './host-key-verifier.js';
import type { CloseReason } from './types.js';

/** Credentials of one pool key. Held only here and in the ssh2 config; never logged. */
export interface Credentials {
  readonly privateKey?: string | Buffer;
  readonly passphrase?: string;
  readonly password?: string;
  readonly agent?: string;
}

/** Everything needed to open one connection of a pool key. */
export interface ConnectionSettings extends EndpointInfo {
  readonly username: string;
  readonly credentials: Credentials;
  readonly hostKey: ResolvedHostKeyVerification;
  readonly connectionTimeout: number;
  readonly keepAliveInterval: number;
  readonly keepAliveCountMax: number;
  readonly maxChannels: number;
}

export type ConnectionState = 'ready' | 'closing' | 'closed';

/** Raised by `openChannel` when the server refuses a session (OpenSSH `MaxSessions`). */
export class ChannelOpenRefusal extends Error {
  override readonly name = 'ChannelOpenRefusal';
}

/**
 * Raised by `openChannel` when its cancel signal fired before the server answered. The slot
 * stays taken until `settled`: a late-opened channel is closed then, and only then is it free.
 */
export class ChannelOpenCancelled extends Error {
  override readonly name = 'ChannelOpenCancelled';
  constructor(readonly settled: Promise<void>) {
    super('channel open cancelled');
  }
}

/** Raised by `openChannel` when the connection is no longer usable. */
export class ConnectionUnusable extends Error {
  override readonly name = 'ConnectionUnusable';
}

type CloseListener = (reason: CloseReason, error: Error | undefined) => void;

let nextConnectionId = 1;

/**
 * One authenticated ssh2 client. Tracks how many channels it carries and how many it may
 * carry; knows why it closed. Invariant: `openChannels <= channelLimit` is kept by the host
 * pool, which reserves a slot before opening a channel and releases it after the close.
 */
export class SSHConnection {
  readonly id = nextConnectionId++;
  readonly settings: ConnectionSettings;
  /** performance.now() when the connection became ready. */
  readonly createdAt: number;
  /** How long TCP + handshake + auth took, ms. */
  readonly connectDurationMs: number;
  readonly peerAddress: string | undefined;
  /** The `ssh.connect` span that opened this connection; commands using it link to it. */
  connectSpan: SpanContext | undefined;

  #client: Client;
  #sock: Socket;
  #state: ConnectionState = 'ready';
  #channelLimit: number;
  #openChannels = 0;
  #openingChannels = 0;
  #idleSince: number | undefined;
  #requestedReason: CloseReason | undefined;
  #lastError: Error | undefined;
  #closeListeners = new Set<CloseListener>();
  #forceCloseTimer: NodeJS.Timeout | undefined;

  private constructor(client: Client, sock: Socket, settings: ConnectionSettings, connectDurationMs: number, peerAddress: string | undefined) {
    this.#client = client;
    this.#sock = sock;
    this.settings = settings;
    this.#channelLimit = settings.maxChannels;
    this.createdAt = performance.now();
    this.connectDurationMs = connectDurationMs;
    this.peerAddress = peerAddress;
    this.#idleSince = this.createdAt;
    client.on('error', (error: Error) => {
      this.#lastError = error;
    });
    client.once('close', () => this.#onClientClose());
  }

  /**
   * Opens, verifies and authenticates a connection within `connectionTimeout`. Rejects with
   * a classified `ConnectError` subclass; never leaves a socket behind on failure.
   */
  static open(settings: ConnectionSettings): Promise<SSHConnection> {
    return new Promise((resolve, reject) => {
      const startedAt = performance.now();
      const client = new Client();
      let verdict: HostKeyVerdict | undefined;
      let settled = false;

      const sock = netConnect({ host: settings.host, port: settings.port });
      // Without TCP_NODELAY every small SSH packet waits for the peer's delayed ACK (~40 ms).
      sock.setNoDelay(true);

      const fail = (error: ConnectError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.removeAllListeners('ready');
        client.on('error', () => {});
        sock.on('error', () => {});
        client.destroy();
        sock.destroy();
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(new ConnectTimeoutError(
          `Connecting to ${settings.poolName} timed out after ${settings.connectionTimeout} ms`,
          settings,
          settings.connectionTimeout,
        ));
      }, settings.connectionTimeout);
      timer.unref();

      client.once('ready', () => {
        if (settled) {
          client.end();
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(new SSHConnection(client, sock, settings, performance.now() - startedAt, sock.remoteAddress));
      });
      client.on('error', (error: Error & { level?: string }) => {
        if (!settled) fail(classifyConnectError(error, settings, verdict));
      });
      client.once('close', () => {
        if (!settled) {
          fail(new ConnectError(`Connection to ${settings.poolName} closed during the SSH handshake`, settings, true));
        }
      });

      const { credentials } = settings;
      const config: ConnectConfig = {
        sock,
        username: settings.username,
        readyTimeout: 0,
        keepaliveInterval: settings.keepAliveInterval,
        keepaliveCountMax: settings.keepAliveCountMax,
        algorithms: { serverHostKey: preferredHostKeyAlgorithms(settings.hostKey, settings.host, settings.port) },
        hostVerifier: (key: Buffer) => {
          verdict = verifyHostKey(settings.hostKey, settings.host, settings.port, key);
          return verdict.accepted;
        },
      };
      if (credentials.privateKey !== undefined) config.privateKey = credentials.privateKey;
      if (credentials.passphrase !== undefined) config.passphrase = credentials.passphrase;
      if (credentials.password !== undefined) config.password = credentials.password;
      if (credentials.agent !== undefined) config.agent = credentials.agent;
      try {
        client.connect(config);
      } catch (error) {
        // ssh2 throws synchronously for unusable keys; its messages name the problem, not the key.
        fail(new ConnectError(
          `Cannot connect to ${settings.poolName}: ${(error as Error).message}`,
          settings,
          false,
          { cause: error },
        ));
      }
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }
  get channelLimit(): number {
    return this.#channelLimit;
  }
  get openChannels(): number {
    return this.#openChannels;
  }
  /** Channel opens sent to the server and not yet answered. */
  get openingChannels(): number {
    return this.#openingChannels;
  }
  get freeSlots(): number {
    return this.#state === 'ready' ? Math.max(0, this.#channelLimit - this.#openChannels) : 0;
  }
  /** performance.now() since which no channel has been open; undefined while in use. */
  get idleSince(): number | undefined {
    return this.#idleSince;
  }

  /** Takes one channel slot. The caller checked `freeSlots > 0`. */
  reserveSlot(): void {
    this.#openChannels++;
    this.#idleSince = undefined;
  }

  /** Gives one slot back; with none left open the connection is idle from now. */
  releaseSlot(): void {
    this.#openChannels = Math.max(0, this.#openChannels - 1);
    if (this.#openChannels === 0) this.#idleSince = performance.now();
  }

  /**
   * Takes a slot for a health probe. Unlike `reserveSlot` it leaves `idleSince` alone: a
   * probe is not use, and must not keep an idle connection from expiring.
   */
  reserveProbeSlot(): void {
    this.#openChannels++;
  }

  releaseProbeSlot(): void {
    this.#openChannels = Math.max(0, this.#openChannels - 1);
  }

  /** The server refused a channel: never offer more than it has accepted at once. */
  lowerChannelLimit(acceptedConcurrently: number): void {
    this.#channelLimit = Math.max(1, Math.min(this.#channelLimit, acceptedConcurrently));
  }

  /**
   * Opens a session channel and starts `command` on it. `attach` runs synchronously inside
   * ssh2's callback: exit-status and close may be parsed in the same tick, and an `exit`
   * event emitted before anyone listens is lost for good.
   */
  openChannel<T>(command: string, attach: (channel: ClientChannel) => T, cancel?: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.#state !== 'ready') {
        reject(new ConnectionUnusable(`connection is ${this.#state}`));
        return;
      }
      let markSettled: (() => void) | undefined;
      let counted = false;
      const onCancel = (): void => {
        reject(new ChannelOpenCancelled(new Promise<void>((done) => (markSettled = done))));
      };
      try {
        if (cancel?.aborted) {
          reject(new ChannelOpenCancelled(Promise.resolve()));
          return;
        }
        cancel?.addEventListener('abort', onCancel, { once: true });
        this.#openingChannels++;
        counted = true;
        this.#client.exec(command, (error, channel) => {
          counted = false;
          this.#openingChannels--;
          cancel?.removeEventListener('abort', onCancel);
          if (markSettled) {
            // Given up while opening. A channel that opened late is handed to `attach` anyway:
            // its cancel signal has fired, so it kills the command and closes the channel, and
            // the slot is free once the server has closed it.
            if (error) markSettled();
            else void Promise.resolve((attach(channel) as { freed?: Promise<void> } | undefined)?.freed).then(markSettled);
            return;
          }
          if (!error) {
            resolve(attach(channel));
            return;
          }
          if (this.#state !== 'ready') reject(new ConnectionUnusable(error.message));
          else if ((error as Error & { reason?: unknown }).reason !== undefined) reject(new ChannelOpenRefusal(error.message));
          else reject(error);
        });
      } catch (error) {
        if (counted) this.#openingChannels--;
        cancel?.removeEventListener('abort', onCancel);
        reject(new ConnectionUnusable((error as Error).message));
      }
    });
  }

  onClose(listener: CloseListener): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Ends the connection politely (SSH disconnect, then FIN). A peer that does not answer
   * within a grace period is cut off so that close never hangs.
   */
  close(reason: CloseReason): void {
    if (this.#state !== 'ready') return;
    this.#state = 'closing';
    this.#requestedReason = reason;
    this.#client.end();
    // ssh2's destroy() does nothing once end() has run: cut the socket itself.
    this.#forceCloseTimer = setTimeout(() => this.#sock.destroy(), 2_000);
    this.#forceCloseTimer.unref();
  }

  /** Cuts the connection at once. */
  destroy(reason: CloseReason): void {
    if (this.#state === 'closed') return;
    this.#requestedReason ??= reason;
    this.#state = 'closing';
    this.#sock.destroy();
  }

  #onClientClose(): void {
    clearTimeout(this.#forceCloseTimer);
    this.#state = 'closed';
    const reason = this.#requestedReason ?? (this.#lastError ? 'error' : 'remote');
    for (const listener of [...this.#closeListeners]) listener(reason, this.#lastError);
    this.#closeListeners.clear();
  }
}

function classifyConnectError(error: Error & { level?: string; code?: string }, endpoint: ConnectionSettings, verdict: HostKeyVerdict | undefined): ConnectError {
  if (verdict && !verdict.accepted) {
    return new HostKeyError(describeRejection(endpoint.host, endpoint.port, verdict, endpoint.hostKey), endpoint, {
      fingerprint: verdict.fingerprint,
      keyType: verdict.keyType,
      reason: verdict.reason ?? 'unknown',
    });
  }
  if (error.level === 'client-authentication') {
    const methods = describeAuthMethods(endpoint.credentials);
    return new AuthenticationError(
      `Authentication failed for ${endpoint.poolName}: the server accepted none of the offered methods (${methods})`,
      endpoint,
      { cause: error },
    );
  }
  if (error.level === 'client-timeout') {
    return new ConnectTimeoutError(`Connecting to ${endpoint.poolName} timed out: ${error.message}`, endpoint, endpoint.connectionTimeout, { cause: error });
  }
  // DNS names that do not exist will not start existing on the next attempt.
  const permanent = error.code === 'ENOTFOUND' || error.level === 'client-dns';
  return new ConnectError(`Cannot connect to ${endpoint.poolName}: ${error.message}`, endpoint, !permanent, { cause: error });
}

function describeAuthMethods(credentials: Credentials): string {
  const methods: string[] = [];
  if (credentials.privateKey !== undefined) methods.push('publickey');
  if (credentials.agent !== undefined) methods.push('agent');
  if (credentials.password !== undefined) methods.push('password');
  return methods.join(', ') || 'none';
}
