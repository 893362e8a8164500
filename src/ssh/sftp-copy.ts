import { MAX_REQUEST_BYTES } from './sftp-session.js';
import type { SftpHandle, SftpSession } from './sftp-session.js';

/** How a pipelined copy runs: requests in flight, when to stop, where acknowledged bytes go. */
export interface CopyControl {
  /** SFTP requests in flight at once (each up to the server's read or write length). */
  readonly concurrency: number;
  /** Stops issuing requests; the copy rejects with the signal's reason once in-flight ones settled. */
  readonly signal: AbortSignal;
  /** Bytes the server acknowledged (upload) or sent (download), as they arrive. */
  readonly onBytes: (bytes: number) => void;
}

/**
 * Waits for one promise at a time, or for the signal, whichever comes first: a hung server must
 * not hold an abort. One listener on the signal serves every wait. Racing each answer against
 * one long-lived abort promise instead left a reaction on that promise per answer, and each
 * reaction kept its answer reachable: a download held every chunk it had read until it ended
 * (558 MiB of buffers live at the end of a 512 MiB download, and the collector's work with it).
 */
function abortableWaits(signal: AbortSignal): { until: <T>(promise: Promise<T>) => Promise<T>; stop: () => void } {
  let interrupt: ((reason: unknown) => void) | undefined;
  const onAbort = (): void => interrupt?.(signal.reason);
  signal.addEventListener('abort', onAbort);
  return {
    until<T>(promise: Promise<T>): Promise<T> {
      if (signal.aborted) {
        // Not waited for: its failure, if it fails, is no one's unhandled rejection.
        promise.catch(() => {});
        return Promise.reject(signal.reason as Error);
      }
      return new Promise<T>((resolve, reject) => {
        interrupt = reject;
        promise.then(resolve, reject);
      });
    },
    stop: () => {
      interrupt = undefined;
      signal.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Writes `source` to `handle` from offset 0 with up to `concurrency` write requests in flight
 * (the lever that makes SFTP as fast as the window allows: one request at a time waits a round
 * trip per 32 KiB). Resolves with the bytes written once the server acknowledged every write.
 * On failure or abort, no request is left in flight when it rejects, unless the server stopped
 * answering: the caller then ends the channel, which fails them.
 */
export async function writePipelined(session: SftpSession, handle: SftpHandle, source: AsyncIterable<Buffer>, control: CopyControl): Promise<number> {
  // Pieces within maxWriteLength are copied by session.write before it returns: a chunk of
  // `source` is done with before the next is asked for, so a source may refill one buffer.
  const requestBytes = Math.min(MAX_REQUEST_BYTES, session.maxWriteLength);
  const inFlight = new Set<Promise<void>>();
  // One waiter, woken by any write that settles or by the abort: racing every request in
  // flight at each wait added a reaction to each of them, thousands per file.
  let wake: (() => void) | undefined;
  const wakeUp = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const nextSettled = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  control.signal.addEventListener('abort', wakeUp);
  let failure: unknown;
  let position = 0;
  try {
    for await (const data of source) {
      for (let offset = 0; offset < data.length; offset += requestBytes) {
        if (failure !== undefined) throw failure;
        if (control.signal.aborted) throw control.signal.reason;
        const piece = data.subarray(offset, offset + requestBytes);
        const at = position;
        position += piece.length;
        const write: Promise<void> = session.write(handle, piece, at).then(
          () => {
            inFlight.delete(write);
            control.onBytes(piece.length);
            wakeUp();
          },
          (error: unknown) => {
            inFlight.delete(write);
            failure ??= error;
            wakeUp();
          },
        );
        inFlight.add(write);
        while (inFlight.size >= control.concurrency && !control.signal.aborted) await nextSettled();
      }
    }
    while (inFlight.size > 0 && !control.signal.aborted) await nextSettled();
    if (control.signal.aborted) throw control.signal.reason;
    if (failure !== undefined) throw failure;
    return position;
  } finally {
    control.signal.removeEventListener('abort', wakeUp);
    await Promise.allSettled(inFlight);
  }
}

/** Where a download's read requests get their buffers: the sink gives them back once it is done with a chunk. */
export interface ReadBuffers {
  take(length: number): Buffer;
}

/**
 * Reads `handle` from offset 0 and hands the bytes to `sink` in order, with up to `concurrency`
 * read requests in flight up to `size`, then reads on one at a time until the server reports
 * the end (a file that grew, or one whose size is not known, such as /proc files). A short
 * answer is completed before the bytes after it are handed on. Resolves with the bytes read.
 */
export async function readPipelined(
  session: SftpSession,
  handle: SftpHandle,
  size: number,
  sink: (chunk: Buffer) => Promise<void> | void,
  control: CopyControl,
  buffers?: ReadBuffers,
): Promise<number> {
  const read = (length: number, at: number): Promise<Buffer> => session.read(handle, length, at, buffers?.take(length));
  const requestBytes = Math.min(MAX_REQUEST_BYTES, session.maxReadLength);
  const queue: Array<{ readonly at: number; readonly length: number; readonly answer: Promise<Buffer | Error> }> = [];
  const aborted = abortableWaits(control.signal);
  let issued = 0;
  let total = 0;
  const issue = (): void => {
    while (queue.length < control.concurrency && issued < size) {
      const at = issued;
      const length = Math.min(requestBytes, size - issued);
      issued += length;
      queue.push({ at, length, answer: read(length, at).catch((error: unknown) => error as Error) });
    }
  };
  const take = async (chunk: Buffer): Promise<void> => {
    await sink(chunk);
    total += chunk.length;
    control.onBytes(chunk.length);
  };
  try {
    issue();
    while (queue.length > 0) {
      const head = queue.shift()!;
      const answer = await aborted.until(head.answer);
      if (answer instanceof Error) throw answer;
      if (answer.length === 0) return total;
      await take(answer);
      // A short answer inside the file: the rest of its range comes before anything queued after it.
      for (let at = head.at + answer.length, rest = head.length - answer.length; rest > 0;) {
        const more = await aborted.until(read(rest, at));
        if (more.length === 0) return total;
        await take(more);
        at += more.length;
        rest -= more.length;
      }
      if (control.signal.aborted) throw control.signal.reason;
      issue();
    }
    for (;;) {
      if (control.signal.aborted) throw control.signal.reason;
      const more = await aborted.until(read(requestBytes, total));
      if (more.length === 0) return total;
      await take(more);
    }
  } finally {
    aborted.stop();
    await Promise.allSettled(queue.map((request) => request.answer));
  }
}
