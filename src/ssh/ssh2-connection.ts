import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Client } from 'ssh2';
import type { AuthHandlerMiddleware, ClientChannel, ConnectConfig } from 'ssh2';
import type { CommandChannel } from './command-channel.js';
import type { CancelSignal } from '../core/cancel-source.js';
import {
  AuthenticationError,
  ConnectError,
  ConnectTimeoutError,
  HostKeyError,
} from '../core/errors.js';
import type { EndpointInfo } from '../core/errors.js';
import { describeRejection, preferredHostKeyAlgorithms, verifyHostKey } from './host-keys/host-key-verifier.js';
import type { HostKeyVerdict, ResolvedHostKeyVerification } from './host-keys/host-key-verifier.js';
import { recordConnectPhases } from './connect-phases.js';
import type { ConnectPhase, ConnectPhaseMark } from './connect-phases.js';
import { ChannelOpenCancelled, ChannelOpenRefusal, ConnectionUnusable } from './connection.js';
import type { CloseListener, ConnectAttemptHooks, OpenChannelOptions, PoolConnection, RemoteListener, RunningChannel } from './connection.js';
import type { ChannelSpec } from '../command/channel-contract.js';
import { inPosixShell } from '../command/posix-shell.js';
import { runChannel } from './run-channel.js';
import { SftpSession, SftpSubsystemUnavailable } from './sftp-session.js';
import { execOnPreparedSession, openPreparedSession, preparedSessionsFit } from './prepared-session.js';
import { packetReuseFits, reuseOutboundPackets } from './outbound-packet-reuse.js';
import { releaseHandshakeLeftovers } from './handshake-leftovers.js';
import { SpareSession } from './spare-session.js';
import type { SpareOutcome, SpareState } from './spare-session.js';
import { guardPreBanner } from './pre-banner-guard.js';
import type { OutputBudget } from './output-budget.js';
import type { CloseReason } from './connection.js';
import { planAuthentication } from './auth/auth-methods.js';
import { afterLoginTurn } from './auth/login-turn.js';
import type { AuthCredentials, AuthMethod } from './auth/auth-methods.js';

/** Credentials of one pool key. Held only here and in the ssh2 config; never logged. */
export interface Credentials extends AuthCredentials {
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
  /** The pool-wide bound on output held by running commands (`maxOutputMemory`); none: unbounded. */
  readonly outputBudget?: OutputBudget | undefined;
}

let nextConnectionId = 1;

/** Tries of the process-group kill channel (50, 100, 200 ms apart): within the pool's 750 ms grace. */
const KILL_ATTEMPTS = 4;

/** How long a polite close may take before the socket is cut. */
const CLOSE_GRACE_MS = 2_000;

/** Where a connection's TCP socket went (nothing for one through a jump host's channel). */
interface Peer {
  readonly address: string | undefined;
  readonly port: number | undefined;
}

/**
 * One authenticated ssh2 client: runs commands on channels, keeps the peer checked with
 * keepalives, and knows why it closed. Its socket and timers never keep the process alive
 * (see `ProcessHold`); channel slots are counted by the pool, not here.
 */
export class SSHConnection implements PoolConnection {
  readonly id = nextConnectionId++;
  readonly settings: ConnectionSettings;
  readonly connectDurationMs: number;
  readonly peerAddress: string | undefined;
  readonly peerPort: number | undefined;
  /** How the login succeeded. */
  readonly authMethod: AuthMethod | undefined;

  #client: Client;
  #sock: Duplex;
  #state: 'ready' | 'closing' | 'closed' = 'ready';
  #requestedReason: CloseReason | undefined;
  #lastError: Error | undefined;
  // Usually one (its host pool's): an exact-size array, replaced on change, not a set.
  #closeListeners: readonly CloseListener[] = [];
  #forceCloseTimer: NodeJS.Timeout | undefined;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #unansweredKeepAlives = 0;
  /** Server-side listeners by `address:port` (UNIX sockets by `socketListenerKey`): where each forwarded channel goes. */
  // Made by the first remote binding: most connections never forward a port.
  #remoteListeners: Map<string, (channel: Duplex) => void> | undefined;
  #spare: SpareSession | undefined;

