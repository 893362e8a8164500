import { InvalidArgumentError } from '../core/errors.js';
import { POSIX_SHELL_WRAPPER_BYTES, quotingGrowth } from './posix-shell.js';
import { checkEncodable } from './shell-quote.js';

/**
 * Longest command text, in UTF-8 bytes once quoted for the login shell (each `'` and `\`
 * counts four), that sshpool accepts: 128 KiB less the terminating NUL and what sshpool wraps
 * around it (`exec /bin/sh -c '…'` and the process-group report: posix-shell.ts). sshd runs a
 * command as one argument of `$SHELL -c`, and Linux refuses any single argument of 128 KiB or
 * more (MAX_ARG_STRLEN); past 256 KiB OpenSSH drops the whole connection instead ("Bad packet
 * length"), taking every other command on it down too.
 */
export const MAX_COMMAND_BYTES = 128 * 1024 - 1 - POSIX_SHELL_WRAPPER_BYTES;

/**
 * Refuses, before anything is sent, command text the server cannot run as given: a NUL byte,
 * a lone surrogate, or more than `MAX_COMMAND_BYTES` once quoted.
 */
export function checkCommandText(text: string): void {
  checkEncodable(text, 'the command text');
  const bytes = Buffer.byteLength(text, 'utf8');
  const quoted = bytes + quotingGrowth(text, bytes, MAX_COMMAND_BYTES);
  if (quoted > MAX_COMMAND_BYTES) {
    const size = quoted === bytes ? `${bytes} bytes` : `${quoted} bytes once quoted (${bytes} bytes, each ' and \\ counting four)`;
    throw new InvalidArgumentError(
      `the command text is ${size}, over the limit of ${MAX_COMMAND_BYTES} bytes (128 KiB, the longest single argument Linux passes to the remote shell, less what sshpool adds); ` +
        'send large data through .stdin() instead, e.g. ' +
        "ssh`cat > ${file}`.stdin(data) or ssh`sh -s`.stdin(script)",
    );
  }
}
