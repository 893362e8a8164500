// How a command runs under sudo. The script becomes
//   command -v sudo >/dev/null || exit 127
//   sudo -k -S -p '<prompt>' [-u user] -- /bin/sh -c '<inner>'      (with a password)
//   sudo -n [-u user] -- /bin/sh -c '<inner>'                        (without)
// and <inner> first prints a ready marker to stderr. The client writes the password only when
// the unique prompt appears, and the command's own stdin only once the marker appears, so the
// password can never become the command's input (a NOPASSWD rule or cached credentials mean no
// prompt at all). `-k` ignores cached credentials: the prompt comes exactly when expected.
import { randomBytes } from 'node:crypto';
import type { Secret } from '../core/secret.js';
import { POSIX_SHELL } from './posix-shell.js';
import { quote } from './shell-quote.js';

/** What `.sudo()` asks for. */
export interface SudoRequest {
  /** Run as this user. @default 'root' */
  readonly user?: string | undefined;
  readonly password?: Secret | undefined;
}

/** The per-command words the client watches for: unguessable, so output cannot fake them. */
export interface SudoHandshakeSpec {
  readonly prompt: string;
  readonly ready: string;
  readonly password: Secret | undefined;
}

/** Exit status of the script when the server has no sudo (the shell's own "not found" status). */
export const SUDO_MISSING_STATUS = 127;

/**
 * The inner script runs the command in the background and waits, so that a TERM relayed by
 * sudo (the client's kill, sent as TERM first: a user cannot signal sudo's root child)
 * reaches the trap at once, which kills the whole process group as the sudo user can. The
 * command is a subshell evaluating `$1`, with no positional parameters left (one fork, no second shell to start); file descriptor
 * 3 carries stdin past the rule that background jobs read /dev/null.
 */
function innerScript(ready: string): string {
  return [
    `printf '%s\\n' ${quote(ready)} >&2`,
    "trap 'kill -s KILL 0' TERM HUP INT",
    'exec 3<&0',
    '(sshpool_script=$1; shift; eval "$sshpool_script") <&3 3<&- &',
    'exec 3<&-',
    'wait $!',
  ].join('\n');
}

/** `script` wrapped to run under sudo, and what the client must watch for. */
export function sudoScript(script: string, request: SudoRequest): { script: string; handshake: SudoHandshakeSpec } {
  const nonce = randomBytes(12).toString('hex');
  const prompt = `[sshpool-sudo-${nonce}]`;
  const ready = `sshpool-sudo-ready-${nonce}`;
  const user = request.user === undefined ? '' : ` -u ${quote(request.user)}`;
  const mode = request.password === undefined ? '-n' : `-k -S -p ${quote(prompt)}`;
  const text = [
    `command -v sudo >/dev/null 2>&1 || exit ${SUDO_MISSING_STATUS}`,
    `sudo ${mode}${user} -- ${POSIX_SHELL} -c ${quote(innerScript(ready))} sh ${quote(script)}`,
  ].join('\n');
  return { script: text, handshake: { prompt, ready, password: request.password } };
}
