// Runs the README's code blocks as written: a section's fenced blocks are read from README.md,
// mapped to the test rig by the caller, and imported as a module whose `from 'sshpool'` points
// at the sources. What the block prints with console.log is its answer.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { vi } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** Inside the repository, so that the block's imports resolve against its node_modules. */
const SCRATCH = join(ROOT, '.sshpool-test');

export interface ReadmeBlock {
  /** The fence's info string: 'ts', 'sh', or '' for a plain block (an ssh config, say). */
  readonly lang: string;
  readonly code: string;
}

/** The fenced blocks of one `## ` section of README.md, in order. */
export function readmeBlocks(heading: string): ReadmeBlock[] {
  const start = README.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

/**
 * Runs a README block (already mapped to the test rig) as a module and returns the lines it
 * printed. `quiet`: process warnings (such as ssh-config notices) are swallowed too.
 */
export async function runReadmeBlock(name: string, code: string, options: { quiet?: boolean } = {}): Promise<string[]> {
  mkdirSync(SCRATCH, { recursive: true });
  const file = join(SCRATCH, `readme-${name}-${process.pid}.ts`);
  writeFileSync(
    file,
    code
      .replaceAll("from 'sshpool'", `from ${JSON.stringify(join(ROOT, 'src', 'index.ts'))}`)
      .replaceAll("from 'sshpool/otel'", `from ${JSON.stringify(join(ROOT, 'src', 'otel', 'index.ts'))}`),
  );
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  if (options.quiet) vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    await import(pathToFileURL(file).href);
    return log.mock.calls.map((call) => format(...call));
  } finally {
    vi.restoreAllMocks();
    rmSync(file, { force: true });
  }
}