  private constructor(client: Client, sock: Duplex, settings: ConnectionSettings, connectDurationMs: number, peer: Peer, authMethod: AuthMethod | undefined) {
    this.authMethod = authMethod;
    this.#client = client;
    this.#sock = sock;
    this.settings = settings;
    this.connectDurationMs = connectDurationMs;
    this.peerAddress = peer.address;
    this.peerPort = peer.port;
    client.on('error', (error: Error) => {
      this.#lastError = error;
    });
    client.once('close', () => this.#onClientClose());
    if (packetReuseFits(client)) reuseOutboundPackets(client, sock);
    this.#startKeepAlive();
  }

  /**
   * Routes the channels the server opens for remote listeners, from the first binding on: ssh2
   * emits them only for a binding it was asked for, so before one there is nothing to route.
   */
  #listenersFor(): Map<string, (channel: Duplex) => void> {
    if (this.#remoteListeners) return this.#remoteListeners;
    const listeners = new Map<string, (channel: Duplex) => void>();
    this.#remoteListeners = listeners;
    // A channel for no listener of ours (one closed meanwhile) is refused.
    const deliver = (key: string, accept: () => Duplex, reject: () => void): void => {
      const onConnection = listeners.get(key);
      if (onConnection) onConnection(accept());
      else reject();
    };
    this.#client.on('tcp connection', (details, accept, reject) => deliver(`${details.destIP}:${details.destPort}`, accept, reject));
    this.#client.on('unix connection', (details, accept, reject) => deliver(socketListenerKey(details.socketPath), accept, reject));
    return listeners;
  }

  /**
   * Opens, verifies and authenticates a connection within `connectionTimeout`. Rejects with
   * a classified `ConnectError` subclass; never leaves a socket behind on failure. `tunnel`:
   * a stream already connected to the server (a jump host's `direct-tcpip` channel) to speak
   * SSH over instead of a new TCP connection; it is destroyed with the connection. `hooks`: the
   * pool's say in the attempt (told when the server answers; asked before credentials go out).
   */
  static open(settings: ConnectionSettings, tunnel?: Duplex, hooks?: ConnectAttemptHooks): Promise<SSHConnection> {
    return new Promise((resolve, reject) => {
      const startedAt = performance.now();
      const client = new Client();
      let verdict: HostKeyVerdict | undefined;
      let settled = false;
      const phases: ConnectPhaseMark[] = [];
      const mark = (phase: ConnectPhase): void => void phases.push({ phase, at: Date.now() });

      let sock: Duplex;
      let peer = (): Peer => ({ address: undefined, port: undefined });
      if (tunnel) {
        sock = tunnel;
        destroyOnEnd(tunnel);
      } else {
        const tcp = netConnect({ host: settings.host, port: settings.port });
        // Without TCP_NODELAY every small SSH packet waits for the peer's delayed ACK (~40 ms).
        tcp.setNoDelay(true);
        // A connect on behalf of a command is kept alive by that command's hold; a background
        // one (warm-up, reconnect) must not keep a finished script running.
        tcp.unref();
        tcp.once('connect', () => mark('tcp-connected'));
        sock = tcp;
        peer = () => ({ address: tcp.remoteAddress, port: tcp.remotePort });
      }

      // ssh2 keeps the host key check for the connection's life (it checks again at each
      // re-key): it reaches this open's state only through `watcher`, emptied once settled, so
      // that the state is not held as long as the connection.
      const watcher: HostKeyWatcher = {
        verified: (result) => {
          verdict = result;
          if (result.accepted) mark('host-key-verified');
        },
      };
      const fail = (error: ConnectError): void => {
        if (settled) return;
        settled = true;
        watcher.verified = undefined;
        auth.release();
        stopGuard();
        clearTimeout(timer);
        client.removeAllListeners('ready');
        client.on('error', () => {});
        sock.on('error', () => {});
        client.destroy();
        sock.destroy();
        recordConnectPhases(error, phases);
        reject(error);
      };
      const timedOut = (): void => {
        fail(new ConnectTimeoutError(
          `Connecting to ${settings.poolName} timed out after ${settings.connectionTimeout} ms`,
          settings,
          settings.connectionTimeout,
        ));
      };
      let timer = setTimeout(timedOut, settings.connectionTimeout);
      timer.unref();
      // The time an attempt waits for another's login is not its own: its clock stops meanwhile.
      const deadline = startedAt + settings.connectionTimeout;
      let remaining = 0;
      // Attached before ssh2's own reader, in the same tick, so both see every byte.
      const stopGuard = guardPreBanner(sock, (why) => {
        fail(new ConnectError(`Cannot connect to ${settings.poolName}: ${why}`, settings, false));
      });

      client.once('ready', () => {
        if (settled) {
          client.end();
          return;
        }
        settled = true;
        clearTimeout(timer);
        mark('authenticated');
        const connection = new SSHConnection(client, sock, settings, performance.now() - startedAt, peer(), auth.lastMethod());
        recordConnectPhases(connection, phases);
        // The connection has listeners of its own now: these would hold this open's state.
        watcher.verified = undefined;
        auth.release();
        releaseHandshakeLeftovers(client);
        client.off('error', onConnectError);
        client.off('close', onConnectClose);
        resolve(connection);
      });
      const onConnectError = (error: Error & { level?: string }): void => {
        if (!settled) fail(classifyConnectError(error, settings, verdict, auth.describeAttempts(), auth.credentialsOffered()));
      };
      const onConnectClose = (): void => {
        if (settled) return;
        // Closed by the server after it refused a credential: over the credentials, not by chance.
        fail(auth.credentialsRefused()
          ? loginEnded(settings, auth.describeAttempts(), 'closed the connection after refusing one')
          : new ConnectError(`Connection to ${settings.poolName} closed during the SSH handshake`, settings, true));
      };
      client.on('error', onConnectError);
      client.once('handshake', () => {
        mark('key-exchanged');
        // A server that finished a key exchange, its host key accepted, is one a pool may open
        // more connections to beside this one.
        hooks?.reached();
      });
      client.once('close', onConnectClose);

      const { credentials } = settings;
      const config: ConnectConfig = {
        sock,
        username: settings.username,
        readyTimeout: 0,
        // ssh2's own keepalive timer is ref'd and would keep every idle connection's process
        // alive; this class keeps its own, unref'd (see #startKeepAlive).
        keepaliveInterval: 0,
        algorithms: { serverHostKey: preferredHostKeyAlgorithms(settings.hostKey, settings.host, settings.port) },
        hostVerifier: hostKeyCheck(settings, watcher),
      };
      const auth = planAuthentication(settings.username, credentials);
      Object.assign(config, auth.connectConfig);
      if (hooks) {
        config.authHandler = afterLoginTurn(auth.connectConfig.authHandler as AuthHandlerMiddleware, () => hooks.loginTurn(), {
          waiting: () => {
            remaining = deadline - performance.now();
            clearTimeout(timer);
          },
          waited: () => {
            mark('login-turn');
            timer = setTimeout(timedOut, Math.max(0, remaining));
            timer.unref();
          },
          denied: (why) => fail(why === 'closed'
            ? new ConnectError(`The pool for ${settings.poolName} closed while connecting`, settings, false)
            : new AuthenticationError(`Not logging in to ${settings.poolName}: a login there with the same credentials was refused just before`, settings)),
        });
      }
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

  get usable(): boolean {
    return this.#state === 'ready';
  }

  /** OpenSSH 9.2 refuses the SSH `signal` request for root logins ("requires privilege separation"). */
  get signalsHonoured(): boolean {
    return this.settings.username !== 'root';
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Opens a session channel and starts the command on it: on the spare session when there is
   * one (only `exec` is sent: one round trip), else on a new channel. A spare the server closed
   * first, or that would not take the command, falls back to a new channel: a spare never fails
   * a command. The channel is attached inside ssh2's callback: exit-status and close may be
   * parsed in the same tick, and an `exit` event emitted before anyone listens is lost for good.
   * A command with a terminal cannot use the spare (its pty request goes before its exec).
   */
  openChannel(spec: ChannelSpec, cancel: CancelSignal, options: OpenChannelOptions = {}): Promise<RunningChannel> {
    const open = (): Promise<RunningChannel> => this.#openChannelOnce(spec, cancel, options);
    return spec.interaction?.pty ? this.#openBesideSpare(open, cancel) : open();
  }

  #openChannelOnce(spec: ChannelSpec, cancel: CancelSignal, options: OpenChannelOptions): Promise<RunningChannel> {
    const reportsProcessGroup = options.trackProcessGroup ?? spec.cancellable ?? true;
    // Under /bin/sh whatever the login shell: the quoting, and the report's `$$`, are POSIX.
    const command = inPosixShell(spec.command, reportsProcessGroup);
    const attach = (channel: CommandChannel, prepared: boolean): RunningChannel => {
      const running = runChannel(this, channel, {
        stdin: spec.stdin,
        maxBuffer: spec.maxBuffer,
        stdoutSink: spec.stdoutSink,
        stderrSink: spec.stderrSink,
        onIo: options.onIo,
        cancel,
        reportsProcessGroup,
        outputBudget: this.settings.outputBudget,
        interaction: spec.interaction,
      });
      return prepared ? { ...running, prepared } : running;
    };
    // The terminal is requested on the same channel, before its exec.
    const pty = spec.interaction?.pty;
    const execOptions = pty ? { pty: { cols: pty.cols, rows: pty.rows, term: pty.term } } : {};
    return new Promise((resolve, reject) => {
      if (this.#state !== 'ready') {
        reject(new ConnectionUnusable(`connection is ${this.#state}`));
        return;
      }
      if (cancel.aborted) {
        reject(new ChannelOpenCancelled(Promise.resolve()));
        return;
      }
      let markSettled: (() => void) | undefined;
      let markKillSent: (() => void) | undefined;
      let late: RunningChannel | undefined;
      const onCancel = (): void => {
        const settled = new Promise<void>((done) => (markSettled = done));
        const killSent = new Promise<void>((done) => (markKillSent = done));
        reject(new ChannelOpenCancelled(settled, killSent, () => late?.killConfirmed?.() ?? false));
      };
      const started = (error: Error | undefined, channel: CommandChannel | undefined, prepared: boolean): void => {
        cancel.removeEventListener('abort', onCancel);
        if (markSettled) {
          // Given up while opening. A channel that opened late is attached anyway: its cancel
          // signal has fired, so it kills the command and closes the channel, and the slot is
          // free once the server has closed it.
          if (error || !channel) {
            markSettled();
            markKillSent?.();
            return;
          }
          late = attach(channel, prepared);
          void late.freed.then(markSettled);
          // No process-group report: the kill (closing the channel) went out with the cancel.
          void (late.killSent ?? Promise.resolve()).then(markKillSent);
          return;
        }
        if (!error && channel) resolve(attach(channel, prepared));
        else if (error instanceof ConnectionUnusable) reject(error);
        else if (this.#state !== 'ready') reject(new ConnectionUnusable(error?.message ?? 'connection closed'));
        else if ((error as Error & { reason?: unknown }).reason !== undefined) reject(new ChannelOpenRefusal(error!.message));
        else reject(error);
      };
      const cancelled = (): boolean => markSettled !== undefined;
      const startFresh = (): void => {
        try {
          // Opened and then asked, so that the pool learns when the server holds the session:
          // a refusal counts only the sessions confirmed by then (see PoolEntry.noteRefusal).
          if (!pty && preparedSessionsFit(this.#client)) {
            openPreparedSession(this.#client, (error, channel) => {
              if (error || !channel) {
                started(error ?? new Error('channel open failed'), undefined, false);
                return;
              }
              options.onOpened?.();
              this.#execOnPrepared(channel, command, false, started, cancelled, (refusal) => started(refusal, undefined, false));
            });
            return;
          }
          this.#client.exec(command, execOptions, (error, channel) => {
            if (!error) options.onOpened?.();
            started(error, channel, false);
          });
        } catch (error) {
          started(new ConnectionUnusable((error as Error).message), undefined, false);
        }
      };
      cancel.addEventListener('abort', onCancel, { once: true });
      const spare = pty ? undefined : this.#spare;
      if (spare) this.#spare = undefined;
      if (!spare?.claim((channel) => {
        if (!channel) {
          startFresh();
          return;
        }
        options.onOpened?.();
        // A spare that will not take the command: the command opens its own channel.
        this.#execOnPrepared(channel, command, true, started, cancelled, (refusal) => {
          if (cancelled() || this.#state !== 'ready') started(refusal, undefined, true);
          else startFresh();
        });
      })) startFresh();
    });
  }

  /**
   * Sends the command on a prepared session: the claimed spare (`prepared`) or a channel just
   * opened for it. Given up before it was asked, it is closed and the command settles once the
   * server closed it; a session that will not take the command is closed and `refused` decides.
   */
  #execOnPrepared(
    channel: CommandChannel,
    command: string,
    prepared: boolean,
    started: (error: Error | undefined, channel: CommandChannel | undefined, prepared: boolean) => void,
    cancelled: () => boolean,
    refused: (error: Error) => void,
  ): void {
    if (cancelled()) {
      // Nothing was asked of it yet: closing it frees the session (its close is seen only flowing).
      channel.resume();
      channel.once('close', () => started(new Error('channel open cancelled'), undefined, prepared));
      channel.close();
      return;
    }
    execOnPreparedSession(channel, command, (error) => {
      if (!error) {
        started(undefined, channel, prepared);
        return;
      }
      channel.resume();
      channel.close();
      refused(error);
    });
  }

  /** The spare session while it can be claimed: opening or ready; none without one. */
  get spare(): SpareState | undefined {
    return this.#spare?.state;
  }

  /** Closes the spare if it waited too long to be used (`SpareSession.closeIfStale`); returns the spare still held. */
  closeStaleSpare(): SpareState | undefined {
    if (this.#spare?.closeIfStale()) this.#spare = undefined;
    return this.#spare?.state;
  }

  /**
   * Opens a spare session channel for the next command (see `SpareSession`), unless one is
   * held already. The pool decides whether there is room for it.
   */
  prepareSpare(): Promise<SpareOutcome> {
    if (this.#state !== 'ready' || this.#spare !== undefined) return Promise.resolve('failed');
    if (!preparedSessionsFit(this.#client)) return Promise.resolve('unsupported');
    try {
      const spare: SpareSession = new SpareSession(this.#client, () => {
        if (this.#spare === spare) this.#spare = undefined;
      });
      this.#spare = spare;
      return spare.opened;
    } catch {
      // Not writable any more: the close is on its way.
      return Promise.resolve('failed');
    }
  }

  /**
   * Opens a `direct-tcpip` channel from the server to `host:port` (what `ssh -J` asks a jump
   * host for). Rejects with `ChannelOpenRefusal` carrying the server's reason when it will not
   * connect, `ConnectionUnusable` when this connection is going away.
   */
  openTunnel(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.#state !== 'ready') {
        reject(new ConnectionUnusable(`connection is ${this.#state}`));
        return;
      }
      try {
        // The originator address is informational for the server; OpenSSH logs it.
        this.#client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => this.#settleForward(error, channel, resolve, reject));
      } catch (error) {
        reject(new ConnectionUnusable((error as Error).message));
      }
    });
  }

  /** Opens a `direct-streamlocal@openssh.com` channel to the UNIX socket `path` on the server; rejects as `openTunnel` does. */
  openStreamLocal(path: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.#state !== 'ready') {
        reject(new ConnectionUnusable(`connection is ${this.#state}`));
        return;
      }
      try {
        this.#client.openssh_forwardOutStreamLocal(path, (error, channel) => this.#settleForward(error, channel, resolve, reject));
      } catch (error) {
        reject(new ConnectionUnusable((error as Error).message));
      }
    });
  }

  #settleForward(error: Error | undefined, channel: ClientChannel, resolve: (channel: Duplex) => void, reject: (error: Error) => void): void {
    if (!error) resolve(channel);
    else if (this.#state !== 'ready') reject(new ConnectionUnusable(error.message));
    else {
      const reason = (error as Error & { reason?: unknown }).reason;
      reject(new ChannelOpenRefusal(error.message, typeof reason === 'number' ? reason : undefined));
    }
  }

  listenRemote(host: string, port: number, onConnection: (channel: Duplex) => void): Promise<RemoteListener> {
    return this.#bindRemote(
      // The server names the port only when it picked it.
      (bound) => this.#client.forwardIn(host, port, (error, picked) => bound(error, port === 0 ? picked : port)),
      (actual) => `${host}:${actual}`,
      (actual) => this.#client.unforwardIn(host, actual, () => {}),
      onConnection,
    );
  }

  listenRemoteSocket(path: string, onConnection: (channel: Duplex) => void): Promise<RemoteListener> {
    return this.#bindRemote(
      (bound) => this.#client.openssh_forwardInStreamLocal(path, (error) => bound(error, 0)),
      () => socketListenerKey(path),
      () => this.#client.openssh_unforwardInStreamLocal(path, () => {}),
      onConnection,
    );
  }

  /**
   * The one path of a remote binding, TCP or UNIX socket: `request` asks the server to listen
   * and reports its answer with the bound port (0 for a socket); once it agrees, channels for
   * the listener's `keyOf(port)` go to `onConnection` until the listener is closed, which
   * `unbind`s it. Rejects with `ChannelOpenRefusal` when the server refuses,
   * `ConnectionUnusable` when the connection goes.
   */
  #bindRemote(
    request: (bound: (error: Error | null | undefined, port: number) => void) => void,
    keyOf: (port: number) => string,
    unbind: (port: number) => void,
    onConnection: (channel: Duplex) => void,
  ): Promise<RemoteListener> {
    return new Promise((resolve, reject) => {
      if (this.#state !== 'ready') {
        reject(new ConnectionUnusable(`connection is ${this.#state}`));
        return;
      }
      try {
        request((error, port) => {
          if (error) {
            reject(this.#state === 'ready' ? new ChannelOpenRefusal(error.message) : new ConnectionUnusable(error.message));
            return;
          }
          const key = keyOf(port);
          this.#listenersFor().set(key, onConnection);
          resolve({
            port,
            close: () => {
              if (!this.#remoteListeners?.delete(key) || this.#state !== 'ready') return;
              try {
                unbind(port);
              } catch {
                // The connection is going away; the server's listener goes with it.
              }
            },
          });
        });
      } catch (error) {
        reject(new ConnectionUnusable((error as Error).message));
      }
    });
  }

  /**
   * Opens an SFTP subsystem channel. A server without the subsystem answers the request with a
   * failure and leaves the session channel open: ssh2 does not close it, so it is closed here,
   * or it would hold one of the server's `MaxSessions` until the connection ends.
   */
  openSftp(): Promise<SftpSession> {
    return this.#openBesideSpare(() => this.#openSftpOnce());
  }

  /**
   * `open()` for a channel that cannot use the spare (SFTP, a pty command). On a server whose
   * sessions the spare fills, a refusal makes the spare give its session back, and `open()` is
   * tried once more. A cancel while the spare closes rejects at once, its slot settled once
   * the spare has gone.
   */
  async #openBesideSpare<T>(open: () => Promise<T>, cancel?: CancelSignal): Promise<T> {
    try {
      return await open();
    } catch (error) {
      if (!(error instanceof ChannelOpenRefusal) || this.#spare === undefined) throw error;
    }
    const released = this.#releaseSpare();
    if (cancel) {
      const beforeCancel = await new Promise<boolean>((resolve) => {
        const onCancel = (): void => resolve(false);
        cancel.addEventListener('abort', onCancel, { once: true });
        void released.then(() => {
          cancel.removeEventListener('abort', onCancel);
          resolve(true);
        });
      });
      if (!beforeCancel) throw new ChannelOpenCancelled(released);
    } else {
      await released;
    }
    return open();
  }

  /** Closes the spare, if one is held, and resolves once the server has let its session go. */
  #releaseSpare(): Promise<void> {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare ? spare.release() : Promise.resolve();
  }

  #openSftpOnce(): Promise<SftpSession> {
    return new Promise((resolve, reject) => {
      if (this.#state !== 'ready') {
        reject(new ConnectionUnusable(`connection is ${this.#state}`));
        return;
      }
      const channels = (this.#client as unknown as ChannelManagerInternals)._chanMgr?._channels;
      const before = channels ? new Set(Object.keys(channels)) : undefined;
      try {
        this.#client.sftp((error, sftp) => {
          if (!error) {
            resolve(new SftpSession(sftp));
            return;
          }
          if (this.#state !== 'ready') reject(new ConnectionUnusable(error.message));
          else if ((error as Error & { reason?: unknown }).reason !== undefined) reject(new ChannelOpenRefusal(error.message));
          else {
            if (/subsystem/i.test(error.message)) reject(new SftpSubsystemUnavailable(error.message));
            else reject(error);
            this.#closeChannelsOpenedSince(before);
          }
        });
      } catch (error) {
        reject(new ConnectionUnusable((error as Error).message));
      }
    });
  }

  /** Closes a session channel ssh2 opened and then abandoned (see `openSftp`). */
  #closeChannelsOpenedSince(before: Set<string> | undefined): void {
    const channels = (this.#client as unknown as ChannelManagerInternals)._chanMgr?._channels;
    if (!channels || !before) return;
    for (const [id, channel] of Object.entries(channels)) {
      if (before.has(id) || typeof channel !== 'object' || channel === null) continue;
      const abandoned = channel as { constructor?: { name?: string }; destroy?: () => void; _isReady?: boolean };
      if (abandoned.constructor?.name === 'SFTP' && typeof abandoned.destroy === 'function') abandoned.destroy();
    }
  }

  /**
   * Kills a remote process group from a short channel of its own; `done(true)` once the kill
   * ran on the server. A refused channel is left alone: the pool retires a connection whose
   * cancelled channel does not close in time.
   */
  killProcessGroup(pgid: number, done?: (killed: boolean) => void, relayed = false, attempt = 1): void {
    if (this.#state !== 'ready' || !Number.isSafeInteger(pgid) || pgid <= 1) {
      done?.(false);
      return;
    }
    // Under sudo, TERM goes first: sudo relays it to its root child (whose trap kills the
    // child's group as root), then KILL ends whatever of the group the login user owns.
    const script = relayed
      ? `kill -s TERM -- -${pgid} 2>/dev/null; sleep 0.2; kill -s KILL -- -${pgid} 2>/dev/null; exit 0`
      : `kill -s KILL -- -${pgid}`;
    try {
      this.#client.exec(inPosixShell(script), (error, channel) => {
        if (error) {
          // Refused under churn (the server frees session slots late): a few quick retries fit
          // well inside the pool's grace period.
          if (attempt < KILL_ATTEMPTS && this.#state === 'ready') {
            setTimeout(() => this.killProcessGroup(pgid, done, relayed, attempt + 1), 25 * 2 ** attempt).unref();
          } else {
            done?.(false);
          }
          return;
        }
        // The server accepted the kill: it kills the group, or finds it already ended ("No such
        // process"); either way the cancelled command's channel is about to close.
        done?.(true);
        channel.on('error', () => {});
        channel.resume();
        channel.stderr.resume();
        channel.end();
      });
    } catch {
      // The connection is going away; its close frees everything anyway.
      done?.(false);
    }
  }

  onClose(listener: CloseListener): () => void {
    const listeners = this.#closeListeners;
    // `concat`: an exact-size copy (a spread with an extra element reserves room for more).
    if (!listeners.includes(listener)) this.#closeListeners = listeners.concat(listener);
    return () => {
      this.#closeListeners = this.#closeListeners.filter((candidate) => candidate !== listener);
    };
  }

  /**
   * Ends the connection politely (SSH disconnect, then FIN). A peer that does not answer
   * within a grace period is cut off so that close never hangs.
   */
  close(reason: CloseReason): void {
    if (this.#state !== 'ready') return;
    this.#state = 'closing';
    this.#requestedReason = reason;
    this.#stopKeepAlive();
    this.#client.end();
    // ssh2's destroy() does nothing once end() has run: cut the socket itself.
    this.#forceCloseTimer = setTimeout(() => this.#sock.destroy(), CLOSE_GRACE_MS);
    this.#forceCloseTimer.unref();
  }

  destroy(reason: CloseReason): void {
    if (this.#state === 'closed') return;
    this.#requestedReason ??= reason;
    this.#state = 'closing';
    this.#stopKeepAlive();
    this.#sock.destroy();
  }

  /**
   * SSH-level keepalive (`keepalive@openssh.com`, as OpenSSH's ServerAliveInterval sends it)
   * on an unref'd timer: more than `keepAliveCountMax` unanswered probes declare the peer dead.
   */
  #startKeepAlive(): void {
    const { keepAliveInterval, keepAliveCountMax } = this.settings;
    const internals = this.#client as unknown as KeepAliveInternals;
    if (keepAliveInterval <= 0 || !Array.isArray(internals._callbacks) || typeof internals._protocol?.ping !== 'function') return;
    this.#keepAliveTimer = setInterval(() => {
      if (this.#state !== 'ready') return;
      if (++this.#unansweredKeepAlives > keepAliveCountMax) {
        this.#lastError = Object.assign(new Error('Keepalive timeout'), { level: 'client-timeout' });
        this.destroy('error');
        return;
      }
      try {
        // ssh2 matches global-request replies to this queue in order, as its own keepalive does;
        // it swaps the array on close, so it is read afresh each time.
        const client = this.#client as unknown as KeepAliveInternals;
        client._callbacks!.push(() => {
          this.#unansweredKeepAlives = 0;
        });
        client._protocol!.ping!();
      } catch {
        // Not writable any more: the close is on its way.
      }
    }, keepAliveInterval);
    this.#keepAliveTimer.unref();
  }

  #stopKeepAlive(): void {
    clearInterval(this.#keepAliveTimer);
    this.#keepAliveTimer = undefined;
  }

  #onClientClose(): void {
    clearTimeout(this.#forceCloseTimer);
    this.#stopKeepAlive();
    this.#state = 'closed';
    const reason = this.#requestedReason ?? (this.#lastError ? 'error' : 'remote');
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const listener of listeners) listener(reason, this.#lastError);
  }
}

