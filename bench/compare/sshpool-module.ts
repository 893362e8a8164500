// Which sshpool the benchmark measures: the compiled dist/ (what users run) unless told
// otherwise. Running src/ through tsx would charge sshpool for esbuild's keepNames helpers
// (`__name(...)` around every named function), a cost no other contender pays.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { BenchHost } from './bench-host.js';

export type SshpoolModule = typeof import('../../src/index.js');

/** The sshpool target for a bench host: key login, host key pinned by fingerprint. */
export function sshpoolTarget(host: BenchHost): { host: string; port: number; username: string; privateKey: string; hostKey: { fingerprints: string[] } } {
  return { host: host.host, port: host.port, username: host.username, privateKey: host.privateKey, hostKey: { fingerprints: [host.hostKeyFingerprint] } };
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST_ENTRY = join(ROOT, 'dist', 'index.js');
/** 'src' measures the TypeScript sources through tsx instead of dist/. */
export const FROM_SOURCE = process.env['SSHPOOL_BENCH_FROM_SOURCE'] === '1';

export async function loadSshpool(): Promise<SshpoolModule> {
  if (FROM_SOURCE) return import('../../src/index.js');
  return (await import(new URL('../../dist/index.js', import.meta.url).href)) as SshpoolModule;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when dist/ is missing or older than a file in src/: it must be built before measuring. */
export function distIsStale(): boolean {
  if (FROM_SOURCE) return false;
  return !existsSync(DIST_ENTRY) || newestSource(join(ROOT, 'src')) > statSync(DIST_ENTRY).mtimeMs;
}

export const REPO_ROOT = ROOT;
