// Runs the real OpenSSH client in config-dump mode (`ssh -G`), the reference that config
// resolution is checked against.
import { spawnSync } from 'node:child_process';

export const SSH_BINARY = process.env['SSHPOOL_SSH_BINARY'] ?? '/usr/bin/ssh';

export interface SshGResult {
  readonly ok: boolean;
  /** keyword -> every value printed for it (identityfile repeats; others print once) */
  readonly values: ReadonlyMap<string, string[]>;
  readonly stderr: string;
}

export function sshG(configFile: string, host: string, options: { user?: string; port?: number } = {}): SshGResult {
  const args = ['-G', '-F', configFile];
  if (options.user !== undefined) args.push('-l', options.user);
  if (options.port !== undefined) args.push('-p', String(options.port));
  args.push(host);
  const run = spawnSync(SSH_BINARY, args, { encoding: 'utf8', timeout: 10_000 });
  if (run.error) throw run.error;
  const values = new Map<string, string[]>();
  for (const line of run.stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const keyword = line.slice(0, space);
    values.set(keyword, [...(values.get(keyword) ?? []), line.slice(space + 1)]);
  }
  return { ok: run.status === 0, values, stderr: run.stderr };
}
