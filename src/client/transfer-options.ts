import type { Readable, Writable } from 'node:stream';
import { MAX_TIMER_MS } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { boolean, checkObject, describe, integer, isPlainObject, oneOf } from '../core/validation.js';
import type { Check } from '../core/validation.js';

/** Where `upload` reads from: a local path (a file, or a directory with `recursive`), a Buffer, or a Readable. */
export type UploadSource = string | Buffer | Readable;
/** Where `download` writes to: a local path (a file, or a directory with `recursive`), or a Writable. */
export type DownloadTarget = string | Writable;

/** One `onProgress` report: bytes of `file` moved so far, of `total` when known. */
export interface TransferProgress {
  /** The remote path of the file being moved. */
  readonly file: string;
  readonly transferred: number;
  readonly total: number | undefined;
}

/** What a transfer moved. */
export interface TransferResult {
  readonly files: number;
  readonly bytes: number;
  /** Milliseconds from the call to the result, waiting for a slot included. */
  readonly duration: number;
}

/** Options shared by every transfer. */
export interface BaseTransferOptions {
  /** Stops the transfer: it rejects with `TransferAbortedError`, its handles closed, no partial file at the target name when `atomic`. */
  signal?: AbortSignal;
  /** Milliseconds for the whole transfer, the wait for a slot included; then `TransferTimeoutError`. 0: none. @default 0 */
  timeout?: number;
  /** Served before lower priorities when waiting for a slot, as commands are. @default 0 */
  priority?: number;
  /**
   * `'sha256'`: after the copy, the remote file's `sha256sum` is compared with the SHA-256 of
   * the bytes sent or received; a difference is a `VerificationError` (an atomic upload then
   * leaves the target untouched). Needs `sha256sum` on the server. @default undefined (no check)
   */
  verify?: 'sha256';
}

/** Options of `upload` and `download`. */
export interface TransferOptions extends BaseTransferOptions {
  /** Copies a directory and everything below it. Symlinks to files are followed; symlinks to directories are skipped. @default false */
  recursive?: boolean;
  /** Called with the bytes moved so far, at most about 10 times a second per file, and once when a file is done. */
  onProgress?: (progress: TransferProgress) => void;
  /** SFTP requests in flight at once per file: more hides more round trips. @default 64 */
  concurrency?: number;
  /** Permission bits of the written files (e.g. `0o600`). @default the replaced file's mode; for a new file 0o644 (or the source's with `preserve`) */
  mode?: number;
  /** Copies the source's permission bits and modification time to what is written. @default false */
  preserve?: boolean;
  /**
   * Writes each file under a temporary name in the same directory, then renames it over the
   * target: a failed or aborted transfer leaves no partial file at the target name, and readers
   * see the old file or the new one, never half of it. @default true for upload, false for download
   */
  atomic?: boolean;
}

/** Options of `writeFile`. */
export interface WriteFileOptions extends BaseTransferOptions {
  /** Permission bits of the file. @default the replaced file's mode; for a new file 0o644 */
  mode?: number;
  /** See `TransferOptions.atomic`. @default true */
  atomic?: boolean;
}

/** Options of `readFile` beyond the encoding. */
export type ReadFileOptions = BaseTransferOptions;

/** Requests in flight per file unless `concurrency` says otherwise. */
export const DEFAULT_TRANSFER_CONCURRENCY = 64;

const finiteNumber: Check = (value, path) => {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidArgumentError(`${path} must be a finite number, got ${describe(value)}`);
};
const functionValue: Check = (value, path) => {
  if (typeof value !== 'function') throw new InvalidArgumentError(`${path} must be a function, got ${describe(value)}`);
};
const abortSignal: Check = (value, path) => {
  if (!(value instanceof AbortSignal)) throw new InvalidArgumentError(`${path} must be an AbortSignal, got ${describe(value)}`);
};

const BASE_SCHEMA: Record<string, Check> = {
  signal: abortSignal,
  timeout: integer(0, MAX_TIMER_MS),
  priority: finiteNumber,
  verify: oneOf('sha256'),
};
const WRITE_SCHEMA: Record<string, Check> = { ...BASE_SCHEMA, mode: integer(0, 0o7777), atomic: boolean };
const TRANSFER_SCHEMA: Record<string, Check> = {
  ...WRITE_SCHEMA,
  recursive: boolean,
  onProgress: functionValue,
  concurrency: integer(1, 1024),
  preserve: boolean,
};

function checkOptions<T extends object>(options: unknown, schema: Record<string, Check>, path: string): T {
  if (options === undefined) return {} as T;
  if (!isPlainObject(options)) throw new InvalidArgumentError(`${path} must be an object, got ${describe(options)}`);
  checkObject(options, schema, path);
  return options as T;
}

export function checkTransferOptions(options: unknown, method: 'upload' | 'download'): TransferOptions {
  return checkOptions<TransferOptions>(options, TRANSFER_SCHEMA, `${method}() options`);
}

export function checkWriteFileOptions(options: unknown): WriteFileOptions {
  return checkOptions<WriteFileOptions>(options, WRITE_SCHEMA, 'writeFile() options');
}

export function checkReadFileOptions(options: unknown): ReadFileOptions {
  return checkOptions<ReadFileOptions>(options, BASE_SCHEMA, 'readFile() options');
}

/** A remote path: a non-empty string without NUL (SFTP paths are bytes, but NUL ends them on the server). */
export function checkRemotePath(path: unknown, what: string): string {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`${what} must be a non-empty string, got ${describe(path)}`);
  if (path.includes('\0')) throw new InvalidArgumentError(`${what} must not contain a NUL character`);
  return path;
}
