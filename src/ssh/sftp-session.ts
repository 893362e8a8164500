import type { FileEntryWithStats, InputAttributes, OpenMode, SFTPWrapper, Stats } from 'ssh2';
import { windowKeeper } from './channel-window.js';
import { sendWriteRequest, writeRequestBytes, writeRequestsFit } from './sftp-write-request.js';

/**
 * Bytes per read or write request. OpenSSH's sftp-server takes up to 255 KiB, but within
 * ssh2's 2 MiB channel window 64 KiB requests keep the server busier: on a 50 ms round trip,
 * 32 MiB uploads took 2.1-2.8 s with 64 KiB requests and 3.1-3.5 s with 255 KiB (BENCHMARKS.md).
 */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Handle bytes the reused write request has room for (OpenSSH's are 4); a longer write than `MAX_REQUEST_BYTES` goes through ssh2's `write`. */
const REUSED_WRITE_HANDLE_BYTES = 256;

/** SFTP status codes (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks). */
export const SFTP_STATUS = { eof: 1, noSuchFile: 2, permissionDenied: 3, failure: 4, noConnection: 6, connectionLost: 7 } as const;

/** A failed SFTP request: `status` is the server's status code, undefined when the channel went away. */
export class SftpRequestError extends Error {
  override readonly name = 'SftpRequestError';
  readonly status: number | undefined;

  constructor(message: string, status: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/** Raised by `openSftp` when the server has no SFTP subsystem (no `Subsystem sftp` in sshd_config). */
export class SftpSubsystemUnavailable extends Error {
  override readonly name = 'SftpSubsystemUnavailable';
}

/** An open remote file. */
export type SftpHandle = Buffer;

/** One entry of a remote directory listing (its attributes are the entry's own: symlinks are not followed). */
export interface SftpDirEntry {
  readonly name: string;
  readonly stats: Stats;
}

export type SftpStats = Stats;

function requestError(error: Error & { code?: unknown }): SftpRequestError {
  const status = typeof error.code === 'number' ? error.code : undefined;
  return new SftpRequestError(error.message, status, { cause: error });
}

/**
 * One SFTP subsystem channel, as promises: every request settles, with `SftpRequestError` when
 * the server says no or the channel closed under it (ssh2 fails every outstanding request then).
 * `closed` settles when the channel is gone; the server closes every handle it held with it.
 */
export class SftpSession {
  readonly #sftp: SFTPWrapper;
  readonly closed: Promise<void>;
  #isClosed = false;
  /** `end()` was called: no request is sent any more, though the server's close may still be on its way. */
  #isEnded = false;
  readonly #onEnded: Array<() => void> = [];
  /** Rejecters of the requests not answered yet, failed when the channel closes. */
  readonly #outstanding = new Set<(error: Error) => void>();
  /** `performance.now()` of the last answer (or of the last request sent while none was outstanding). */
  #lastAnswerAt = performance.now();
  /** Whether write requests can be built in `#writeScratch` (see sftp-write-request.ts). */
  readonly #reusesWrites: boolean;
  #writeScratch: Buffer | undefined;

  constructor(sftp: SFTPWrapper) {
    this.#sftp = sftp;
    this.#reusesWrites = writeRequestsFit(sftp);
    sftp.on('error', () => {});
    keepWindowOpen(sftp);
    this.closed = new Promise((resolve) => {
      sftp.once('close', () => {
        this.#isClosed = true;
        for (const fail of [...this.#outstanding]) fail(new SftpRequestError('the SFTP channel closed', undefined));
        resolve();
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** True once `end()` was called or the channel closed: the session takes no more requests. */
  get isEnded(): boolean {
    return this.#isEnded || this.#isClosed;
  }

  /** Calls `listener` once, when `end()` is first called (not when the server closes the channel). */
  onEnded(listener: () => void): void {
    this.#onEnded.push(listener);
  }

  /** Bytes one read request may ask for (the server's `limits@openssh.com`, or ssh2's default). */
  get maxReadLength(): number {
    return (this.#sftp as unknown as { _maxReadLen?: number })._maxReadLen ?? 32 * 1024;
  }

  /** Bytes one write request may carry. */
  get maxWriteLength(): number {
    return (this.#sftp as unknown as { _maxWriteLen?: number })._maxWriteLen ?? 32 * 1024;
  }

  /** How long requests have been waiting with no answer from the server; 0 when none waits. */
  get silentForMs(): number {
    return this.#outstanding.size === 0 ? 0 : performance.now() - this.#lastAnswerAt;
  }

  /**
   * Closes the channel: the server's sftp-server exits and closes every handle still open.
   * Requests still unanswered fail at once, and later ones without being sent: a frozen server
   * never answers the close either, and the caller must not wait for it (the connection's
   * keepalive ends that). `closed` still waits for the server's close, which frees the session.
   */
  end(): void {
    if (this.isEnded) return;
    this.#isEnded = true;
    try {
      this.#sftp.end();
    } catch {
      // The connection is already going: the channel goes with it.
    }
    for (const fail of [...this.#outstanding]) fail(new SftpRequestError('the SFTP channel was ended', undefined));
    for (const listener of this.#onEnded.splice(0)) listener();
  }

  open(path: string, flags: OpenMode, mode?: number): Promise<SftpHandle> {
    const attributes: InputAttributes = mode === undefined ? {} : { mode };
    return this.#call<SftpHandle>((done) => this.#sftp.open(path, flags, attributes, done));
  }

  close(handle: SftpHandle): Promise<void> {
    return this.#call<void>((done) => this.#sftp.close(handle, (error) => done(error)));
  }

  /**
   * Writes `data` at `position`; ssh2 splits it into requests the server accepts. `data` no
   * longer than `maxWriteLength` is copied into its one request before this returns, so the
   * caller may reuse it at once (uploads refill one buffer, in pieces of at most that size);
   * longer data is read again as each part is answered, and must be left alone until then.
   */
  write(handle: SftpHandle, data: Buffer, position: number): Promise<void> {
    return this.#call<void>((done) => {
      if (this.#reusesWrites) {
        this.#writeScratch ??= Buffer.allocUnsafeSlow(writeRequestBytes(REUSED_WRITE_HANDLE_BYTES, MAX_REQUEST_BYTES));
        if (sendWriteRequest(this.#sftp, this.#writeScratch, handle, data, position, done)) return;
      }
      this.#sftp.write(handle, data, 0, data.length, position, (error) => done(error));
    });
  }

  /**
   * Reads up to `length` bytes at `position`; an empty buffer at the end of the file. `into`,
   * at least `length` long, receives them instead of a new buffer.
   */
  read(handle: SftpHandle, length: number, position: number, into?: Buffer): Promise<Buffer> {
    if (this.isEnded) return Promise.reject(new SftpRequestError('the SFTP channel is closed', undefined));
    const buffer = into && into.length >= length ? into : Buffer.allocUnsafe(length);
    return this.#whileOpen(new Promise((resolve, reject) => {
      try {
        this.#sftp.read(handle, buffer, 0, length, position, (error, bytesRead) => {
          if (!error) resolve(buffer.subarray(0, bytesRead));
          else if ((error as Error & { code?: unknown }).code === SFTP_STATUS.eof) resolve(buffer.subarray(0, 0));
          else reject(requestError(error));
        });
      } catch (error) {
        reject(requestError(error as Error));
      }
    }));
  }

  fstat(handle: SftpHandle): Promise<SftpStats> {
    return this.#call<SftpStats>((done) => this.#sftp.fstat(handle, done));
  }

  stat(path: string): Promise<SftpStats> {
    return this.#call<SftpStats>((done) => this.#sftp.stat(path, done));
  }

  lstat(path: string): Promise<SftpStats> {
    return this.#call<SftpStats>((done) => this.#sftp.lstat(path, done));
  }

  fsetstat(handle: SftpHandle, attributes: InputAttributes): Promise<void> {
    return this.#call<void>((done) => this.#sftp.fsetstat(handle, attributes, (error) => done(error)));
  }

  mkdir(path: string, mode?: number): Promise<void> {
    const attributes: InputAttributes = mode === undefined ? {} : { mode };
    return this.#call<void>((done) => this.#sftp.mkdir(path, attributes, (error) => done(error)));
  }

  readdir(path: string): Promise<SftpDirEntry[]> {
    return this.#call<FileEntryWithStats[]>((done) => this.#sftp.readdir(path, done)).then((entries) =>
      entries.map((entry) => ({ name: entry.filename, stats: entry.attrs as Stats })));
  }

  unlink(path: string): Promise<void> {
    return this.#call<void>((done) => this.#sftp.unlink(path, (error) => done(error)));
  }

  /**
   * Renames over an existing target in one step where the server offers it
   * (`posix-rename@openssh.com`, as `rename(2)`); plain SFTP rename refuses an existing target.
   */
  rename(from: string, to: string): Promise<void> {
    const sftp = this.#sftp as SFTPWrapper & { _extensions?: Record<string, string> };
    if (sftp._extensions?.['posix-rename@openssh.com'] !== undefined) {
      return this.#call<void>((done) => sftp.ext_openssh_rename(from, to, (error) => done(error)));
    }
    return this.#call<void>((done) => sftp.rename(from, to, (error) => done(error)));
  }

  /**
   * A request that settles even when the channel closes under it: ssh2 fails the requests it
   * had sent, but silently drops one made once the channel is no longer open.
   */
  #whileOpen<T>(request: Promise<T>): Promise<T> {
    if (this.isEnded) {
      request.catch(() => {});
      return Promise.reject(new SftpRequestError('the SFTP channel is closed', undefined));
    }
    return new Promise<T>((resolve, reject) => {
      const fail = (error: Error): void => {
        this.#outstanding.delete(fail);
        this.#lastAnswerAt = performance.now();
        reject(error);
      };
      if (this.#outstanding.size === 0) this.#lastAnswerAt = performance.now();
      this.#outstanding.add(fail);
      request.then((value) => {
        this.#outstanding.delete(fail);
        this.#lastAnswerAt = performance.now();
        resolve(value);
      }, fail);
    });
  }

  #call<T>(start: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    if (this.isEnded) return Promise.reject(new SftpRequestError('the SFTP channel is closed', undefined));
    return this.#whileOpen(new Promise<T>((resolve, reject) => {
      try {
        start((error, value) => {
          if (error) reject(requestError(error));
          else resolve(value as T);
        });
      } catch (error) {
        // ssh2 throws synchronously once the channel is no longer writable.
        reject(new SftpRequestError((error as Error).message, undefined, { cause: error }));
      }
    }));
  }
}

/**
 * Keeps the SFTP channel's receive window at `RECEIVE_WINDOW_BYTES`, as a command's is: ssh2's
 * own 2 MiB, topped up only at half, capped downloads over a 50 ms round trip near half of what
 * OpenSSH's `sftp` moved (17 against 30 MiB/s). ssh2 hands each packet of the channel to the
 * SFTP object's `push`, which parses it at once, so nothing waits unread; the answers held are
 * bounded by the requests in flight. Another shape of ssh2's object leaves its policy alone.
 */
function keepWindowOpen(sftp: SFTPWrapper): void {
  const parser = sftp as unknown as { push?: (data: Buffer | null) => unknown };
  const push = parser.push;
  if (typeof push !== 'function') return;
  const topUp = windowKeeper(sftp, () => true, () => 0);
  parser.push = function pushThenTopUp(this: unknown, data: Buffer | null): unknown {
    const result = push.call(this, data);
    if (data !== null) topUp();
    return result;
  };
}
