import type { Context, Span } from '@opentelemetry/api';
import type { PoolConnection } from '../ssh/connection.js';
import { ATTR_CONNECTION_ID, ATTR_SFTP_BYTES, ATTR_SFTP_FILES, CHANNEL_TYPE_SFTP } from './constants.js';
import type { NetworkIoDirection, SftpOperation } from './constants.js';
import { connectionLink, PoolTelemetry } from './pool-telemetry.js';
import { connectSpanOf } from './telemetry-observer.js';

/** The host a transfer runs against, as telemetry names it. */
export interface TransferTarget {
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
}

/** What one transfer reports while it runs and when it ends. */
export interface TransferTrace {
  /** Parent of the transfer's acquire span; undefined when nothing records spans. */
  readonly context: Context | undefined;
  /** The connection the transfer got: the span links to its `ssh.connect` span. */
  onConnection(connection: PoolConnection): void;
  /** Bytes acknowledged by the server (sent) or received, counted on `ssh.client.channel.io`. */
  addBytes(bytes: number): void;
  succeed(files: number, bytes: number): void;
  /** `errorType`: the error's stable code. */
  fail(errorType: string, message: string, files: number, bytes: number): void;
}

/** Which way the bytes of an operation go, from the client's side. */
export function directionOf(operation: SftpOperation): NetworkIoDirection {
  return operation === 'upload' || operation === 'write' ? 'transmit' : 'receive';
}

/**
 * Traces one transfer: its `ssh.sftp.<operation>` span (child of the caller's active context,
 * when a tracer provider records), `ssh.client.transfer.duration`, and its bytes on
 * `ssh.client.channel.io` with `ssh.channel.type` = `sftp`.
 */
export function traceTransfer(telemetry: PoolTelemetry, target: TransferTarget, operation: SftpOperation): TransferTrace {
  const startedAt = performance.now();
  const direction = directionOf(operation);
  const scope = telemetry.tracing ? telemetry.startTransfer({ ...target, operation }) : undefined;
  const span: Span | undefined = scope?.span;
  let linked = false;
  const finish = (files: number, bytes: number): void => {
    span?.setAttributes({ [ATTR_SFTP_FILES]: files, [ATTR_SFTP_BYTES]: bytes });
  };
  return {
    context: scope?.context,
    onConnection(connection) {
      if (!span || linked) return;
      linked = true;
      span.setAttribute(ATTR_CONNECTION_ID, connection.id);
      const link = connectSpanOf(connection);
      if (link) span.addLink(connectionLink(link));
    },
    addBytes(bytes) {
      if (bytes > 0) telemetry.recordChannelIo(target.poolName, CHANNEL_TYPE_SFTP, direction, bytes);
    },
    succeed(files, bytes) {
      telemetry.recordTransferDuration(target.poolName, operation, performance.now() - startedAt);
      if (!span) return;
      finish(files, bytes);
      span.end();
    },
    fail(errorType, message, files, bytes) {
      telemetry.recordTransferDuration(target.poolName, operation, performance.now() - startedAt, errorType);
      if (!span) return;
      finish(files, bytes);
      PoolTelemetry.fail(span, errorType, message);
    },
  };
}
