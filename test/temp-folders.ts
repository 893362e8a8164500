// Root global setup (both projects, once per run): the run gets a private temp folder as
// TMPDIR, inherited by the test workers and the processes they start, and the run fails if a
// `sshpool-*` file or folder (the prefix every test's temp folder uses) is left in it at the
// end. Other tools' files there (testcontainers' lock file) go with the folder. A private
// folder, not a before/after look at /tmp, so that other runs and programs on the same machine
// cannot make this check pass or fail.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env['TMPDIR'];
  const dir = mkdtempSync(join(tmpdir(), 'sshpool-vitest-tmp-'));
  process.env['TMPDIR'] = dir;
  return () => {
    if (previous === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previous;
    const left = readdirSync(dir).filter((name) => name.startsWith('sshpool-'));
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) {
      throw new Error(`The tests left ${left.length} temp file(s) or folder(s) behind (now removed): ${left.sort().join(', ')}`);
    }
  };
}
