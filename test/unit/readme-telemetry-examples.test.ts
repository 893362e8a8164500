// The README's telemetry examples that need no backend, run as written against an in-process
// SSH server reached as `web-1` through ~/.ssh/config (a temporary HOME): `setupTelemetry`
// with console traces, and the hand-made setup with its context manager. Both must print an
// ssh.exec span that is a child of the example's `deploy` span.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SSHConnectionPool } from '../../src/index.js';
import { overrideOpenSSHEnvironment } from '../../src/core/openssh-environment.js';
import { EmbeddedSshServer } from '../support/embedded-ssh-server.js';
import { readmeBlocks, runReadmeBlock } from '../support/readme-blocks.js';

const home = mkdtempSync(join(tmpdir(), 'sshpool-readme-home-'));
const savedHome = process.env['HOME'];
let server: EmbeddedSshServer;

beforeAll(async () => {
  server = await new EmbeddedSshServer().start();
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'id_ed25519'), server.privateKey, { mode: 0o600 });
  writeFileSync(
    join(home, '.ssh', 'config'),
    `Host web-1\n  HostName ${server.host}\n  Port ${server.port}\n  User ${server.username}\n  IdentityFile ~/.ssh/id_ed25519\n` +
      '  StrictHostKeyChecking accept-new\n',
  );
  process.env['HOME'] = home;
  // sshpool's ~ is the password database's home: overridden for the test.
  overrideOpenSSHEnvironment({ home, globalKnownHostsFiles: [] });
});
afterEach(async () => {
  await SSHConnectionPool.getInstance().closeAll();
  trace.disable();
  context.disable();
});
afterAll(async () => {
  overrideOpenSSHEnvironment(undefined);
  if (savedHome === undefined) delete process.env['HOME'];
  else process.env['HOME'] = savedHome;
  await server.stop();
  rmSync(home, { recursive: true, force: true });
});

interface Printed {
  readonly name: string;
  readonly id: string;
  readonly parentSpanContext?: { spanId: string };
}

async function printedSpans(name: string, code: string): Promise<Printed[]> {
  const printed: Printed[] = [];
  vi.spyOn(console, 'dir').mockImplementation((value) => void printed.push(value as Printed));
  await runReadmeBlock(name, code, { quiet: true });
  return printed;
}

const block = (marker: string): string => {
  const found = readmeBlocks('Spans and metrics').filter((b) => b.lang === 'ts' && b.code.includes(marker));
  expect(found, `one README block with ${marker}`).toHaveLength(1);
  return found[0]!.code;
};

describe('README telemetry examples without a backend', () => {
  it('setupTelemetry({ console: true }) prints ssh.exec as a child of the caller\'s span', async () => {
    const printed = await printedSpans('console-traces', block('console: true'));
    const deploy = printed.find((span) => span.name === 'deploy');
    const exec = printed.find((span) => span.name === 'ssh.exec');
    expect(printed.map((span) => span.name)).toEqual(expect.arrayContaining(['ssh.connect', 'ssh.pool.acquire', 'ssh.exec', 'deploy']));
    expect(exec?.parentSpanContext?.spanId).toBe(deploy?.id);
  });

  it('the hand-made setup registers a context manager: ssh.exec is a child of deploy', async () => {
    const printed = await printedSpans('hand-made-traces', block('AsyncLocalStorageContextManager'));
    const deploy = printed.find((span) => span.name === 'deploy');
    const exec = printed.find((span) => span.name === 'ssh.exec');
    expect(exec?.parentSpanContext?.spanId).toBe(deploy?.id);
  });
});
