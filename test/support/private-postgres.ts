// PostgreSQL (the machine's own Debian package) in a network namespace, listening on that
// namespace's loopback only: nothing outside the namespace can connect, but an OpenSSH server
// inside it can (a tunnel's `direct-tcpip` channel to 127.0.0.1:5432). Trust authentication,
// user `postgres`; the data directory is created fresh and removed by `stop()`.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';

export const POSTGRES_PORT = 5432;

export interface PrivatePostgres {
  /** Its UNIX socket: a path on this machine's file system, which network namespaces do not divide. */
  readonly socketPath: string;
  /** Kills the server and removes its data. */
  stop(): void;
}

/** The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/<major>/bin). */
function postgresBin(): string {
  let majors: string[] = [];
  try {
    majors = readdirSync('/usr/lib/postgresql').filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
  } catch {
    // Not installed: reported below.
  }
  if (majors.length === 0) throw new Error('PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)');
  return `/usr/lib/postgresql/${majors[0]}/bin`;
}

function postgresAccount(): { uid: number; gid: number } {
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Initialises a database and starts it in `namespace`; resolves once it accepts connections. */
export async function startPrivatePostgres(namespace: string): Promise<PrivatePostgres> {
  const bin = postgresBin();
  // Not under the test run's private TMPDIR: the postgres account must reach its data directory.
  const dataDir = mkdtempSync('/tmp/sshpool-pg-');
  const { uid, gid } = postgresAccount();
  chownSync(dataDir, uid, gid);
  const init = spawnSync('runuser', ['-u', 'postgres', '--', `${bin}/initdb`, '-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync'], { encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr}`);
  }
  const child = spawn('ip', [
    'netns', 'exec', namespace, 'runuser', '-u', 'postgres', '--', `${bin}/postgres`, '-D', dataDir,
    '-c', 'listen_addresses=127.0.0.1', '-p', String(POSTGRES_PORT), '-c', `unix_socket_directories=${dataDir}`,
    '-c', 'max_connections=60', '-c', 'fsync=off',
  // A process group of its own, so that stop() reaches postgres behind runuser; the namespace's
  // removal kills whatever is left too.
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  child.unref();
  const stop = (): void => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`PostgreSQL did not start within 30 s:\n${log}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PostgreSQL exited with ${code}:\n${log}`));
    });
  }).catch((error: unknown) => {
    stop();
    throw error;
  });
  return { socketPath: `${dataDir}/.s.PGSQL.${POSTGRES_PORT}`, stop };
}
