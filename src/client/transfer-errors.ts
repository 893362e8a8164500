import { AcquireCancelled } from '../command/error-mapping.js';
import {
  LocalFileNotFoundError,
  PermissionDeniedError,
  RemoteFileNotFoundError,
  SftpUnavailableError,
  SSHPoolError,
  TransferAbortedError,
  TransferConnectionLostError,
  TransferError,
  TransferTimeoutError,
  WriteFailedError,
} from '../core/errors.js';
import type { TransferOperation } from '../core/errors.js';
import { SftpConnectionLost } from '../pool/sftp-channels.js';
import { SFTP_STATUS, SftpRequestError, SftpSubsystemUnavailable } from '../ssh/sftp-session.js';

/** Where a failure happened: the operation, the host, and the file it was about. */
export interface FailureContext {
  readonly operation: TransferOperation;
  readonly poolName: string;
  /** The remote path the failing request named, or the local one for a local failure. */
  readonly path: string;
  /** Whether `path` is local (a local file system error). */
  readonly local?: boolean;
}

/** Why a transfer was stopped from outside, as its cancel signal's reason says. */
export type StopReason = 'aborted' | 'timeout' | 'shutdown';

/** The typed error of a transfer stopped by its signal, its timeout or the pool's close. */
export function stoppedError(reason: StopReason, context: FailureContext, timeoutMs: number): TransferError {
  const details = { operation: context.operation, poolName: context.poolName, path: context.path };
  if (reason === 'timeout') return new TransferTimeoutError(`The ${context.operation} of ${context.path} on ${context.poolName} timed out after ${timeoutMs} ms`, { ...details, timeoutMs });
  const why = reason === 'shutdown' ? 'the pool closed' : 'it was aborted';
  return new TransferAbortedError(`The ${context.operation} of ${context.path} on ${context.poolName} stopped: ${why}`, details);
}

/**
 * The typed error for what went wrong in a transfer: SFTP statuses, a missing subsystem, a lost
 * channel, local file system errors. Errors that are already sshpool's (acquire timeout, pool
 * closed, connect errors, transfer errors) pass through unchanged.
 */
export function transferErrorOf(error: unknown, context: FailureContext): Error {
  if (error instanceof SSHPoolError) return error;
  const details = { operation: context.operation, poolName: context.poolName, path: context.path };
  const on = `${context.path} on ${context.poolName}`;
  const options = { cause: error };
  if (error instanceof SftpSubsystemUnavailable) {
    return new SftpUnavailableError(
      `${context.poolName} has no SFTP subsystem: its sshd_config needs a "Subsystem sftp" line (e.g. "Subsystem sftp internal-sftp")`,
      details,
      options,
    );
  }
  if (error instanceof SftpConnectionLost || error instanceof AcquireCancelled) {
    return new TransferConnectionLostError(`The connection to ${context.poolName} was lost during the ${context.operation} of ${context.path}`, details, options);
  }
  if (error instanceof SftpRequestError) {
    switch (error.status) {
      case SFTP_STATUS.noSuchFile:
        return new RemoteFileNotFoundError(`No such remote file or directory: ${on}`, details, options);
      case SFTP_STATUS.permissionDenied:
        return new PermissionDeniedError(`Permission denied: ${on}`, details, options);
      case SFTP_STATUS.failure:
        // OpenSSH's sftp-server answers a full disk, a quota or an I/O error with a bare failure.
        if (context.operation === 'upload' || context.operation === 'write') {
          return new WriteFailedError(`Writing ${on} failed (disk full, quota or I/O error): ${error.message}`, details, options);
        }
        return new TransferError(`The ${context.operation} of ${on} failed: ${error.message}`, details, options);
      case undefined:
      case SFTP_STATUS.noConnection:
      case SFTP_STATUS.connectionLost:
        return new TransferConnectionLostError(`The SFTP channel to ${context.poolName} closed during the ${context.operation} of ${context.path}`, details, options);
      default:
        return new TransferError(`The ${context.operation} of ${on} failed: ${error.message}`, details, options);
    }
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (context.local && typeof code === 'string') {
    const local = `local ${context.path}`;
    if (code === 'ENOENT') return new LocalFileNotFoundError(`No such local file or directory: ${context.path}`, details, options);
    if (code === 'EACCES' || code === 'EPERM') return new PermissionDeniedError(`Permission denied: ${local}`, details, options);
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EROFS') {
      return new WriteFailedError(`Writing ${local} failed: ${(error as Error).message}`, details, options);
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TransferError(`The ${context.operation} of ${on} failed: ${message}`, details, options);
}
