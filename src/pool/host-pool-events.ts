import { warnListenerThrew } from '../core/listener-warning.js';
import type { ConnectError } from '../core/errors.js';
import type { PoolConnection } from '../ssh/connection.js';
import type { CloseReason, IoDirection } from '../ssh/connection.js';

/**
 * The caller's trace context, carried through the pool untouched for the telemetry layer to
 * read: the pool never looks inside it, so it does not depend on OpenTelemetry.
 */
export type TraceParent = unknown;

/** Why a connection is being opened. */
export type OpenPurpose = 'demand' | 'warm-up' | 'reconnect';

export type AcquireOutcome = 'reused' | 'created';

/** How a tunnelled connection came: a local listener (`forward`), the server (`forwardRemote`), or a SOCKS client (`socks`). */
export type TunnelKind = 'local' | 'remote' | 'socks';

/** The SSH channel type carrying data (RFC 4254 §6, §7; OpenSSH PROTOCOL §2.4). */
export type ChannelType = 'session' | 'sftp' | 'direct-tcpip' | 'forwarded-tcpip' | 'direct-streamlocal@openssh.com' | 'forwarded-streamlocal@openssh.com';

/**
 * Everything that happens in a host pool, as one typed stream. Telemetry, the `getMetrics()`
 * recorder and the public events are observers of it: the pool logic itself makes no
 * telemetry call. Times are clock milliseconds (`Clock.now()`), `at` epoch ms where a span
 * may need back-dating.
 */
export type HostPoolEvent =
  | { readonly type: 'acquired'; readonly outcome: AcquireOutcome; readonly connection: PoolConnection; readonly waitMs: number;
      /** How long the connection had been idle before this lend, when it had been. */
      readonly idleMs: number | undefined; readonly parent: TraceParent | undefined; readonly startedAtEpoch: number;
      /** Connect attempts started while this acquire waited (their `attemptId`s). */
      readonly connectAttempts: readonly number[] }
  | { readonly type: 'acquire-failed'; readonly outcome: 'timeout' | 'error'; readonly waitMs: number; readonly errorType: string;
      readonly parent: TraceParent | undefined; readonly startedAtEpoch: number; readonly connectAttempts: readonly number[] }
  | { readonly type: 'channel-opened'; readonly connection: PoolConnection; readonly parent: TraceParent | undefined;
      /** How long the server took to open the channel and start the command. */
      readonly openMs: number; readonly atEpoch: number;
      /** The command ran on a spare session opened ahead of it: only `exec` was sent. */
      readonly prepared: boolean }
  | { readonly type: 'released'; readonly connection: PoolConnection; readonly heldMs: number }
  | { readonly type: 'connect-started'; readonly attemptId: number; readonly purpose: OpenPurpose;
      /** For a demand open: the trace of the waiting acquire it is made for. */
      readonly cause: TraceParent | undefined }
  | { readonly type: 'connected'; readonly attemptId: number; readonly connection: PoolConnection; readonly durationMs: number }
  | { readonly type: 'connect-failed'; readonly attemptId: number; readonly error: ConnectError; readonly durationMs: number }
  | { readonly type: 'closed'; readonly connection: PoolConnection; readonly reason: CloseReason; readonly error: Error | undefined;
      /** Set for closes of idle connections: how long it had been idle. */
      readonly idleMs: number | undefined }
  | { readonly type: 'channel-refused'; readonly connection: PoolConnection }
  | { readonly type: 'retired'; readonly connection: PoolConnection; readonly why: 'stuck-channel' }
  | { readonly type: 'reconnect-started'; readonly attempt: number }
  | { readonly type: 'reconnect-finished'; readonly attempt: number; readonly outcome: 'success' | 'failure';
      readonly connection: PoolConnection | undefined; readonly error: ConnectError | undefined; readonly attemptId: number | undefined }
  | { readonly type: 'reconnect-gave-up'; readonly attempts: number }
  | { readonly type: 'probe-started'; readonly probeId: number; readonly connection: PoolConnection }
  | { readonly type: 'probe-finished'; readonly probeId: number; readonly connection: PoolConnection; readonly healthy: boolean;
      /** The connection died under the probe: its close reports it, not the probe. */
      readonly lost: boolean; readonly durationMs: number; readonly error: Error | undefined; readonly errorType: string | undefined }
  | { readonly type: 'pool-full' }
  /** Bytes a channel carried, one event per chunk as it arrives or is sent: `receive` from the server, `transmit` to it. */
  | { readonly type: 'channel-io'; readonly channelType: ChannelType; readonly direction: IoDirection; readonly bytes: number }
  /** A tunnelled connection ended (or never got its channel: then `connection` may be undefined and `errorType` is set). */
  | { readonly type: 'tunnel-closed'; readonly kind: TunnelKind; readonly channelType: ChannelType; readonly connection: PoolConnection | undefined;
      /** `host:port` or a socket path. */
      readonly destination: string; readonly startedAtEpoch: number; readonly durationMs: number;
      readonly receivedBytes: number; readonly transmittedBytes: number; readonly errorType: string | undefined };

export type HostPoolEventType = HostPoolEvent['type'];

/** A subscriber of one host pool's events. */
export type HostPoolObserver = (event: HostPoolEvent) => void;

/**
 * Delivers events to observers in subscription order. An observer that throws is reported as
 * a process warning and never breaks the pool or the observers after it.
 */
export class HostPoolEventStream {
  #observers: HostPoolObserver[] = [];

  subscribe(observer: HostPoolObserver): () => void {
    // `concat` makes an exact-size copy (a spread with an extra element reserves room for ~16
    // more), and every host pool of a fleet keeps one of these.
    this.#observers = this.#observers.concat(observer);
    return () => {
      this.#observers = this.#observers.filter((candidate) => candidate !== observer);
    };
  }

  emit(event: HostPoolEvent): void {
    // Indexed: this runs several times per command, often before the JIT has optimised it.
    const observers = this.#observers;
    for (let i = 0; i < observers.length; i++) {
      try {
        observers[i]!(event);
      } catch (error) {
        warnListenerThrew(`an observer of '${event.type}'`, error, 'SSHPOOL_OBSERVER_ERROR');
      }
    }
  }
}
