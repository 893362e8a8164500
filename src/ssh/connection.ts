import type { Duplex } from 'node:stream';
import type { ChannelOutcome, ChannelSpec } from '../command/channel-contract.js';
import type { CancelSignal } from '../core/cancel-source.js';
import type { SftpSession } from './sftp-session.js';
import type { SpareOutcome, SpareState } from './spare-session.js';

/** Why a connection was closed. */
export type CloseReason = 'idle' | 'expired' | 'unhealthy' | 'remote' | 'error' | 'shutdown';

export interface RunningChannel {
  /** Settles as soon as the command's fate is known. Never rejects. */
  readonly outcome: Promise<ChannelOutcome>;
  /**
   * Settles when the server has freed the channel (or the connection is gone): only then may
   * its slot be reused, or a busy server refuses the next channel. After a cancel this is the
   * proof that the remote process group is gone.
   */
  readonly freed: Promise<void>;
  /**
   * Settles once a cancelled command's kill has been sent (its process group known), or when
   * no kill will come (the channel closed, or the command reported no group). The pool gives a
   * cancelled channel a grace period from then, not from the cancel: under load the kill itself
   * may be late. Absent: counted from the cancel.
   */
  readonly killSent?: Promise<void>;
  /** True once the kill ran on the server (the group is dead or was already gone): the channel will close soon. */
  readonly killConfirmed?: () => boolean;
  /** True when the command ran on a spare session opened ahead of it (one round trip instead of two). */
  readonly prepared?: boolean;
}

/** Which way channel data went: received from the server, or transmitted to it. */
export type IoDirection = 'receive' | 'transmit';

/** Told of every chunk of channel data as it passes (for byte counters). */
export type IoListener = (direction: IoDirection, bytes: number) => void;

export interface OpenChannelOptions {
  /** Whether the command reports its process group (for a kill); default: `spec.cancellable`. */
  readonly trackProcessGroup?: boolean;
  readonly onIo?: IoListener;
  /**
   * Called once the server holds the channel's session (its open confirmed, or a spare claimed),
   * before the command's own request is answered; not called when the open fails. A connection
   * that cannot tell calls it when the command has started.
   */
  readonly onOpened?: () => void;
}

/** Raised by `openChannel` when the server refuses a session (OpenSSH `MaxSessions`). */
export class ChannelOpenRefusal extends Error {
  override readonly name = 'ChannelOpenRefusal';

  /** `reason`: the SSH_MSG_CHANNEL_OPEN_FAILURE code, when the server sent one (RFC 4254 §5.1). */
  constructor(message: string, readonly reason?: number) {
    super(message);
  }
}

/** RFC 4254 §5.1: the server's policy forbids the channel (OpenSSH: `AllowTcpForwarding`, `PermitOpen`). */
export const OPEN_FAILURE_PROHIBITED = 1;
/** RFC 4254 §5.1: the server could not connect to the destination. */
export const OPEN_FAILURE_CONNECT_FAILED = 2;

/**
 * Raised by `openChannel` when its cancel signal fired before the server answered. The slot
 * stays taken until `settled`: a late-opened channel is closed then, and only then is it free.
 */
export class ChannelOpenCancelled extends Error {
  override readonly name = 'ChannelOpenCancelled';
  /**
   * @param settled the slot is free (the late channel closed, or the open failed)
   * @param killSent a late-opened channel's kill was sent, or none is needed
   */
  constructor(
    readonly settled: Promise<void>,
    readonly killSent: Promise<void> = settled,
    /** Whether the late-opened channel's kill ran on the server (see `RunningChannel.killConfirmed`). */
    readonly killConfirmed: () => boolean = () => false,
  ) {
    super('channel open cancelled');
  }
}

/** Raised by `openChannel` when the connection is no longer usable. */
export class ConnectionUnusable extends Error {
  override readonly name = 'ConnectionUnusable';
}

/** A server-side listener (`tcpip-forward`, or `streamlocal-forward@openssh.com` for a UNIX socket) on one connection. */
export interface RemoteListener {
  /** The port the server listens on; 0 for a UNIX socket. */
  readonly port: number;
  /** Asks the server to stop listening (`cancel-tcpip-forward` or its streamlocal twin); nothing to do once the connection is gone. */
  close(): void;
}

export type CloseListener = (reason: CloseReason, error: Error | undefined) => void;

/**
 * One authenticated connection as the pool uses it: a transport that runs commands on
 * channels and reports its close. Slot accounting is not its job (see `PoolEntry`), so the
 * real `SSHConnection` and a test fake implement the same small surface.
 */
