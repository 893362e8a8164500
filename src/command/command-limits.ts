import { InvalidArgumentError } from '../core/errors.js';
import { PROCESS_GROUP_REPORT_BYTES } from './process-group-marker.js';
import { checkEncodable } from './shell-quote.js';

/**
 * Longest command text, in UTF-8 bytes, that sshpool accepts: 128 KiB less the terminating NUL
 * and the process-group report sshpool puts in front (see process-group-marker.ts). sshd runs a command
 * as one argument of `$SHELL -c`, and Linux refuses any single argument of 128 KiB or more
 * (MAX_ARG_STRLEN); past 256 KiB OpenSSH drops the whole connection instead ("Bad packet
 * length"), taking every other command on it down too.
 */
export const MAX_COMMAND_BYTES = 128 * 1024 - 1 - PROCESS_GROUP_REPORT_BYTES;

/**
 * Refuses, before anything is sent, command text the server cannot run as given: a NUL byte,
 * a lone surrogate, or more than `MAX_COMMAND_BYTES`.
 */
export function checkCommandText(text: string): void {
  checkEncodable(text, 'the command text');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_COMMAND_BYTES) {
    throw new InvalidArgumentError(
      `the command text is ${bytes} bytes, over the limit of ${MAX_COMMAND_BYTES} bytes (128 KiB, the longest single argument Linux passes to the remote shell, less what sshpool adds); ` +
        'send large data through .stdin() instead, e.g. ' +
        "ssh`cat > ${file}`.stdin(data) or ssh`sh -s`.stdin(script)",
    );
  }
}
