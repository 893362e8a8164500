// A fan-out that streams: every host's lines as they arrive, whole and tagged with the host,
// results still in host order, stopping early, and the summary of how the hosts fared.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { $, AbortedError, AuthenticationError, CommandFailedError, CommandTimeoutError, ConnectError, ConnectionLostError, SSHConnectionPool } from '../../../src/index.js';
import type { CommandResult, FanOutLine, FanOutResult } from '../../../src/index.js';
import { FAN_OUT_LINE_BUFFER, FanOutLines } from '../../../src/groups/fan-out-lines.js';
import { summarizeFanOut } from '../../../src/groups/fan-out-summary.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { freePort } from '../../support/free-port.js';
import { until } from '../../support/until.js';

const PASSWORD = 'group-password';
const servers: EmbeddedSshServer[] = [];
const pools: SSHConnectionPool[] = [];

beforeAll(async () => {
  for (let i = 0; i < 3; i++) servers.push(await new EmbeddedSshServer({ password: PASSWORD }).start());
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.closeAll()));
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop().catch(() => {})));
});

function groupOf(ports: number[]) {
  const pool = new SSHConnectionPool({ maxRetries: 0, connectionTimeout: 2_000 });
  pools.push(pool);
  const group = $.ssh({ hosts: ports.map((port) => ({ host: '127.0.0.1', port })), username: 'tester', password: PASSWORD, hostKey: 'off', pool });
  return { group, pool };
}

const label = (port: number) => `127.0.0.1:${port}`;
const ports = () => servers.map((server) => server.port);

describe('fan-out lines', () => {
  it('for await over the fan-out itself yields every host\'s lines, tagged, as .lines() does', async () => {
    const { group } = groupOf(ports());
    const run = group.all`printf 'a\\nb\\n'; echo c >&2`;
    const seen: FanOutLine[] = [];
    for await (const entry of run) seen.push(entry);
    const expected: FanOutLine[] = ports().flatMap((port): FanOutLine[] => [
      { host: label(port), stream: 'stdout', line: 'a' },
      { host: label(port), stream: 'stdout', line: 'b' },
      { host: label(port), stream: 'stderr', line: 'c' },
    ]);
    const order = (entry: FanOutLine) => `${entry.host} ${entry.stream} ${entry.line}`;
    expect(seen.map(order).sort()).toEqual(expected.map(order).sort());
    // Each host's stdout lines keep their order.
    for (const port of ports()) expect(seen.filter((e) => e.host === label(port) && e.stream === 'stdout').map((e) => e.line)).toEqual(['a', 'b']);
    expect((await run).every((result) => result.status === 'fulfilled')).toBe(true);
  });

  it('yields every host\'s lines whole, tagged with the host that wrote them; awaiting still gives the results in host order', async () => {
    const { group } = groupOf(ports());
    // Long lines from every host at once: a mixed-up line would not match its own pattern.
    const run = group.all`yes ${'0'.repeat(200)} | head -n 2000 | awk '{ print "line-" NR-1 "-" $0 }'; echo warn >&2`;
    const seen = new Map<string, number>();
    const stderr: FanOutLine[] = [];
    for await (const entry of run.lines()) {
      if (entry.stream === 'stderr') {
        stderr.push(entry);
        continue;
      }
      const next = seen.get(entry.host) ?? 0;
      expect(entry.line).toBe(`line-${next}-${'0'.repeat(200)}`);
      seen.set(entry.host, next + 1);
    }
    expect([...seen.keys()].sort()).toEqual(ports().map(label).sort());
    expect([...seen.values()]).toEqual([2000, 2000, 2000]);
    expect(stderr.map((e) => e.line)).toEqual(['warn', 'warn', 'warn']);
    const results = await run;
    expect(results.map((r) => r.host)).toEqual(ports().map(label));
    for (const result of results) {
      expect(result.status).toBe('fulfilled');
      expect((result as { value: CommandResult }).value).toMatchObject({ ok: true, stdout: '', streamed: { stdout: true, stderr: true } });
    }
  });

  it('breaking out stops every host\'s command, and the channels close', async () => {
    const { group, pool } = groupOf(ports());
    const run = group.all`i=0; while :; do echo $i; i=$((i+1)); done`.nothrow();
    let count = 0;
    for await (const _entry of run.lines()) if (++count === 50) break;
    const results = await run;
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const result of results) expect((result as { reason: Error }).reason).toBeInstanceOf(AbortedError);
    await until(() => pool.getStats().openChannels === 0, 10_000, 'every channel closed');
  });

  it('an unreachable host does not stop the others\' lines', async () => {
    const dead = await freePort();
    const { group } = groupOf([servers[0]!.port, dead]);
    const run = group.all`echo hello`.nothrow();
    const lines: FanOutLine[] = [];
    for await (const entry of run.lines()) lines.push(entry);
    expect(lines).toEqual([{ host: label(servers[0]!.port), stream: 'stdout', line: 'hello' }]);
    const summary = await run.summary();
    expect(summary.succeeded).toEqual([label(servers[0]!.port)]);
    expect(summary.unreachable).toEqual([{ host: label(dead), code: 'ERR_SSHPOOL_CONNECT' }]);
    expect(String(summary)).toBe(`2 hosts: 1 succeeded, 0 failed, 1 unreachable (${label(dead)} ERR_SSHPOOL_CONNECT)`);
  });

  it('lines() cannot be asked for once the fan-out has started', async () => {
    const { group } = groupOf(ports());
    const run = group.all`true`;
    await run;
    expect(() => run.lines()).toThrow('lines() cannot change a fan-out that has already started');
  });
});

