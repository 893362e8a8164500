// Evaluates an OpenSSH client config for one destination the way ssh(1) 9.x does: directives
// apply in file order, the first value obtained for a keyword wins (IdentityFile accumulates),
// `Host` matches the name as given, `Match host` the name after `HostName`, `Match final`
// triggers a second pass with the final host name. Values stay as written here; tokens are
// expanded by the caller once user and port are known.
import { SSHConfigError } from '../../core/errors.js';
import type { ConfigEntry, ConfigFile } from './config-file.js';
import { strdelim } from './config-line.js';
import { matchHostLine, matchPatternList } from './ssh-pattern.js';
import { sshTimeSeconds } from './validate-directive.js';

/** A directive that applied to the destination but that sshpool does not act on. */
export interface SSHConfigNotice {
  readonly file: string;
  readonly line: number;
  /** Keyword as written. */
  readonly keyword: string;
  /**
   * `unsupported`: it changes how ssh connects, sshpool ignores it, the connection may differ;
   * `no-effect`: it only concerns interactive use or ssh's own multiplexing.
   */
  readonly kind: 'unsupported' | 'no-effect';
  readonly message: string;
}

/** What a config says about one destination. Undefined: the config does not set it. */
export interface ResolvedSSHConfig {
  /** The name that was looked up. */
  readonly host: string;
  /** `HostName` with `%h` expanded, lowercased (as ssh does), or the name looked up. */
  readonly hostname: string;
  readonly user: string | undefined;
  readonly port: number | undefined;
  /** Every `IdentityFile` that applied, in order, as written. */
  readonly identityFiles: readonly string[];
  readonly identitiesOnly: boolean | undefined;
  /** As written: a path, `SSH_AUTH_SOCK`, `$VAR` or `none`. */
  readonly identityAgent: string | undefined;
  /** As written; `none` is reported as undefined. */
  readonly proxyJump: string | undefined;
  /** Seconds; 0 means no limit in ssh. */
  readonly connectTimeout: number | undefined;
  readonly serverAliveInterval: number | undefined;
  readonly serverAliveCountMax: number | undefined;
  readonly strictHostKeyChecking: 'yes' | 'no' | 'ask' | 'accept-new' | undefined;
  readonly userKnownHostsFiles: readonly string[] | undefined;
  readonly globalKnownHostsFiles: readonly string[] | undefined;
  readonly hostKeyAlias: string | undefined;
  /** As written; `none` is reported as undefined. */
  readonly revokedHostKeys: string | undefined;
  /** As written: `yes`, `no`, a socket path or `$VAR`. */
  readonly forwardAgent: string | undefined;
  /** Where each value came from, by lowercased keyword: `file line N`. */
  readonly origins: ReadonlyMap<string, string>;
  readonly notices: readonly SSHConfigNotice[];
}

export interface ResolveContext {
  /** The destination as the caller named it (an alias or a host name). */
  readonly host: string;
  /** A user given explicitly (like `ssh -l`): wins over `User` and is what `Match user` sees. */
  readonly user?: string | undefined;
  /** A port given explicitly (like `ssh -p`): wins over `Port`. */
  readonly port?: number | undefined;
  /** Local user name, for `Match localuser` and `Match user` when no user is set. */
  readonly localUser: string;
}

// Directives sshpool acts on, besides Host, Match and Include.
const SINGLE_VALUED = new Set([
  'hostname', 'user', 'port', 'identitiesonly', 'identityagent', 'connecttimeout', 'serveraliveinterval',
  'serveralivecountmax', 'stricthostkeychecking', 'userknownhostsfile', 'globalknownhostsfile', 'hostkeyalias', 'forwardagent',
  'revokedhostkeys', 'ignoreunknown',
]);

// Only matter to interactive sessions, terminals, forwardings or ssh's own ControlMaster
// multiplexing (which the pool replaces): reported, never acted on.
const NO_EFFECT = new Set([
  'addkeystoagent', 'batchmode', 'checkhostip', 'controlmaster', 'controlpath', 'controlpersist', 'enableescapecommandline',
  'escapechar', 'exitonforwardfailure', 'forkafterauthentication', 'forwardx11', 'forwardx11timeout', 'forwardx11trusted',
  'gatewayports', 'hashknownhosts', 'ignoreunknown', 'localcommand', 'loglevel', 'logverbose', 'nohostauthenticationforlocalhost',
  'numberofpasswordprompts', 'permitlocalcommand', 'requesttty', 'sessiontype', 'stdinnull', 'streamlocalbindmask',
  'streamlocalbindunlink', 'syslogfacility', 'tcpkeepalive', 'updatehostkeys', 'usekeychain', 'visualhostkey', 'xauthlocation',
  'localforward', 'remoteforward', 'dynamicforward', 'clearallforwardings', 'obscurekeystroketiming', 'channeltimeout', 'tag',
]);

