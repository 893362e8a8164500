// The checks ssh makes of a directive's arguments as it reads the file, whether or not the
// directive applies to the destination (readconf.c refuses the whole file for one bad value in
// any block): for every directive sshpool acts on, the same values are refused here.
import { SSHConfigError } from '../../core/errors.js';
import type { ConfigEntry } from './config-line.js';

/** Directives that take exactly one argument (readconf.c parse_string, parse_flag, ...). */
const ONE_ARGUMENT = new Set([
  'hostname', 'user', 'port', 'identitiesonly', 'identityagent', 'connecttimeout', 'serveraliveinterval', 'serveralivecountmax',
  'stricthostkeychecking', 'hostkeyalias', 'forwardagent', 'identityfile', 'revokedhostkeys', 'ignoreunknown', 'canonicalizehostname',
]);

/** SSH_MAX_HOSTS_FILES */
const MAX_HOSTS_FILES = 32;

const YES_NO = /^(yes|no|true|false)$/i;

/** Throws SSHConfigError, with file and line, for a value ssh would refuse. */
export function validateDirective(entry: ConfigEntry): void {
  const { keyword, args } = entry;
  const fail = (what: string): never => {
    throw new SSHConfigError(`${entry.name} ${what}`, entry.file, entry.line);
  };
  if (keyword === 'host' || keyword === 'include' || keyword === 'userknownhostsfile' || keyword === 'globalknownhostsfile') {
    if (args.some((arg) => arg === '')) fail('has an empty argument');
  }
  if (ONE_ARGUMENT.has(keyword)) {
    if (args.length === 0 || args[0] === '') fail('needs a value');
    if (args.length > 1) fail('has extra arguments at end of line (quote values with spaces)');
  }
  const value = args[0] ?? '';
  const bad = (what: string): never => fail(`${what}, got ${JSON.stringify(value)}`);
  switch (keyword) {
    case 'userknownhostsfile':
    case 'globalknownhostsfile':
      if (args.some((arg) => arg.toLowerCase() === 'none') && args.length > 1) fail('"none" argument must appear alone');
      if (args.length > MAX_HOSTS_FILES) fail(`takes at most ${MAX_HOSTS_FILES} files`);
      break;
    case 'port':
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65_535) bad('must be a port number from 1 to 65535');
      break;
    case 'connecttimeout':
      if (value !== 'none' && sshTimeSeconds(value) === undefined) bad('must be a time (seconds, or like 1m30s) or none');
      break;
    case 'serveraliveinterval':
      if (sshTimeSeconds(value) === undefined) bad('must be a time (seconds, or like 1m30s)');
      break;
    case 'serveralivecountmax':
      if (!/^\d+$/.test(value)) bad('must be a whole number');
      break;
    case 'identitiesonly':
      if (!YES_NO.test(value)) bad('must be yes or no');
      break;
    case 'stricthostkeychecking':
      if (!/^(yes|no|true|false|ask|off|accept-new)$/i.test(value)) bad('must be yes, no, ask, off or accept-new');
      break;
    case 'canonicalizehostname':
      if (!/^(yes|no|true|false|always|none)$/i.test(value)) bad('must be yes, no or always');
      break;
    case 'identityagent':
    case 'forwardagent':
      if (value.startsWith('$') && !value.startsWith('${') && !/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(value)) bad('names an invalid environment variable');
      break;
  }
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** misc.c convtime: `90`, `1m30s`, `2h`; undefined where ssh says "invalid time value". */
export function sshTimeSeconds(value: string): number | undefined {
  if (!/^(\d+[smhdw]?)+$/i.test(value)) return undefined;
  let total = 0;
  for (const [, digits, unit] of value.matchAll(/(\d+)([smhdw]?)/gi)) total += Number(digits) * UNIT_SECONDS[unit!.toLowerCase()]!;
  return total <= 2_147_483_647 ? total : undefined;
}
