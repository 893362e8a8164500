#!/usr/bin/env bash
# Packs the library as npm would publish it, installs the tarball into a fresh project
# outside the repository, and checks that `import { $, SSHConnectionPool } from 'sshpool'`
# works from JavaScript and type-checks from TypeScript.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
work="$(mktemp -d "${TMPDIR:-/tmp}/sshpool-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT

npm run build >/dev/null
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
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
