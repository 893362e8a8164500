/**
 * The first line a tracked command prints: its shell's pid, which is also its process group,
 * since sshd starts every session's shell as a session leader and the login shell `exec`s the
 * POSIX shell that prints it (posix-shell.ts), keeping its pid. Stripped from stdout before
 * anyone sees it. It is what lets a timeout or abort kill the command for root logins too:
 * OpenSSH 9.2 refuses the SSH `signal` request for root ("session signalling requires
 * privilege separation"), and for other users its `killpg` races the shell's start.
 */
const PGID_MARKER = 'sshpool-pgid ';

/** Longest first line worth waiting for before deciding it is not the report. */
export const PROCESS_GROUP_LINE_MAX = PGID_MARKER.length + 12;

/** The script line, run first by `/bin/sh`, that reports the process group. */
export const PROCESS_GROUP_REPORT = `printf '${PGID_MARKER}%d\\n' "$$"\n`;

/** The process group a first output line reports, or undefined when the line is not the report. */
export function processGroupOf(line: string): number | undefined {
  if (!line.startsWith(PGID_MARKER)) return undefined;
  const digits = line.slice(PGID_MARKER.length);
  return /^\d+$/.test(digits) ? Number(digits) : undefined;
}