export interface PoolConnection {
  readonly id: number;
  readonly peerAddress: string | undefined;
  /** The TCP port actually connected to; undefined through a jump host's channel. */
  readonly peerPort?: number | undefined;
  /** The authentication method that logged in (`publickey`, `password`, `keyboard-interactive`). */
  readonly authMethod?: string | undefined;
  /** How long TCP + handshake + authentication took, ms. */
  readonly connectDurationMs: number;
  /** False once closing or closed. */
  readonly usable: boolean;
  readonly closed: boolean;
  /**
   * Opens a session channel and starts `spec.command` on it. When `cancel` fires, the remote
   * command's process group is killed and the channel closed; `freed` settles once it is.
   * Rejects with `ChannelOpenRefusal`, `ChannelOpenCancelled` or `ConnectionUnusable`.
   */
  openChannel(spec: ChannelSpec, cancel: CancelSignal, options?: OpenChannelOptions): Promise<RunningChannel>;
  /**
   * The spare session channel held for the next command (see ssh/spare-session.ts): `opening`,
   * `ready`, or none. `openChannel` claims it first. Absent on connections without spares.
   */
  readonly spare?: SpareState | undefined;
  /**
   * Opens a spare session channel for the next command unless one is held. A spare the server
   * closes before a command claimed it is dropped, not replaced: the next command asks again.
   * Never rejects.
   */
  prepareSpare?(): Promise<SpareOutcome>;
  /**
   * Closes the spare if it has waited so long that a command would not use it (`SPARE_MAX_IDLE_MS`),
   * without asking for another; returns the spare still held (`opening`, `ready`, or none).
   */
  closeStaleSpare?(): SpareState | undefined;
  /**
   * Opens a `direct-tcpip` channel from the server to `host:port`, for a connection to a host
   * behind this one (a jump host). Absent on connections that cannot forward.
   */
  openTunnel?(host: string, port: number): Promise<Duplex>;
  /**
   * Opens a `direct-streamlocal@openssh.com` channel from the server to the UNIX socket at
   * `path`. Absent on connections that cannot forward.
   */
  openStreamLocal?(path: string): Promise<Duplex>;
  /**
   * Asks the server to listen on `host:port` (`tcpip-forward`; port 0: one it picks) and hands
   * each connection it accepts there to `onConnection` as a `forwarded-tcpip` channel. Resolves
   * with the bound port; rejects with `ChannelOpenRefusal` when the server will not listen.
   * Absent on connections that cannot forward.
   */
  listenRemote?(host: string, port: number, onConnection: (channel: Duplex) => void): Promise<RemoteListener>;
  /**
   * Asks the server to listen on the UNIX socket `path` (`streamlocal-forward@openssh.com`);
   * each connection it accepts there arrives as a channel (`forwarded-streamlocal@openssh.com`)
   * given to `onConnection`. Rejects as `listenRemote` does.
   */
  listenRemoteSocket?(path: string, onConnection: (channel: Duplex) => void): Promise<RemoteListener>;
  /**
   * Opens an SFTP subsystem channel (a session channel, as a command's). Rejects with
   * `ChannelOpenRefusal`, `SftpSubsystemUnavailable` (the server runs none; the channel is
   * closed again) or `ConnectionUnusable`. Absent on connections that cannot carry SFTP.
   */
  openSftp?(): Promise<SftpSession>;
  onClose(listener: CloseListener): () => void;
  /** Ends the connection politely; a peer that does not answer is cut off after a grace period. */
  close(reason: CloseReason): void;
  /** Cuts the connection at once. */
  destroy(reason: CloseReason): void;
}

/**
 * What the pool is told of, and asked, as one connect attempt goes: how a burst of attempts
 * to one pool key shares out what it costs the server (docs/architecture.md describes it).
 * A factory that does not call them behaves as one that never reaches the server
 * early: correct, only slower in a cold burst.
 */
export interface ConnectAttemptHooks {
  /**
   * The server finished a key exchange with this attempt, its host key accepted: it is up, speaks
   * SSH and is the server the policy trusts (a TCP connection alone proves little: a frozen
   * server's kernel still accepts one). Called at most once.
   */
  reached(): void;
  /**
   * Asked once, when the server is ready for credentials and before any is offered; a promise
   * when the attempt must wait for another attempt's login to be answered first.
   */
  loginTurn(): LoginTurnAnswer | Promise<LoginTurnAnswer>;
}

/**
 * Whether a connect attempt may offer its credentials: `granted`; `refused`, another attempt's
 * login with the same credentials was just refused; `closed`, the pool closed meanwhile. The
 * last two end the attempt without offering anything.
 */
export type LoginTurnAnswer = 'granted' | 'refused' | 'closed';

/** Opens one connection (one attempt). Rejects with a classified `ConnectError`. */
export type ConnectionFactory = (hooks?: ConnectAttemptHooks) => Promise<PoolConnection>;