interface ChannelManagerInternals {
  _chanMgr?: { _channels?: Record<string, unknown> };
}

interface KeepAliveInternals {
  _callbacks?: Array<(hadError: boolean) => void>;
  _protocol?: { ping?: () => void };
}

function classifyConnectError(
  error: Error & { level?: string; code?: string | number },
  endpoint: ConnectionSettings,
  verdict: HostKeyVerdict | undefined,
  attempts: string,
  credentialsOffered: boolean,
): ConnectError {
  if (verdict && !verdict.accepted) {
    return new HostKeyError(describeRejection(endpoint.host, endpoint.port, verdict, endpoint.hostKey), endpoint, {
      fingerprint: verdict.fingerprint,
      keyType: verdict.keyType,
      reason: verdict.reason ?? 'unknown',
    });
  }
  if (error.level === 'client-authentication') {
    return new AuthenticationError(
      `Authentication failed for ${endpoint.poolName}: the server accepted none of the offered credentials (${attempts})`,
      endpoint,
      { cause: error },
    );
  }
  if (error.level === 'client-timeout') {
    return new ConnectTimeoutError(`Connecting to ${endpoint.poolName} timed out: ${error.message}`, endpoint, endpoint.connectionTimeout, { cause: error });
  }
  // A disconnect message (ssh2 gives its reason code as a number) once credentials were
  // offered: OpenSSH's answer past MaxAuthTries ("Too many authentication failures"), sent
  // instead of the last refusal. Trying again would only offer the same credentials once more.
  if (credentialsOffered && typeof error.code === 'number') return loginEnded(endpoint, attempts, `ended the login (${error.message})`, error);
  // DNS names that do not exist will not start existing on the next attempt.
  const permanent = error.code === 'ENOTFOUND' || error.level === 'client-dns';
  return new ConnectError(`Cannot connect to ${endpoint.poolName}: ${error.message}`, endpoint, !permanent, { cause: error });
}

