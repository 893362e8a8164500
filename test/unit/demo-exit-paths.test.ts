// The demo cleans up on every way it can end: its in-process servers' temp folders are gone
// after a normal end, a SIGINT, a SIGTERM, a second signal (immediate exit) and a Prometheus
// port that is already taken. Each run gets its own TMPDIR, so that only its folders count.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.js';

const ROOT = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'sshpool-demo-exit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface DemoRun {
  readonly tmp: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly signal: (name: NodeJS.Signals) => void;
  readonly exited: Promise<number | null>;
}

function startDemo(env: Record<string, string>): DemoRun {
  const tmp = mkdtempSync(join(scratch, 'run-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, TMPDIR: tmp, SSHPOOL_DEMO_PROMETHEUS_PORT: '0', SSHPOOL_DEMO_DURATION_S: '60', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { tmp, stdout: () => out, stderr: () => err, signal: (name) => child.kill(name), exited };
}

/** The demo draws its first status line once the servers, telemetry and pool are up. */
const running = (run: DemoRun): Promise<number> => until(() => run.stdout().split('\n').length > 2, 45_000, 'the demo running');
const leftovers = (run: DemoRun): string[] => readdirSync(run.tmp).filter((name) => name.startsWith('sshpool-'));

describe('demo: no temp folder left behind', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('on %s: stops the workload, cleans up, exits %i', async (signal, code) => {
    const run = startDemo({});
    await running(run);
    expect(readdirSync(run.tmp).some((name) => name.startsWith('sshpool-embedded-')), 'the servers made their folders').toBe(true);
    run.signal(signal);
    expect(await run.exited, run.stderr()).toBe(code);
    expect(leftovers(run)).toEqual([]);
  }, 60_000);

  it('on a second signal: exits at once, and the servers still remove their folders', async () => {
    const run = startDemo({});
    await running(run);
    run.signal('SIGTERM');
    run.signal('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(leftovers(run)).toEqual([]);
  }, 60_000);

  it('when the Prometheus port is taken: fails with advice, cleans up', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const run = startDemo({ SSHPOOL_DEMO_PROMETHEUS_PORT: String((blocker.address() as net.AddressInfo).port) });
      expect(await run.exited).toBe(1);
      expect(run.stderr()).toMatch(/SSHPOOL_DEMO_PROMETHEUS_PORT/);
      expect(leftovers(run)).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 60_000);

  it('on a normal end', async () => {
    const run = startDemo({ SSHPOOL_DEMO_DURATION_S: '5' });
    expect(await run.exited, run.stderr()).toBe(0);
    expect(run.stdout()).toMatch(/Closed the pool, flushed telemetry, stopped the servers/);
    expect(leftovers(run)).toEqual([]);
  }, 60_000);
});