// Set the remote session's environment, not the connection: a command's environment comes
// from `.env()`. Reported, never acted on.
const SESSION_ENVIRONMENT = new Set(['sendenv', 'setenv']);

// Change how ssh would connect; sshpool cannot follow them and refuses rather than connecting
// somewhere else or some other way than the user configured.
const REFUSED: Record<string, string> = {
  proxycommand: 'ProxyCommand is not supported: use ProxyJump (or the target\'s `jump` option) instead',
  canonicalizehostname: 'CanonicalizeHostname is not supported: write the full name in HostName',
  // ssh fails closed on a KnownHostsCommand it cannot run; sshpool does not run commands from
  // config files, and trusting the files alone would accept keys the command would refuse.
  knownhostscommand: 'KnownHostsCommand is not supported: sshpool does not run commands from config files, and will not verify host keys without it; list the keys in a known_hosts file (UserKnownHostsFile) instead',
  refuseconnection: 'RefuseConnection: the config refuses connections to this destination',
};

const MAX_IDENTITY_FILES = 100;

class Accumulator {
  readonly values = new Map<string, readonly string[]>();
  readonly origins = new Map<string, string>();
  readonly identityFiles: string[] = [];
  readonly notices: SSHConfigNotice[] = [];
  readonly #noticed = new Set<string>();
  /** ProxyJump and ProxyCommand share one slot: whichever comes first wins. */
  proxy: { keyword: 'proxyjump' | 'proxycommand'; value: string; entry: ConfigEntry } | undefined;
  refusal: { message: string; entry: ConfigEntry } | undefined;
  /** IgnoreUnknown's pattern list, once an applicable one was read. */
  ignoreUnknown: string | undefined;
  wantFinalPass = false;

  first(keyword: string): string | undefined {
    return this.values.get(keyword)?.[0];
  }

  setOnce(keyword: string, args: readonly string[], entry: ConfigEntry): void {
    if (this.values.has(keyword)) return;
    this.values.set(keyword, args);
    this.origins.set(keyword, `${entry.file} line ${entry.line}`);
  }