/** The server ended a login over the credentials offered: an authentication failure, never retried. */
function loginEnded(endpoint: ConnectionSettings, attempts: string, how: string, cause?: Error): AuthenticationError {
  return new AuthenticationError(
    `Authentication failed for ${endpoint.poolName}: the server ${how} when offered credentials (${attempts})`,
    endpoint,
    cause ? { cause } : undefined,
  );
}

/** Remote listeners share one map: TCP ones by `host:port`, UNIX sockets by this key, which no `host:port` can equal. */
function socketListenerKey(path: string): string {
  return `unix\0${path}`;
}

/** Who hears the verdicts of a connection's host key checks while it is being opened. */
interface HostKeyWatcher {
  verified: ((verdict: HostKeyVerdict) => void) | undefined;
}

/** The host key check ssh2 keeps: made here so that it holds `settings` and `watcher` only. */
function hostKeyCheck(settings: ConnectionSettings, watcher: HostKeyWatcher): (key: Buffer) => boolean {
  return (key) => {
    const verdict = verifyHostKey(settings.hostKey, settings.host, settings.port, key);
    watcher.verified?.(verdict);
    return verdict.accepted;
  };
}

/**
 * The jump host sends EOF when the target's side of its TCP connection is gone, then waits for
 * our close: without this the connection would look alive until keepalives ran out. An SSH peer
 * never half-closes a live connection, so EOF is the end. (Outside `open`, whose state this
 * listener would otherwise hold for the connection's life.)
 */
function destroyOnEnd(tunnel: Duplex): void {
  tunnel.once('end', () => tunnel.destroy());
}
