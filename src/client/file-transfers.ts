import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { chmod, mkdir, open as openLocal, readdir, rename as renameLocal, rm, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { posix } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { quote } from '../command/shell-quote.js';
import { InvalidArgumentError, SSHPoolError, TransferError, VerificationError } from '../core/errors.js';
import type { TransferOperation } from '../core/errors.js';
import type { HostPool } from '../pool/host-pool.js';
import { BufferRecycler } from '../core/buffer-recycler.js';
import { readPipelined, writePipelined } from '../ssh/sftp-copy.js';
import type { CopyControl } from '../ssh/sftp-copy.js';
import { MAX_REQUEST_BYTES, SFTP_STATUS, SftpRequestError } from '../ssh/sftp-session.js';
import type { SftpSession, SftpStats } from '../ssh/sftp-session.js';
import type { PoolTelemetry } from '../telemetry/pool-telemetry.js';
import { traceTransfer } from '../telemetry/trace-transfer.js';
import type { TransferTrace } from '../telemetry/trace-transfer.js';
import { stoppedError, transferErrorOf } from './transfer-errors.js';
import { WriteBehindFile } from './write-behind-file.js';
import type { StopReason } from './transfer-errors.js';
import {
  checkReadFileOptions,
  checkRemotePath,
  checkTransferOptions,
  checkWriteFileOptions,
  DEFAULT_TRANSFER_CONCURRENCY,
} from './transfer-options.js';
import type { BaseTransferOptions, DownloadTarget, TransferOptions, TransferResult, UploadSource, WriteFileOptions } from './transfer-options.js';

/** After a stop, how long the server may leave requests unanswered before the channel is ended (which fails them and closes every handle). */
const STOP_GRACE_MS = 2_000;
/** Least time between two `onProgress` calls for one file. */
const PROGRESS_INTERVAL_MS = 100;
/** Files of a recursive transfer moved at once over the one SFTP channel. */
const FILES_AT_ONCE = 32;
/** Mode of a new file when neither `mode` nor `preserve` gives one. */
const DEFAULT_FILE_MODE = 0o644;
/** Local reads for uploads: large enough to keep many write requests in flight. */
const LOCAL_READ_BYTES = 1024 * 1024;
/** The smallest local read, so that a file grown since its stat is not read a few bytes at a time. */
const MIN_LOCAL_READ_BYTES = 16 * 1024;
/** `sha256sum` prints 64 hex digits and the name. */
const SHA256_LINE = /^\\?([0-9a-f]{64}) /;

/** What the work of one transfer is given. */
interface Job {
  readonly session: SftpSession;
  readonly cancel: AbortSignal;
  /** Copy control for one file: acknowledged bytes count for telemetry, the result and `onProgress`. */
  control(file: string, total: number | undefined): CopyControl & { done(): void };
  /** The remote file's SHA-256 (hex), from `sha256sum` on the server. */
  sha256(remotePath: string, operation: TransferOperation): Promise<string>;
}

/** Counts of what a transfer moved, kept as it goes (a failed transfer reports them too). */
interface Moved {
  files: number;
  bytes: number;
}

/** One file below a local or remote directory, by its path relative to it (posix separators). */
interface TreeEntry {
  readonly relative: string;
  readonly directory: boolean;
  readonly size: number;
  readonly mode: number;
  readonly mtime: number;
}

/**
 * The file operations of one pool key: `upload`, `download`, `readFile` and `writeFile` over the
 * SFTP channel of a pooled connection (see `SftpChannels`), traced as `ssh.sftp.*`. Failures are
 * typed (`transfer-errors.ts`); a stopped transfer's handles are closed before it rejects, and
 * its temporary file removed.
 */
export class FileTransfers {
  readonly #hostPool: HostPool;
  readonly #telemetry: PoolTelemetry;

  constructor(hostPool: HostPool, telemetry: PoolTelemetry) {
    this.#hostPool = hostPool;
    this.#telemetry = telemetry;
  }

  async upload(source: UploadSource, remotePath: string, options?: TransferOptions): Promise<TransferResult> {
    const opts = checkTransferOptions(options, 'upload');
    checkRemotePath(remotePath, 'upload() remotePath');
    if (typeof source !== 'string' && !Buffer.isBuffer(source) && !(source instanceof Readable)) {
      throw new InvalidArgumentError('upload() source must be a local path, a Buffer or a Readable');
    }
    if (opts.recursive && typeof source !== 'string') throw new InvalidArgumentError('upload() with recursive: true needs a local directory path as its source');
    const atomic = opts.atomic ?? true;
    return this.#run('upload', remotePath, opts, async () => {
      if (typeof source !== 'string') {
        const total = Buffer.isBuffer(source) ? source.length : undefined;
        return (job) => this.#putFile(job, () => chunksOf(source), remotePath, total, { ...opts, atomic });
      }
      const local = await stat(source).catch((error: unknown) => {
        throw transferErrorOf(error, { operation: 'upload', poolName: this.#hostPool.name, path: source, local: true });
      });
      if (local.isDirectory()) {
        if (!opts.recursive) throw new InvalidArgumentError(`upload() source ${source} is a directory: pass { recursive: true } to copy it`);
        const tree = await walkLocal(source).catch((error: unknown) => {
          throw transferErrorOf(error, { operation: 'upload', poolName: this.#hostPool.name, path: source, local: true });
        });
        return (job) => this.#putTree(job, source, tree, remotePath, { ...opts, atomic });
      }
      const preserved = opts.preserve ? { mode: local.mode & 0o7777, mtime: local.mtimeMs / 1000 } : undefined;
      return (job) => this.#putFile(job, () => localChunks(source, local.size), remotePath, local.size, { ...opts, atomic, preserved });
    });
  }

  async download(remotePath: string, target: DownloadTarget, options?: TransferOptions): Promise<TransferResult> {
    const opts = checkTransferOptions(options, 'download');
    checkRemotePath(remotePath, 'download() remotePath');
    if (typeof target !== 'string' && !(target instanceof Writable)) throw new InvalidArgumentError('download() target must be a local path or a Writable');
    if (typeof target === 'string' && target === '') throw new InvalidArgumentError('download() target must be a non-empty path');
    return this.#run('download', remotePath, opts, () => Promise.resolve(async (job) => {
      const stats = await this.#remote(job.session.stat(remotePath), 'download', remotePath);
      if (stats.isDirectory()) {
        if (!opts.recursive) throw new InvalidArgumentError(`download() ${remotePath} is a remote directory: pass { recursive: true } to copy it`);
        if (typeof target !== 'string') throw new InvalidArgumentError('download() with recursive: true needs a local directory path as its target');
        await this.#getTree(job, remotePath, target, opts);
        return;
      }
      const sink = typeof target === 'string' ? await fileSink(target, opts.atomic ?? false, this.#localFailure('download')) : streamSink(target);
      await this.#getFile(job, remotePath, stats, sink, opts);
    }));
  }

  async readFile(remotePath: string, encoding?: BufferEncoding, options?: BaseTransferOptions): Promise<Buffer | string> {
    checkRemotePath(remotePath, 'readFile() remotePath');
    if (encoding !== undefined && !Buffer.isEncoding(encoding)) throw new InvalidArgumentError('readFile() encoding must be a Buffer encoding such as \'utf8\'');
    const opts = checkReadFileOptions(options);
    const chunks: Buffer[] = [];
    await this.#run('read', remotePath, opts, () => Promise.resolve(async (job) => {
      const stats = await this.#remote(job.session.stat(remotePath), 'read', remotePath);
      if (stats.isDirectory()) throw new InvalidArgumentError(`readFile() ${remotePath} is a remote directory`);
      await this.#getFile(job, remotePath, stats, memorySink(chunks), opts);
    }));
    const data = Buffer.concat(chunks);
    return encoding === undefined ? data : data.toString(encoding);
  }

  async writeFile(remotePath: string, data: string | Buffer | Uint8Array, options?: WriteFileOptions): Promise<TransferResult> {
    checkRemotePath(remotePath, 'writeFile() remotePath');
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new InvalidArgumentError('writeFile() data must be a string, a Buffer or a Uint8Array');
    const opts = checkWriteFileOptions(options);
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.#run('write', remotePath, opts, () => Promise.resolve((job) =>
      this.#putFile(job, () => chunksOf(bytes), remotePath, bytes.length, { ...opts, atomic: opts.atomic ?? true })));
  }

  // ---- one transfer ----

  /**
   * Runs one transfer: `prepare` (local checks, before a slot is taken) gives the work, which
   * runs on the SFTP channel of a pooled connection. Stops on the caller's signal, its timeout
   * or the pool's close; a stop that in-flight requests do not answer within `STOP_GRACE_MS`
   * ends the channel, which fails them and makes the server close every handle.
   */
  async #run(
    operation: TransferOperation,
    path: string,
    options: BaseTransferOptions,
    prepare: () => Promise<(job: Job) => Promise<unknown>>,
  ): Promise<TransferResult> {
    const hostPool = this.#hostPool;
    const startedAt = performance.now();
    const trace = traceTransfer(this.#telemetry, { poolName: hostPool.name, host: hostPool.details.host, port: hostPool.details.port }, operation);
    const moved: Moved = { files: 0, bytes: 0 };
    const stop = new AbortController();
    const onAbort = (): void => stop.abort('aborted' satisfies StopReason);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    const timeout = options.timeout ?? 0;
    const timer = timeout > 0 ? setTimeout(() => stop.abort('timeout' satisfies StopReason), timeout) : undefined;
    let workCancel: AbortSignal | undefined;
    try {
      const work = await prepare();
      await hostPool.transfer({ priority: options.priority ?? 0, cancel: stop.signal, trace: trace.context }, async (session, slot, cancel) => {
        workCancel = cancel;
        trace.onConnection(slot.connection);
        let guard: NodeJS.Timeout | undefined;
        // A server still answering is only slow (its requests drain, then the cleanup runs);
        // one silent for the grace period gets its channel ended.
        const watch = (): void => {
          guard = setTimeout(() => {
            if (session.silentForMs >= STOP_GRACE_MS) session.end();
            else watch();
          }, STOP_GRACE_MS);
          guard.unref();
        };
        const onStop = (): void => watch();
        if (cancel.aborted) onStop();
        else cancel.addEventListener('abort', onStop, { once: true });
        try {
          await work(this.#job(session, cancel, trace, moved, options));
        } finally {
          clearTimeout(guard);
          cancel.removeEventListener('abort', onStop);
        }
      });
      trace.succeed(moved.files, moved.bytes);
      return { files: moved.files, bytes: moved.bytes, duration: performance.now() - startedAt };
    } catch (error) {
      const stoppedBy = (workCancel?.aborted ? workCancel.reason : undefined) ?? (stop.signal.aborted ? stop.signal.reason : undefined);
      const failure = stoppedBy !== undefined
        ? stoppedError(stoppedBy as StopReason, { operation, poolName: hostPool.name, path }, timeout)
        : transferErrorOf(error, { operation, poolName: hostPool.name, path });
      trace.fail((failure as SSHPoolError).code ?? 'Error', failure.message, moved.files, moved.bytes);
      throw failure;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  #job(session: SftpSession, cancel: AbortSignal, trace: TransferTrace, moved: Moved, options: BaseTransferOptions & Pick<TransferOptions, 'onProgress' | 'concurrency'>): Job {
    const concurrency = options.concurrency ?? DEFAULT_TRANSFER_CONCURRENCY;
    const onProgress = options.onProgress;
    return {
      session,
      cancel,
      control: (file, total) => {
        let transferred = 0;
        let reportedAt = 0;
        const report = (): void => {
          reportedAt = performance.now();
          try {
            onProgress?.({ file, transferred, total });
          } catch {
            // A progress listener's failure is its own: the transfer goes on.
          }
        };
        return {
          concurrency,
          signal: cancel,
          onBytes: (bytes) => {
            transferred += bytes;
            moved.bytes += bytes;
            trace.addBytes(bytes);
            if (onProgress && performance.now() - reportedAt >= PROGRESS_INTERVAL_MS) report();
          },
          done: () => {
            moved.files++;
            if (onProgress) report();
          },
        };
      },
      sha256: (remotePath, operation) => this.#sha256(remotePath, operation, cancel, trace, options.priority ?? 0),
    };
  }

  /** `sha256sum` of a remote file, run as a command on the pool (its own slot). */
  async #sha256(remotePath: string, operation: TransferOperation, cancel: AbortSignal, trace: TransferTrace, priority: number): Promise<string> {
    const { channel } = await this.#hostPool.execute(
      { command: `sha256sum -- ${quote(remotePath)}`, stdin: undefined, maxBuffer: 64 * 1024 },
      { priority, cancel, trace: trace.context },
    );
    const match = SHA256_LINE.exec(channel.stdout.toString('utf8'));
    if (channel.exitCode !== 0 || !match) {
      const why = channel.stderr.toString('utf8').trim().split('\n').at(-1) || `exit status ${String(channel.exitCode)}`;
      throw new TransferError(`sha256sum of ${remotePath} on ${this.#hostPool.name} failed: ${why}`, { operation, poolName: this.#hostPool.name, path: remotePath });
    }
    return match[1]!;
  }

  // ---- files ----

  /**
   * Writes one remote file. Atomic: a new temporary file in the target's directory (created
   * exclusively, mode 0600 until it is complete), renamed over the target once written, its
   * mode set and, with `verify`, checked; any failure removes it, so the target is the old file
   * or the new one. Resolves with the bytes written.
   */
  async #putFile(
    job: Job,
    chunks: () => AsyncIterable<Buffer>,
    remotePath: string,
    total: number | undefined,
    options: { atomic: boolean; mode?: number | undefined; verify?: 'sha256' | undefined; preserved?: { mode: number; mtime: number } | undefined },
  ): Promise<number> {
    const { session } = job;
    const written = options.atomic ? temporaryName(remotePath) : remotePath;
    const isDirectory = (): InvalidArgumentError => new InvalidArgumentError(`${remotePath} is a remote directory; give the file's full path`);
    // The target's stat and the open go out together: one round trip per file, not two.
    const [found, opened] = await Promise.allSettled([
      statIfExists(session, remotePath),
      // Mode for a new file without `atomic` (open(2) leaves an existing file's mode alone).
      session.open(written, options.atomic ? 'wx' : 'w', options.atomic ? 0o600 : options.mode ?? options.preserved?.mode ?? DEFAULT_FILE_MODE),
    ]);
    if (opened.status === 'rejected') {
      if (found.status === 'fulfilled' && found.value?.isDirectory()) throw isDirectory();
      throw opened.reason;
    }
    const handle = opened.value;
    let handleOpen = true;
    let landed = !options.atomic;
    const hash = options.verify ? createHash('sha256') : undefined;
    const control = job.control(remotePath, total);
    try {
      if (found.status === 'rejected') throw found.reason;
      if (found.value?.isDirectory()) throw isDirectory();
      const mode = options.mode ?? options.preserved?.mode ?? (found.value ? found.value.mode & 0o7777 : DEFAULT_FILE_MODE);
      const bytes = await writePipelined(session, handle, hashed(chunks(), hash), control);
      // The attributes and the close go out together too; the server answers them in order.
      const closing: Array<Promise<void>> = [];
      if (options.atomic || options.mode !== undefined || options.preserved !== undefined) {
        const mtime = options.preserved?.mtime;
        closing.push(session.fsetstat(handle, mtime === undefined ? { mode } : { mode, atime: mtime, mtime }));
      }
      handleOpen = false;
      closing.push(session.close(handle));
      await Promise.all(closing);
      if (hash) await this.#verify(job, written, hash.digest('hex'), 'upload');
      if (options.atomic) await session.rename(written, remotePath);
      landed = true;
      control.done();
      return bytes;
    } finally {
      if (handleOpen) await session.close(handle).catch(() => {});
      // On a lost channel the temporary file stays behind (never at the target name) until
      // the host's next transfer removes it.
      if (!landed) {
        await session.unlink(written).catch((error: unknown) => {
          if (error instanceof SftpRequestError && error.status === undefined) this.#hostPool.removeLater(written);
        });
      }
    }
  }

  async #verify(job: Job, remotePath: string, expected: string, operation: TransferOperation): Promise<void> {
    const actual = await job.sha256(remotePath, operation);
    if (actual === expected) return;
    throw new VerificationError(
      `The SHA-256 of ${remotePath} on ${this.#hostPool.name} is ${actual}, not ${expected} as ${operation === 'upload' ? 'sent' : 'received'}`,
      { operation, poolName: this.#hostPool.name, path: remotePath, expected, actual },
    );
  }

  /** Reads one remote file into `sink`. Resolves with the bytes read. */
  async #getFile(job: Job, remotePath: string, stats: SftpStats, sink: Sink, options: Pick<TransferOptions, 'verify' | 'preserve'>): Promise<number> {
    const { session } = job;
    const hash = options.verify ? createHash('sha256') : undefined;
    const handle = await session.open(remotePath, 'r');
    const control = job.control(remotePath, stats.size);
    let bytes: number;
    try {
      bytes = await readPipelined(session, handle, stats.size, (chunk) => {
        hash?.update(chunk);
        return sink.write(chunk);
      }, control, sink.buffers);
    } catch (error) {
      await sink.abandon();
      throw error;
    } finally {
      await session.close(handle).catch(() => {});
    }
    try {
      if (hash) await this.#verify(job, remotePath, hash.digest('hex'), 'download');
      await sink.finish(options.preserve ? { mode: stats.mode & 0o7777, mtime: stats.mtime } : undefined);
    } catch (error) {
      await sink.abandon();
      throw error;
    }
    control.done();
    return bytes;
  }

  // ---- directories ----

  async #putTree(job: Job, localRoot: string, tree: readonly TreeEntry[], remoteRoot: string, options: TransferOptions & { atomic: boolean }): Promise<void> {
    await ensureRemoteDirectory(job.session, remoteRoot);
    for (const entry of tree) if (entry.directory) await ensureRemoteDirectory(job.session, posix.join(remoteRoot, entry.relative));
    const files = tree.filter((entry) => !entry.directory);
    await eachAtOnce(files, FILES_AT_ONCE, job.cancel, async (entry) => {
      const localPath = join(localRoot, ...entry.relative.split('/'));
      const preserved = options.preserve ? { mode: entry.mode & 0o7777, mtime: entry.mtime } : undefined;
      const remotePath = posix.join(remoteRoot, entry.relative);
      await this.#putFile(job, () => localChunks(localPath, entry.size), remotePath, entry.size, { ...options, preserved })
        .catch((error: unknown) => this.#fail(error, 'upload', remotePath));
    });
  }

  async #getTree(job: Job, remoteRoot: string, localRoot: string, options: TransferOptions): Promise<void> {
    const tree = await walkRemote(job.session, remoteRoot);
    const local = this.#localFailure('download');
    await mkdir(localRoot, { recursive: true }).catch((error: unknown) => local(error, localRoot));
    for (const entry of tree) {
      if (entry.directory) await mkdir(join(localRoot, ...entry.relative.split('/')), { recursive: true }).catch((error: unknown) => local(error, localRoot));
    }
    const files = tree.filter((entry) => !entry.directory);
    await eachAtOnce(files, FILES_AT_ONCE, job.cancel, async (entry) => {
      const remotePath = posix.join(remoteRoot, entry.relative);
      const stats = await this.#remote(job.session.stat(remotePath), 'download', remotePath);
      const sink = await fileSink(join(localRoot, ...entry.relative.split('/')), options.atomic ?? false, local);
      await this.#getFile(job, remotePath, stats, sink, options).catch((error: unknown) => this.#fail(error, 'download', remotePath));
    });
  }

  /** A failure inside a directory transfer, named after the file it was about. */
  #fail(error: unknown, operation: TransferOperation, path: string): never {
    throw transferErrorOf(error, { operation, poolName: this.#hostPool.name, path });
  }

  /** A remote request whose failure names its path. */
  #remote<T>(request: Promise<T>, operation: TransferOperation, path: string): Promise<T> {
    return request.catch((error: unknown) => {
      throw transferErrorOf(error, { operation, poolName: this.#hostPool.name, path });
    });
  }

  /** Turns a local file system error into the typed error naming the local path. */
  #localFailure(operation: TransferOperation): (error: unknown, path: string) => never {
    return (error, path) => {
      throw transferErrorOf(error, { operation, poolName: this.#hostPool.name, path, local: true });
    };
  }
}

// ---- sources and sinks ----

async function* chunksOf(source: Buffer | Readable): AsyncIterable<Buffer> {
  if (Buffer.isBuffer(source)) {
    yield source;
    return;
  }
  for await (const chunk of source) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
}

/**
 * A local file's bytes, read in pieces no larger than the file (as stat saw it): 1 MiB for each
 * of 1,000 small files kept the garbage collector busy for 15 % of a directory upload. One
 * buffer is refilled for every piece, so a chunk is valid only until the next one is asked for:
 * the upload hands each piece to `SftpSession.write`, which copies it into its request, before
 * it asks. A fresh buffer per read (a read stream) made a 1 GiB upload allocate 1 GiB, with
 * 12 % of its CPU profile in the collector (8 % with one buffer). A file that grew is still read
 * to its end.
 */
async function* localChunks(path: string, size: number): AsyncIterable<Buffer> {
  const bytes = Math.min(LOCAL_READ_BYTES, Math.max(size, MIN_LOCAL_READ_BYTES));
  const file = await openLocal(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(bytes);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, bytes, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

async function* hashed(chunks: AsyncIterable<Buffer>, hash: Hash | undefined): AsyncIterable<Buffer> {
  for await (const chunk of chunks) {
    hash?.update(chunk);
    yield chunk;
  }
}

/** Where downloaded bytes go, in order. */
interface Sink {
  /** Takes each chunk whole (copied or written out); it gives the chunk's buffer back here when done with it. */
  readonly buffers?: BufferRecycler;
  write(chunk: Buffer): Promise<void> | void;
  /** All bytes written and checked: make them final (rename, mode, mtime). */
  finish(preserve: { mode: number; mtime: number } | undefined): Promise<void>;
  /** The transfer failed: remove what was written (a temporary file), or leave the stream as it is. */
  abandon(): Promise<void>;
}

function memorySink(chunks: Buffer[]): Sink {
  const buffers = new BufferRecycler(MAX_REQUEST_BYTES);
  return {
    buffers,
    write: (chunk) => {
      chunks.push(Buffer.from(chunk));
      buffers.give(chunk);
    },
    finish: () => Promise.resolve(),
    abandon: () => Promise.resolve(),
  };
}

/** A Writable, written with its backpressure and ended at the finish (as `stream.pipeline` does). */
function streamSink(stream: Writable): Sink {
  return {
    write: (chunk) => {
      if (stream.destroyed) throw stream.errored ?? new Error('the download target stream was destroyed');
      if (stream.write(chunk)) return undefined;
      return new Promise<void>((resolve, reject) => {
        const done = (error?: Error): void => {
          stream.off('drain', done);
          stream.off('error', done);
          stream.off('close', done);
          if (error) reject(error);
          else resolve();
        };
        stream.once('drain', done).once('error', done).once('close', done);
      });
    },
    finish: () => new Promise<void>((resolve, reject) => {
      stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
    }),
    abandon: () => Promise.resolve(),
  };
}

/** A local file; atomic: written under a temporary name in its directory, renamed at the finish. */
async function fileSink(path: string, atomic: boolean, fail: (error: unknown, path: string) => never): Promise<Sink> {
  const written = atomic ? join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.sshpool-tmp`) : path;
  const buffers = new BufferRecycler(MAX_REQUEST_BYTES);
  const file = new WriteBehindFile(await openLocal(written, atomic ? 'wx' : 'w', 0o600).catch((error: unknown) => fail(error, path)), (chunk) => buffers.give(chunk));
  let open = true;
  const close = async (): Promise<void> => {
    if (!open) return;
    open = false;
    await file.close();
  };
  return {
    buffers,
    write: async (chunk) => {
      await file.write(chunk).catch((error: unknown) => fail(error, path));
    },
    finish: async (preserve) => {
      try {
        await file.flushed();
        await close();
        const current = atomic ? undefined : await stat(written).catch(() => undefined);
        // A new file gets the usual 0644 (0600 was for while it was incomplete); a replaced one keeps its mode.
        const mode = preserve?.mode ?? (current && current.mode & 0o7777) ?? DEFAULT_FILE_MODE;
        if (preserve || atomic) await chmod(written, atomic && !preserve ? await modeToKeep(path) : mode);
        if (preserve) await utimes(written, preserve.mtime, preserve.mtime);
        if (atomic) await renameLocal(written, path);
      } catch (error) {
        fail(error, path);
      }
    },
    abandon: async () => {
      await close().catch(() => {});
      if (atomic) await rm(written, { force: true }).catch(() => {});
    },
  };
}

async function modeToKeep(path: string): Promise<number> {
  const existing = await stat(path).catch(() => undefined);
  return existing ? existing.mode & 0o7777 : DEFAULT_FILE_MODE;
}

// ---- remote helpers ----

async function statIfExists(session: SftpSession, path: string): Promise<SftpStats | undefined> {
  try {
    return await session.stat(path);
  } catch (error) {
    if (error instanceof SftpRequestError && error.status === SFTP_STATUS.noSuchFile) return undefined;
    throw error;
  }
}

/** `/dir/.name.<random>.sshpool-tmp`: in the target's directory, so the rename stays on one file system. */
function temporaryName(remotePath: string): string {
  return posix.join(posix.dirname(remotePath), `.${posix.basename(remotePath)}.${randomBytes(6).toString('hex')}.sshpool-tmp`);
}

async function ensureRemoteDirectory(session: SftpSession, path: string): Promise<void> {
  try {
    await session.mkdir(path);
  } catch (error) {
    const existing = await statIfExists(session, path).catch(() => undefined);
    if (existing?.isDirectory()) return;
    throw error;
  }
}

/** Every directory and file below `root`, parents before children. Symlinks to files are followed, to directories skipped. */
async function walkRemote(session: SftpSession, root: string): Promise<TreeEntry[]> {
  const found: TreeEntry[] = [];
  const visit = async (relative: string): Promise<void> => {
    const entries = await session.readdir(relative === '' ? root : posix.join(root, relative));
    for (const { name, stats } of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (name === '.' || name === '..') continue;
      const path = relative === '' ? name : `${relative}/${name}`;
      let target = stats;
      if (stats.isSymbolicLink()) {
        target = await session.stat(posix.join(root, path)).catch(() => stats);
        if (!target.isFile()) continue;
      }
      if (target.isDirectory()) {
        found.push({ relative: path, directory: true, size: 0, mode: target.mode, mtime: target.mtime });
        await visit(path);
      } else if (target.isFile()) {
        found.push({ relative: path, directory: false, size: target.size, mode: target.mode, mtime: target.mtime });
      }
    }
  };
  await visit('');
  return found;
}

async function walkLocal(root: string): Promise<TreeEntry[]> {
  const found: TreeEntry[] = [];
  const visit = async (relative: string): Promise<void> => {
    const directory = relative === '' ? root : join(root, ...relative.split('/'));
    const entries = await readdir(directory, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      const full = join(directory, entry.name);
      if (entry.isSymbolicLink()) {
        const target = await stat(full).catch(() => undefined);
        if (target?.isFile()) found.push({ relative: path, directory: false, size: target.size, mode: target.mode, mtime: target.mtimeMs / 1000 });
        continue;
      }
      const stats = await stat(full);
      if (entry.isDirectory()) {
        found.push({ relative: path, directory: true, size: 0, mode: stats.mode, mtime: stats.mtimeMs / 1000 });
        await visit(path);
      } else if (entry.isFile()) {
        found.push({ relative: path, directory: false, size: stats.size, mode: stats.mode, mtime: stats.mtimeMs / 1000 });
      }
    }
  };
  await visit('');
  return found;
}

/** Runs `work` on every item, `limit` at once; the first failure stops new starts and is thrown once all started ones settled. */
async function eachAtOnce<T>(items: readonly T[], limit: number, cancel: AbortSignal, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (failure === undefined && !cancel.aborted && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure;
  if (cancel.aborted) throw cancel.reason;
}