  notice(entry: ConfigEntry, kind: SSHConfigNotice['kind'], message: string): void {
    const key = `${entry.file}:${entry.line}`;
    if (this.#noticed.has(key)) return;
    this.#noticed.add(key);
    this.notices.push({ file: entry.file, line: entry.line, keyword: entry.name, kind, message });
  }
}

// What a file version says for one context is kept: the same target resolved again (every
// `$.ssh()`) costs a stat per file, not a walk through thousands of blocks.
const MAX_CACHED_RESULTS = 512;
const results = new Map<string, ResolvedSSHConfig>();

/** Evaluates `file` for `context`. Throws `SSHConfigError` for malformed values and refused directives that apply. */
export function evaluateConfigFile(file: ConfigFile, context: ResolveContext): ResolvedSSHConfig {
  const key = JSON.stringify([file.signature, context.host, context.user ?? null, context.port ?? null, context.localUser]);
  const cached = results.get(key);
  if (cached) return cached;
  const resolved = evaluateUncached(file, context);
  if (results.size >= MAX_CACHED_RESULTS) results.delete(results.keys().next().value!);
  results.set(key, resolved);
  return resolved;
}

function evaluateUncached(file: ConfigFile, context: ResolveContext): ResolvedSSHConfig {
  const acc = new Accumulator();
  if (context.user !== undefined) acc.values.set('user', [context.user]);
  if (context.port !== undefined) acc.values.set('port', [String(context.port)]);

  evaluateFile(file, true, acc, context, { hostArg: context.host, finalPass: false });
  if (acc.wantFinalPass) {
    evaluateFile(file, true, acc, context, { hostArg: finalHostname(acc, context.host), finalPass: true });
  }
  if (acc.refusal) throw new SSHConfigError(acc.refusal.message, acc.refusal.entry.file, acc.refusal.entry.line);
  if (acc.proxy?.keyword === 'proxycommand' && acc.proxy.value.toLowerCase() !== 'none') {
    throw new SSHConfigError(REFUSED['proxycommand']!, acc.proxy.entry.file, acc.proxy.entry.line);
  }
  return build(acc, context);
}

interface Pass {
  readonly hostArg: string;
  readonly finalPass: boolean;
}

function evaluateFile(file: ConfigFile, outerActive: boolean, acc: Accumulator, context: ResolveContext, pass: Pass): void {
  let active = outerActive;
  for (const item of file.items) {
    const { entry } = item;
    switch (item.kind) {
      case 'host':
        active = outerActive && matchHostLine(pass.hostArg, entry.args);
        break;
      case 'match':
        // Evaluated even when the outer block is inactive only to find `final`, as ssh does.
        active = matchCriteria(entry, acc, context, pass, outerActive);
        break;
      case 'include':
        for (const included of item.files) evaluateFile(included, active, acc, context, pass);
        break;
      case 'option':
        if (active) apply(entry, acc);
        break;
      case 'unknown':
        // ssh refuses the file for a keyword it does not know, in any block, unless an
        // IgnoreUnknown read before it names the keyword.
        if (acc.ignoreUnknown === undefined || matchPatternList(entry.keyword, acc.ignoreUnknown, true) !== 1) {
          throw new SSHConfigError(`Bad configuration option: ${entry.keyword}`, entry.file, entry.line);
        }
        break;
    }
  }
}

function matchCriteria(entry: ConfigEntry, acc: Accumulator, context: ResolveContext, pass: Pass, outerActive: boolean): boolean {
  // ssh reads Match criteria from the raw line with strdelim (readconf.c match_cfg_line).
  const cursor = { text: entry.rest, at: 0 };
  const bad = (message: string): never => {
    throw new SSHConfigError(`Bad Match condition: ${message}`, entry.file, entry.line);
  };
  let result = true;
  let attributes = 0;
  for (;;) {
    const raw = strdelim(cursor);
    if (raw === undefined || raw === '' || raw.startsWith('#')) break;
    const negated = raw.startsWith('!');
    const criterion = (negated ? raw.slice(1) : raw).toLowerCase();
    if (criterion === 'all') {
      const next = strdelim(cursor);
      if (attributes > 1 || (next !== undefined && next !== '' && !next.startsWith('#'))) bad(`'${raw}' cannot be combined with other Match attributes`);
      if (result && negated) result = false;
      return result && outerActive;
    }
    attributes++;
    if (criterion === 'canonical' || criterion === 'final') {
      if (criterion === 'final') acc.wantFinalPass = true;
      if (pass.finalPass === negated) result = false;
      continue;
    }
    const value = strdelim(cursor);
    if (value === undefined || value === '' || value.startsWith('#')) bad(`missing Match criteria for ${criterion}`);
    let matched: boolean;
    switch (criterion) {
      case 'host':
        matched = matchPatternList(matchHostname(acc, pass), value!, true) === 1;
        break;
      case 'originalhost':
        matched = matchPatternList(context.host, value!, true) === 1;
        break;
      case 'user':
        matched = matchPatternList(acc.first('user') ?? context.localUser, value!, false) === 1;
        break;
      case 'localuser':
        matched = matchPatternList(context.localUser, value!, false) === 1;
        break;
      case 'exec':
        // ssh runs the command whenever the criteria before it matched, negated or not, and the
        // block's fate then hangs on its exit status. Running commands from a config file is what
        // an SDK must not do behind a caller's back, and skipping the block (or taking it) would
        // resolve differently from ssh: refused, `!exec` included.
        if (result && outerActive) {
          throw new SSHConfigError(
            `Match ${raw} is not supported: sshpool does not run commands from config files; give the target explicit fields or configFile: false`,
            entry.file,
            entry.line,
          );
        }
        continue;
      default:
        return bad(`unsupported Match attribute ${criterion} (supported: all, canonical, final, host, originalhost, user, localuser)`);
    }
    if (matched === negated) result = false;
  }
  if (attributes === 0) bad('one or more attributes required for Match');
  return result && outerActive;
}

/** The name `Match host` compares: HostName with %h expanded once set, else the name given. */
function matchHostname(acc: Accumulator, pass: Pass): string {
  if (pass.finalPass) return pass.hostArg;
  const hostname = acc.first('hostname');
  return hostname === undefined ? pass.hostArg : expandHostname(hostname, pass.hostArg);
}

function finalHostname(acc: Accumulator, host: string): string {
  const hostname = acc.first('hostname');
  return (hostname === undefined ? host : expandHostname(hostname, host)).toLowerCase();
}

/** HostName knows two tokens only: `%h` and `%%`. */
function expandHostname(value: string, host: string): string {
  return value.replace(/%([%h])/g, (_match, token: string) => (token === 'h' ? host : '%'));
}

function apply(entry: ConfigEntry, acc: Accumulator): void {
  const { keyword, args } = entry;
  if (SINGLE_VALUED.has(keyword)) {
    if (acc.values.has(keyword)) return;
    acc.setOnce(keyword, args, entry);
    if (keyword === 'ignoreunknown') acc.ignoreUnknown = args[0];
    if (keyword === 'forwardagent' && args[0]!.toLowerCase() !== 'no') {
      acc.notice(entry, 'unsupported', 'ForwardAgent from a config file is ignored: sshpool forwards the agent only when the target sets forwardAgent: true');
    }
    return;
  }
  switch (keyword) {
    case 'identityfile':
      if (acc.identityFiles.length >= MAX_IDENTITY_FILES) throw new SSHConfigError(`more than ${MAX_IDENTITY_FILES} IdentityFile entries`, entry.file, entry.line);
      acc.identityFiles.push(args[0]!);
      acc.origins.set('identityfile', acc.origins.get('identityfile') ?? `${entry.file} line ${entry.line}`);
      return;
    case 'proxyjump':
    case 'proxycommand':
      // Both take the rest of the line as written, not split into words.
      if (acc.proxy === undefined) acc.proxy = { keyword, value: entry.rest.replace(/^[ \t\r\n=]+/, ''), entry };
      return;
    case 'canonicalizehostname':
      if (/^(yes|always)$/i.test(args[0] ?? '')) acc.refusal ??= { message: REFUSED[keyword]!, entry };
      return;
    case 'knownhostscommand':
      // First value wins, `none` included.
      if (!acc.values.has(keyword)) {
        acc.setOnce(keyword, args, entry);
        if (args[0]!.toLowerCase() !== 'none') acc.refusal ??= { message: REFUSED[keyword]!, entry };
      }
      return;
    case 'refuseconnection':
      if (!acc.values.has(keyword)) {
        acc.setOnce(keyword, args, entry);
        if (/^(yes|true)$/i.test(args[0] ?? '')) acc.refusal ??= { message: REFUSED[keyword]!, entry };
      }
      return;
    default:
      if (SESSION_ENVIRONMENT.has(keyword)) {
        acc.notice(entry, 'no-effect', `${entry.name} has no effect in sshpool: a command's environment comes from .env()`);
      } else if (NO_EFFECT.has(keyword)) {
        acc.notice(entry, 'no-effect', `${entry.name} has no effect in sshpool (interactive, forwarding or multiplexing setting)`);
      } else {
        acc.notice(entry, 'unsupported', `${entry.name} is not supported by sshpool and is ignored: the connection may differ from what ssh would do`);
      }
  }
}

function build(acc: Accumulator, context: ResolveContext): ResolvedSSHConfig {
  const one = (keyword: string): string | undefined => acc.first(keyword);
  const number = (keyword: string): number | undefined => {
    const value = one(keyword);
    return value === undefined || value.toLowerCase() === 'none' ? undefined : Number(value);
  };
  const seconds = (keyword: string): number | undefined => {
    const value = one(keyword);
    return value === undefined || value === 'none' ? undefined : sshTimeSeconds(value);
  };
  const revoked = one('revokedhostkeys');
  const yesNo = (keyword: string): boolean | undefined => {
    const value = one(keyword)?.toLowerCase();
    return value === undefined ? undefined : value === 'yes' || value === 'true';
  };
  const strict = one('stricthostkeychecking')?.toLowerCase();
  const proxyJump = acc.proxy?.keyword === 'proxyjump' && acc.proxy.value.toLowerCase() !== 'none' ? acc.proxy.value : undefined;
  if (acc.proxy) acc.origins.set(acc.proxy.keyword, `${acc.proxy.entry.file} line ${acc.proxy.entry.line}`);
  return {
    host: context.host,
    hostname: finalHostname(acc, context.host),
    user: one('user'),
    port: number('port'),
    identityFiles: [...acc.identityFiles],
    identitiesOnly: yesNo('identitiesonly'),
    identityAgent: one('identityagent'),
    proxyJump,
    connectTimeout: seconds('connecttimeout'),
    serverAliveInterval: seconds('serveraliveinterval'),
    serverAliveCountMax: number('serveralivecountmax'),
    strictHostKeyChecking:
      strict === undefined ? undefined : strict === 'true' ? 'yes' : strict === 'false' || strict === 'off' ? 'no' : (strict as 'yes' | 'no' | 'ask' | 'accept-new'),
    userKnownHostsFiles: acc.values.get('userknownhostsfile'),
    globalKnownHostsFiles: acc.values.get('globalknownhostsfile'),
    hostKeyAlias: one('hostkeyalias'),
    revokedHostKeys: revoked === undefined || revoked.toLowerCase() === 'none' ? undefined : revoked,
    forwardAgent: one('forwardagent'),
    origins: acc.origins,
    notices: acc.notices,
  };
}
