import type { Duplex } from 'node:stream';

/**
 * The banner must come within this many lines, as OpenSSH's client requires
 * (SSH_MAX_PRE_BANNER_LINES): at most 1,023 lines before it.
 */
export const MAX_PRE_BANNER_LINES = 1024;
/** Longest line before the banner, in bytes (OpenSSH's SSH_MAX_BANNER_LEN). */
export const MAX_PRE_BANNER_LINE_BYTES = 8192;

const S = 0x53;
const H = 0x48;
const DASH = 0x2d;
const LF = 0x0a;
const BANNER_PREFIX = [S, S, H, DASH];

/**
 * Watches what a server sends before its SSH banner and calls `fail` once it goes past what
 * `ssh` accepts: no banner within the first 1,024 lines, or a line over 8 KiB. ssh2 caps neither across reads
 * (it counts only within the first and the latest chunk), so a server trickling lines held a
 * connect open until its timeout. Stops watching at the banner's first four bytes; returns a
 * function that stops it sooner.
 */
export function guardPreBanner(socket: Duplex, fail: (why: string) => void): () => void {
  let lines = 0;
  let lineBytes = 0;
  // How many bytes of the current line matched `SSH-` so far; -1 once it cannot be the banner.
  let matched = 0;
  const stop = (): void => {
    socket.off('data', onData);
  };
  const onData = (chunk: Buffer): void => {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF) {
        if (++lines >= MAX_PRE_BANNER_LINES) {
          stop();
          fail(`the server sent no SSH banner in its first ${MAX_PRE_BANNER_LINES} lines`);
          return;
        }
        lineBytes = 0;
        matched = 0;
        continue;
      }
      if (matched >= 0) {
        matched = byte === BANNER_PREFIX[matched] ? matched + 1 : -1;
        if (matched === BANNER_PREFIX.length) {
          stop();
          return;
        }
      }
      if (++lineBytes > MAX_PRE_BANNER_LINE_BYTES) {
        stop();
        fail(`the server sent a line longer than ${MAX_PRE_BANNER_LINE_BYTES} bytes before its SSH banner`);
        return;
      }
    }
  };
  socket.on('data', onData);
  return stop;
}