describe('a streamed group command', () => {
  it('is not re-run on another member when its connection is lost, even when retryable: its consumer already has part of it', async () => {
    const victim = await new EmbeddedSshServer({ password: PASSWORD }).start();
    servers.push(victim);
    const pool = new SSHConnectionPool({ maxRetries: 0, connectionTimeout: 2_000 });
    pools.push(pool);
    const group = $.ssh({
      hosts: [victim.port, servers[0]!.port].map((port) => ({ host: '127.0.0.1', port })),
      username: 'tester',
      password: PASSWORD,
      hostKey: 'off',
      pool,
      strategy: 'failover',
    });
    const cmd = group`echo first; sleep 2; echo second`.retryable();
    const lines: string[] = [];
    const error = await (async () => {
      for await (const line of cmd) {
        lines.push(line);
        victim.dropAllConnections();
      }
    })().then(() => undefined, (e: unknown) => e);
    expect(lines).toEqual(['first']);
    expect(error).toBeInstanceOf(ConnectionLostError);
  });
});

describe('fan-out summary', () => {
  const result = (ok: boolean, exitCode: number): CommandResult => ({ ok, exitCode } as CommandResult);
  it('sorts hosts into succeeded, failed (ran and did not succeed) and unreachable (connect, auth, host key), in host order', () => {
    const fail = new CommandFailedError('exit 2', { stdout: '', stderr: '', stdoutBuffer: Buffer.alloc(0), stderrBuffer: Buffer.alloc(0), exitCode: 2, signal: null, ok: false, durationMs: 1, host: 'b:22', command: 'x', template: 'x' });
    const timeout = new CommandTimeoutError('slow', fail.result, 10);
    const results: FanOutResult[] = [
      { host: 'a:22', status: 'fulfilled', value: result(true, 0) },
      { host: 'b:22', status: 'rejected', reason: fail },
      { host: 'c:22', status: 'rejected', reason: new AuthenticationError('denied', { poolName: 'u@c:22', host: 'c', port: 22 }) },
      { host: 'd:22', status: 'rejected', reason: timeout },
      { host: 'e:22', status: 'rejected', reason: new ConnectError('refused', { poolName: 'u@e:22', host: 'e', port: 22 }, false) },
    ];
    const summary = summarizeFanOut(results);
    expect(summary).toMatchObject({
      total: 5,
      succeeded: ['a:22'],
      failed: [{ host: 'b:22', code: 'ERR_SSHPOOL_COMMAND_FAILED' }, { host: 'd:22', code: 'ERR_SSHPOOL_COMMAND_TIMEOUT' }],
      unreachable: [{ host: 'c:22', code: 'ERR_SSHPOOL_AUTH' }, { host: 'e:22', code: 'ERR_SSHPOOL_CONNECT' }],
    });
    expect(String(summary)).toBe(
      '5 hosts: 1 succeeded, 2 failed (b:22 ERR_SSHPOOL_COMMAND_FAILED, d:22 ERR_SSHPOOL_COMMAND_TIMEOUT), 2 unreachable (c:22 ERR_SSHPOOL_AUTH, e:22 ERR_SSHPOOL_CONNECT)',
    );
  });
});

describe('the merged line buffer', () => {
  it('a reader waits once the buffer is full, and goes on as the consumer takes lines', async () => {
    const lines = new FanOutLines();
    let pushed = 0;
    const writer = (async () => {
      for (let i = 0; i < FAN_OUT_LINE_BUFFER + 10; i++) {
        await lines.push({ host: 'h', stream: 'stdout', line: String(i) });
        pushed++;
      }
      lines.end();
    })();
    await until(() => pushed >= FAN_OUT_LINE_BUFFER, 5_000, 'the buffer filled');
    await new Promise((resolve) => setImmediate(resolve));
    expect(pushed).toBe(FAN_OUT_LINE_BUFFER);
    const taken: string[] = [];
    for await (const entry of lines) taken.push(entry.line);
    await writer;
    expect(taken).toHaveLength(FAN_OUT_LINE_BUFFER + 10);
  });

  it('a consumer that stops releases waiting readers, whose next push says the lines are no longer wanted', async () => {
    const lines = new FanOutLines();
    const pushes = Array.from({ length: FAN_OUT_LINE_BUFFER + 5 }, (_, i) => lines.push({ host: 'h', stream: 'stdout', line: String(i) }));
    for await (const _entry of lines) break;
    expect(await Promise.all(pushes.slice(-5))).toEqual([false, false, false, false, false]);
    expect(lines.closed).toBe(true);
    expect(await lines.push({ host: 'h', stream: 'stdout', line: 'late' })).toBe(false);
  });
});
