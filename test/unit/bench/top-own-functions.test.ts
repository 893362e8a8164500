// Where sshpool's share of the client's CPU goes, read off a V8 CPU profile: its own functions
// by inclusive share, each sample counted once per function even when the function recurses.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { topOwnFunctions } from '../../../bench/compare/count-instructions.js';
import { REPO_ROOT } from '../../../bench/compare/sshpool-module.js';

const own = join(REPO_ROOT, 'dist');
const url = (file: string): string => pathToFileURL(join(own, file)).href;
const frame = (functionName: string, file: string | undefined, lineNumber = 0) => ({ functionName, url: file ? url(file) : 'node:internal/x', lineNumber });

describe('topOwnFunctions', () => {
  it('ranks own functions by the samples in them and everything they called, as a share of the busy samples', () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', undefined), hitCount: 10, children: [2, 5, 6] },
        { id: 2, callFrame: frame('run', 'pool/channel-session.js', 30), hitCount: 5, children: [3] },
        { id: 3, callFrame: frame('write', undefined), hitCount: 20, children: [4] },
        // Recursion: `run` again below itself counts its samples once.
        { id: 4, callFrame: frame('run', 'pool/channel-session.js', 30), hitCount: 5 },
        { id: 5, callFrame: frame('emit', 'pool/host-pool-events.js', 80), hitCount: 10 },
        // Waiting for the server: not a cost.
        { id: 6, callFrame: frame('(idle)', undefined), hitCount: 1_000 },
      ],
    };
    expect(topOwnFunctions(profile, own, 10)).toEqual([
      { name: 'run (dist/pool/channel-session.js:31)', inclusiveShare: 30 / 50 },
      { name: 'emit (dist/pool/host-pool-events.js:81)', inclusiveShare: 10 / 50 },
    ]);
    expect(topOwnFunctions(profile, own, 1)).toHaveLength(1);
  });
});
