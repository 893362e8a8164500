// Remote forwarding of UNIX sockets against real OpenSSH (`ssh -R /path:host:port` and
// `ssh -R port:/local/path`): the server listens on a socket in its own filesystem, which
// this machine reaches only through SSH, so the checks that connect to it go through a second
// tunnel (`forward({ to: { path } })`, a `direct-streamlocal@openssh.com` channel).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, TunnelRefusedError } from '../../src/index.js';
import type { SSHPoolError, SSHTunnel } from '../../src/index.js';
import { answersAgain, echoServer, roundTrip } from '../support/echo-peer.js';
import { sshdTarget } from '../support/sshd-target.js';
import { closedAfterEach } from '../support/tunnel-cleanup.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { TestMetricReader } from '../support/test-metric-reader.js';
import { until } from '../support/until.js';
import { withTimeout } from '../support/with-timeout.js';

let server: SshdServer;
let limited: SshdServer;
let noStreamLocal: SshdServer;
let echo: Server;
let echoPort: number;
let localSocketDir: string;

beforeAll(async () => {
  echo = await echoServer();
  echoPort = (echo.address() as AddressInfo).port;
  localSocketDir = mkdtempSync(join(tmpdir(), 'sshpool-rsock-'));
  [server, limited, noStreamLocal] = await Promise.all([
    // A restarted server binds the same path again only if it may remove the old socket file.
    startSshd({ config: { StreamLocalBindUnlink: 'yes' } }),
    startSshd({ config: { MaxSessions: 2 } }),
    startSshd({ config: { AllowStreamLocalForwarding: 'no' } }),
  ]);
}, 120_000);

const { newPool, track } = closedAfterEach();
afterAll(async () => {
  echo?.close();
  if (localSocketDir) rmSync(localSocketDir, { recursive: true, force: true });
});

/** A socket path in the server's /tmp, unique to one test. */
const remoteSocket = (): string => `/tmp/sshpool-rf-${randomBytes(6).toString('hex')}.sock`;

/** What came back from one round trip through `tunnel`, as text. */
async function echoed(tunnel: { host: string; port: number }, text: string): Promise<string> {
  return (await roundTrip(tunnel, text)).toString();
}


/** A local port that reaches the server's UNIX socket `path` over an SSH connection of a pool of its own. */
async function reachSocket(sshd: SshdServer, path: string): Promise<SSHTunnel> {
  const tunnel = track(await $.ssh(sshdTarget(sshd, newPool())).forward({ to: { path } }));
  tunnel.on('error', () => {});
  return tunnel;
}

