// sshd runs a command as `<login shell> -c <text>`, and the login shell can be anything:
// bash, dash, zsh, fish. sshpool's quoting is POSIX, so every command is sent as
//   exec /bin/sh -c '<script>'
// which every login shell reads the same way, and the script then runs under a POSIX shell.
import { PROCESS_GROUP_REPORT } from './process-group-marker.js';

/** The shell every command runs under, whatever the login shell. */
export const POSIX_SHELL = '/bin/sh';

const PREFIX = `exec ${POSIX_SHELL} -c '`;
const SUFFIX = "'";

// Quote and backslash close the quoted word, stand escaped outside it, and reopen it.
const SPECIAL = /['\\]/g;

/**
 * The inside of a single-quoted word that POSIX shells (bash, dash, zsh, with `RC_QUOTES` too) and fish all read back as
 * `text`. POSIX shells take nothing in single quotes as special, but fish reads `\'` and
 * `\\` there as escapes (so a value ending in `\` would swallow its closing quote): quotes and
 * backslashes are therefore never left inside the quotes. Each stands escaped between two
 * quoted pieces (`'\''`, `'\\'`), which means the same in all of them. A closing quote is only
 * ever followed by a backslash, so zsh's RC_QUOTES (`''` as a quote) cannot apply either.
 */
export function quotedForAnyShell(text: string): string {
  // Most scripts have neither character: two scans cost less than a global regex replace.
  if (!text.includes("'") && !text.includes('\\')) return text;
  return text.replace(SPECIAL, "'\\$&'");
}

// Quoted once: every cancellable command starts with it.
const REPORT_PREFIX = PREFIX + quotedForAnyShell(PROCESS_GROUP_REPORT);

/**
 * The text sent for `script`: the login shell replaces itself (`exec`, so the pid and process
 * group stay the session leader's) with `/bin/sh -c script`. `reportProcessGroup`: the script
 * first prints the process-group report (process-group-marker.ts).
 */
export function inPosixShell(script: string, reportProcessGroup = false): string {
  return (reportProcessGroup ? REPORT_PREFIX : PREFIX) + quotedForAnyShell(script) + SUFFIX;
}

/** Most bytes `inPosixShell` adds to any script besides its quoting: the wrapper and the report. */
export const POSIX_SHELL_WRAPPER_BYTES = REPORT_PREFIX.length + SUFFIX.length;

/**
 * Bytes the quoting adds for `text`: three for each quote or backslash. Only counted when
 * `bytes` (the UTF-8 length of `text`) could reach `limit` with them: never for short text.
 */
export function quotingGrowth(text: string, bytes: number, limit: number): number {
  if (bytes * 4 <= limit) return 0;
  let specials = 0;
  for (let i = text.indexOf("'"); i !== -1; i = text.indexOf("'", i + 1)) specials++;
  for (let i = text.indexOf('\\'); i !== -1; i = text.indexOf('\\', i + 1)) specials++;
  return specials * 3;
}
