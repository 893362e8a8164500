#!/usr/bin/env bash
# Packs the library as npm would publish it (`npm pack` builds it through `prepack`), checks
# the tarball's types with @arethetypeswrong/cli, installs it into a fresh project outside
# the repository, and checks that `import { $, SSHConnectionPool } from 'sshpool'` works from
# JavaScript and type-checks from TypeScript, and that the shipped source maps lead to
# shipped sources.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
work="$(mktemp -d "${TMPDIR:-/tmp}/sshpool-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT

tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
# ESM only by design: `require('sshpool')` and node10 resolution are not supported, and the
# esm-only profile leaves exactly those out; everything else (node16 ESM, bundler) must be clean.
attw_log="$work/attw.log"
if ! npx --no-install attw --profile esm-only --format ascii "$work/$tarball" >"$attw_log" 2>&1; then
  cat "$attw_log"
  exit 1
fi
echo 'consumer: @arethetypeswrong/cli finds no problem (esm-only profile)'
cd "$work"
npm init -y >/dev/null
npm pkg set type=module >/dev/null
npm install --no-audit --no-fund --loglevel=error "./$tarball" "typescript@$(node -p "require('$root/node_modules/typescript/package.json').version")" @types/node >/dev/null

cat > consumer.mjs <<'JS'
import { $, SSHConnectionPool, CommandFailedError } from 'sshpool';
if (typeof $.ssh !== 'function' || typeof SSHConnectionPool.getInstance !== 'function') throw new Error('exports missing');
const pool = new SSHConnectionPool({ maxConnections: 2 });
const ssh = $.ssh({ host: '127.0.0.1', username: 'nobody', password: 'x', hostKey: 'off', pool });
if (typeof ssh !== 'function' || !(new CommandFailedError('m', {}) instanceof Error)) throw new Error('API shape');
await pool.closeAll();
console.log('consumer: JavaScript import works');
JS
node consumer.mjs

cat > consumer.ts <<'TS'
import { $, SSHConnectionPool } from 'sshpool';
import type { CommandResult, PoolStats } from 'sshpool';
const pool: SSHConnectionPool = new SSHConnectionPool({ maxConnections: 2 });
const ssh = $.ssh({ host: 'h', username: 'u', password: 'p', pool });
const pending: PromiseLike<CommandResult> = ssh`uptime`.nothrow().timeout(1000);
const stats: PoolStats = pool.getStats();
void pending; void stats;
TS
npx tsc --noEmit --strict --module nodenext --moduleResolution nodenext --target es2023 --types node consumer.ts
echo 'consumer: TypeScript types resolve'

# Every source map in the package must name sources that the package ships, so that
# `node --enable-source-maps` stack traces and editors lead to real files.
node - <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const root = path.join('node_modules', 'sshpool');
const maps = fs.readdirSync(path.join(root, 'dist'), { recursive: true }).filter((f) => f.endsWith('.map'));
if (maps.length === 0) throw new Error('no source maps in the package');
const missing = [];
for (const map of maps) {
  const file = path.join(root, 'dist', map);
  for (const source of JSON.parse(fs.readFileSync(file, 'utf8')).sources) {
    if (!fs.existsSync(path.resolve(path.dirname(file), source))) missing.push(`${map} -> ${source}`);
  }
}
if (missing.length) throw new Error(`source maps name files the package lacks:\n${missing.join('\n')}`);
console.log(`consumer: ${maps.length} source maps, every source shipped`);
JS

cat > stack.mjs <<'JS'
import { $ } from 'sshpool';
try {
  $.ssh({ host: 'two words' });
} catch (error) {
  const frame = error.stack.split('\n').find((line) => line.includes('node_modules/sshpool/'));
  const file = frame?.match(/\((.*?):\d+:\d+\)/)?.[1] ?? frame?.match(/at (\/.*?):\d+:\d+/)?.[1];
  const { existsSync } = await import('node:fs');
  if (!file || !file.endsWith('.ts') || !existsSync(file)) throw new Error(`stack trace does not lead to a shipped .ts file:\n${error.stack}`);
  console.log('consumer: stack traces name shipped sources');
}
JS
node --enable-source-maps stack.mjs