describe('remote forwarding of a UNIX socket on the server', () => {
  it('listens on a socket in the server\'s filesystem and carries its connections to a local address', async () => {
    const pool = newPool();
    const path = remoteSocket();
    const tunnel = track(await $.ssh(sshdTarget(server, pool)).forwardRemote({ listen: { path }, to: { host: '127.0.0.1', port: echoPort } }));
    expect(tunnel.path).toBe(path);
    expect(tunnel.host).toBe(path);
    expect(tunnel.port).toBe(0);
    // The socket exists on the server, owned by the (non-root) login, which alone may use it
    // (OpenSSH's default StreamLocalBindMask, 0177).
    const owner = await $.ssh(sshdTarget(server, pool))`test -S ${path} && stat -c '%U %a' ${path}`;
    expect(owner.stdout.trim()).toBe('tester 600');
    const into = await reachSocket(server, path);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, index) => echoed(into, `through the socket ${index}`)));
    expect(answers).toEqual(Array.from({ length: 10 }, (_, index) => `through the socket ${index}`));
    // The forward and the command shared one pooled connection.
    expect(pool.getStats().totalConnections).toBe(1);
  });

  it('works beside commands that hold every session slot of a MaxSessions=2 server', async () => {
    const pool = newPool({ maxConnections: 1 });
    const ssh = $.ssh(sshdTarget(limited, pool));
    const path = remoteSocket();
    track(await ssh.forwardRemote({ listen: { path }, to: { host: '127.0.0.1', port: echoPort } }));
    const commands = Array.from({ length: 6 }, (_, index) => ssh`sleep 0.3; echo ${index}`);
    const into = await reachSocket(limited, path);
    expect(await echoed(into, 'beside the commands')).toBe('beside the commands');
    expect((await Promise.all(commands)).map((result) => result.stdout.trim())).toEqual(['0', '1', '2', '3', '4', '5']);
  });

  it('close() makes the server stop accepting on the socket', async () => {
    const pool = newPool();
    const path = remoteSocket();
    const tunnel = await $.ssh(sshdTarget(server, pool)).forwardRemote({ listen: { path }, to: { host: '127.0.0.1', port: echoPort } });
    const into = await reachSocket(server, path);
    expect(await echoed(into, 'open')).toBe('open');
    await tunnel.close();
    // The server refuses the next direct-streamlocal channel: the local socket is closed with nothing echoed.
    let refused = false;
    await until(() => {
      void echoed(into, 'closed').then((answer) => (refused ||= answer === ''), () => (refused = true));
      return refused;
    }, 10_000, 'the server to stop accepting on the socket');
  });

  it('binds the same path again after the server died and came back', async () => {
    const sshd = await startSshd({ config: { StreamLocalBindUnlink: 'yes' } });
    try {
      const pool = newPool({ reconnect: { initialDelay: 100, maxDelay: 500 } });
      const path = remoteSocket();
      const tunnel = track(await $.ssh(sshdTarget(sshd, pool)).forwardRemote({ listen: { path }, to: { host: '127.0.0.1', port: echoPort } }));
      const errors: SSHPoolError[] = [];
      tunnel.on('error', (error) => errors.push(error));
      expect(await echoed(await reachSocket(sshd, path), 'before')).toBe('before');
      await sshd.kill();
      await sshd.start();
      await until(() => pool.getStats().totalConnections === 1, 30_000, 'a new connection');
      await answersAgain(await reachSocket(sshd, path), 'after', 30_000, 'the socket to answer again');
      expect(tunnel.path).toBe(path);
      expect(errors.every((error) => error.code !== 'ERR_SSHPOOL_TUNNEL_REFUSED')).toBe(true);
    } finally {
      await sshd.remove();
    }
  }, 120_000);

  it('reports each failed bind again as an error event when the server keeps the dead connection\'s socket file (StreamLocalBindUnlink no)', async () => {
    const sshd = await startSshd();
    try {
      const pool = newPool({ reconnect: { initialDelay: 100, maxDelay: 300 } });
      const path = remoteSocket();
      const tunnel = track(await $.ssh(sshdTarget(sshd, pool)).forwardRemote({ listen: { path }, to: { host: '127.0.0.1', port: echoPort } }));
      const errors: SSHPoolError[] = [];
      tunnel.on('error', (error) => errors.push(error));
      await sshd.kill();
      await sshd.start();
      // While the server restarts, tries fail to connect (ConnectError); once it answers, the bind is refused.
      await until(() => errors.some((error) => error instanceof TunnelRefusedError), 30_000, 'a refused bind reported');
      expect(errors.find((error) => error instanceof TunnelRefusedError)!.message).toContain('StreamLocalBindUnlink');
      // Once the stale file is gone, the next try binds and the socket answers again.
      await $.ssh(sshdTarget(sshd, newPool()))`rm -f ${path}`;
      await answersAgain(await reachSocket(sshd, path), 'again', 30_000, 'the socket to answer once its stale file was removed');
    } finally {
      await sshd.remove();
    }
  }, 120_000);

  it('rejects with TunnelRefusedError naming AllowStreamLocalForwarding when the server forbids it', async () => {
    const pool = newPool();
    const path = remoteSocket();
    const error = await $.ssh(sshdTarget(noStreamLocal, pool)).forwardRemote({ listen: { path }, to: { host: '127.0.0.1', port: echoPort } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TunnelRefusedError);
    expect((error as Error).message).toContain(`would not listen on ${path}`);
    expect((error as Error).message).toContain('AllowStreamLocalForwarding');
  });

  it('rejects with TunnelRefusedError when the socket\'s directory is not writable for the login', async () => {
    const pool = newPool();
    const error = await $.ssh(sshdTarget(server, pool)).forwardRemote({ listen: { path: '/etc/sshpool-not-allowed.sock' }, to: { host: '127.0.0.1', port: echoPort } })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TunnelRefusedError);
    // Nothing was kept in use for the failed binding.
    expect(pool.getStats().activeConnections).toBe(0);
  });

  it('records ssh.tunnel spans and byte counts under the forwarded-streamlocal@openssh.com channel type', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const reader = new TestMetricReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const pool = newPool({ tracerProvider, meterProvider });
    const path = remoteSocket();
    track(await $.ssh(sshdTarget(server, pool)).forwardRemote({ listen: { path }, to: { host: '127.0.0.1', port: echoPort } }));
    expect(await echoed(await reachSocket(server, path), 'y'.repeat(700))).toHaveLength(700);
    await until(() => exporter.getFinishedSpans().some((span) => span.name === 'ssh.tunnel'), 10_000, 'the tunnel span');
    const span = exporter.getFinishedSpans().find((candidate) => candidate.name === 'ssh.tunnel')!;
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toMatchObject({
      'ssh.tunnel.kind': 'remote',
      'ssh.channel.type': 'forwarded-streamlocal@openssh.com',
      'ssh.tunnel.destination': `127.0.0.1:${echoPort}`,
      'ssh.tunnel.received_bytes': 700,
      'ssh.tunnel.transmitted_bytes': 700,
    });
    const { resourceMetrics } = await reader.collect();
    const io = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((metric) => metric.descriptor.name === 'ssh.client.channel.io');
    const points = (io?.dataPoints ?? []) as Array<DataPoint<number>>;
    const bytes = (direction: string): number | undefined =>
      points.find((point) => point.attributes['ssh.channel.type'] === 'forwarded-streamlocal@openssh.com' && point.attributes['network.io.direction'] === direction)?.value;
    expect(bytes('receive')).toBe(700);
    expect(bytes('transmit')).toBe(700);
  });
});

describe('process lifetime', () => {
  it('lets a script exit by itself once its remote socket forward is closed', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/remote-socket-lifetime-script.ts')], {
      cwd: join(import.meta.dirname, '../..'),
      env: {
        ...process.env, SSHPOOL_TUNNEL_PORT: String(echoPort), SSHPOOL_SOCKET_PATH: remoteSocket(),
        SSHPOOL_TUNNEL_TARGET: JSON.stringify(sshdTarget(server, undefined)),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await withTimeout(new Promise<number | null>((resolve) => child.once('exit', resolve)), 60_000, 'the script to exit').finally(() => child.kill('SIGKILL'));
    expect(stderr).toBe('');
    expect(stdout).toBe('socket\nclosed\n');
    expect(code).toBe(0);
  }, 90_000);
});

describe('remote forwarding to a local UNIX socket', () => {
  it('carries each connection the server accepts on its port to a UNIX socket on this machine', async () => {
    const localPath = join(localSocketDir, 'echo.sock');
    const local = await echoServer(localPath);
    try {
      const pool = newPool();
      const tunnel = track(await $.ssh(sshdTarget(server, pool)).forwardRemote({ to: { path: localPath } }));
      expect(tunnel.path).toBeUndefined();
      expect(tunnel.port).toBeGreaterThan(0);
      // The sshd container shares this machine's network: its listener is reachable here.
      expect(await echoed(tunnel, 'to the local socket')).toBe('to the local socket');
    } finally {
      local.close();
    }
  });
});
