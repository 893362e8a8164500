// Tunnels over pooled connections against real OpenSSH: local forwarding and SOCKS, sharing
// connections with commands, outside MaxSessions, with backpressure, refusals, a server that
// dies mid-way, and close().
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, TunnelRefusedError } from '../../src/index.js';
import type { SSHConnectionPool, SSHPoolError, SSHTunnel } from '../../src/index.js';
import { answersAgain, closed, connected, echoServer, roundTrip } from '../support/echo-peer.js';
import { sshdTarget } from '../support/sshd-target.js';
import { closedAfterEach } from '../support/tunnel-cleanup.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { TestMetricReader } from '../support/test-metric-reader.js';
import { until } from '../support/until.js';
import { withTimeout } from '../support/with-timeout.js';

const REPO_ROOT = join(import.meta.dirname, '../..');

let server: SshdServer;
let limited: SshdServer;
let noForwarding: SshdServer;
let permitOpen: SshdServer;
let echo: Server;
let echoPort: number;
let otherPort: number;
let other: Server;

beforeAll(async () => {
  echo = await echoServer();
  other = await echoServer();
  echoPort = (echo.address() as AddressInfo).port;
  otherPort = (other.address() as AddressInfo).port;
  [server, limited, noForwarding, permitOpen] = await Promise.all([
    startSshd(),
    startSshd({ config: { MaxSessions: 2 } }),
    startSshd({ config: { AllowTcpForwarding: 'no' } }),
    startSshd({ config: { PermitOpen: `127.0.0.1:${otherPort}` } }),
  ]);
}, 120_000);

const { newPool, track } = closedAfterEach();
afterAll(async () => {
  echo?.close();
  other?.close();
});

async function forward(sshd: SshdServer, pool: SSHConnectionPool, port = echoPort): Promise<SSHTunnel> {
  const tunnel = await $.ssh(sshdTarget(sshd, pool)).forward({ to: { host: '127.0.0.1', port } });
  track(tunnel);
  return tunnel;
}

describe('local forwarding', () => {
  it('listens on 127.0.0.1 on a free port and carries a connection to the destination and back', async () => {
    const pool = newPool();
    const tunnel = await forward(server, pool);
    expect(tunnel.host).toBe('127.0.0.1');
    expect(tunnel.port).toBeGreaterThan(0);
    expect((await roundTrip(tunnel, 'hello through the tunnel')).toString()).toBe('hello through the tunnel');
  });

  it('shares one pooled connection among many tunnelled connections and the commands of the same target', async () => {
    const pool = newPool({ maxConnections: 2 });
    let created = 0;
    pool.on('connection:created', () => created++);
    const tunnel = await forward(server, pool);
    const payloads = Array.from({ length: 40 }, (_, index) => `connection ${index} `.repeat(200));
    const [answers, result] = await Promise.all([
      Promise.all(payloads.map((payload) => roundTrip(tunnel, payload))),
      $.ssh(sshdTarget(server, pool))`echo command beside the tunnels`,
    ]);
    expect(answers.map(String)).toEqual(payloads);
    expect(result.stdout.trim()).toBe('command beside the tunnels');
    // The command may have opened the first connection while the first tunnel did too.
    expect(created).toBeLessThanOrEqual(2);
  });

  it('does not count tunnelled connections against MaxSessions: they run while commands hold every session slot', async () => {
    const pool = newPool({ maxConnections: 1, maxChannelsPerConnection: 2 });
    const target = sshdTarget(limited, pool);
    const sleepers = Promise.all([$.ssh(target)`sleep 3; echo done`, $.ssh(target)`sleep 3; echo done`]);
    await until(() => pool.getStats().openChannels === 2, 20_000, 'both sessions open');
    const tunnel = await forward(limited, pool);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, index) => roundTrip(tunnel, `while sessions are busy ${index}`)));
    expect(answers.map(String)).toEqual(Array.from({ length: 10 }, (_, index) => `while sessions are busy ${index}`));
    // Both commands still hold their sessions: the tunnels did not wait for one.
    expect(pool.getStats()).toMatchObject({ totalConnections: 1, openChannels: 2 });
    expect((await sleepers).map((result) => result.stdout.trim())).toEqual(['done', 'done']);
    // And commands still get both sessions while tunnelled connections are open.
    const held = await connected(tunnel);
    const both = await Promise.all([$.ssh(target)`echo a`, $.ssh(target)`echo b`]);
    expect(both.map((result) => result.stdout.trim())).toEqual(['a', 'b']);
    held.destroy();
  }, 60_000);

  it('carries 16 MiB each way intact', async () => {
    const pool = newPool();
    const tunnel = await forward(server, pool);
    const data = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    const back = await roundTrip(tunnel, data);
    expect(back.length).toBe(data.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  }, 60_000);

  it('applies backpressure: a local reader that stops reading stops the remote sender, and nothing is lost', async () => {
    // A destination that sends 64 MiB as fast as its socket lets it.
    const total = 64 * 1024 * 1024;
    let sent = 0;
    const source = createServer((socket) => {
      socket.on('error', () => {});
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
    });
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', () => resolve()));
    try {
      const pool = newPool();
      const tunnel = await forward(server, pool, (source.address() as AddressInfo).port);
      const socket = await connected(tunnel);
      socket.pause();
      // The sender fills the windows and buffers along the way (SSH window, kernel buffers), then stalls.
      // Stalled: no progress for 500 ms. Without backpressure the whole stream would have been
      // taken in (and buffered in memory) by then.
      let last = -1;
      let since = performance.now();
      await until(() => {
        if (sent !== last) {
          last = sent;
          since = performance.now();
        }
        return sent > 0 && performance.now() - since > 500;
      }, 30_000, 'the sender to stall');
      expect(sent).toBeLessThan(total / 2);
      let received = 0;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.resume();
      await withTimeout(closed(socket), 60_000, 'the whole stream');
      expect(received).toBe(total);
    } finally {
      source.close();
    }
  }, 90_000);

  it('closes the tunnel\'s open connections when the server dies, keeps listening, and carries new ones over a new connection', async () => {
    const sshd = await startSshd();
    try {
      const pool = newPool({ connectionTimeout: 5_000 });
      let created = 0;
      pool.on('connection:created', () => created++);
      const tunnel = await forward(sshd, pool);
      const socket = await connected(tunnel);
      socket.on('error', () => {});
      socket.resume();
      socket.write('before');
      await until(() => tunnel.connections === 1 && created === 1, 20_000, 'the tunnelled connection');
      await sshd.kill();
      await withTimeout(closed(socket), 20_000, 'the local socket to close');
      await sshd.start();
      expect((await roundTrip(tunnel, 'after the restart')).toString()).toBe('after the restart');
      expect(created).toBe(2);
    } finally {
      await sshd.remove();
    }
  }, 120_000);

  it('reports a server that forbids forwarding (AllowTcpForwarding no) as a TunnelRefusedError and closes the local socket', async () => {
    const pool = newPool();
    const tunnel = await forward(noForwarding, pool);
    const errors: SSHPoolError[] = [];
    tunnel.on('error', (error) => errors.push(error));
    const socket = connect(tunnel.port, tunnel.host);
    socket.on('error', () => {});
    await withTimeout(closed(socket), 20_000, 'the refused socket to close');
    await until(() => errors.length === 1, 5_000, 'the error event');
    const error = errors[0] as TunnelRefusedError;
    expect(error).toBeInstanceOf(TunnelRefusedError);
    expect(error.code).toBe('ERR_SSHPOOL_TUNNEL_REFUSED');
    expect(error.reason).toBe('prohibited');
    expect(error.message).toContain(`127.0.0.1:${echoPort}`);
    expect(error.message).toMatch(/AllowTcpForwarding/);
    // The tunnel listens on, and commands on the same connection are unaffected.
    expect((await $.ssh(sshdTarget(noForwarding, pool))`echo still fine`).stdout.trim()).toBe('still fine');
  });

  it('reports a destination outside PermitOpen as prohibited, while a permitted one works', async () => {
    const pool = newPool();
    const refused = await forward(permitOpen, pool, echoPort);
    const allowed = await forward(permitOpen, pool, otherPort);
    const errors: SSHPoolError[] = [];
    refused.on('error', (error) => errors.push(error));
    expect((await roundTrip(refused, 'x')).length).toBe(0);
    await until(() => errors.length === 1, 5_000, 'the error event');
    expect((errors[0] as TunnelRefusedError).reason).toBe('prohibited');
    expect((await roundTrip(allowed, 'permitted')).toString()).toBe('permitted');
  });

  it('close() stops listening and ends the tunnel\'s connections', async () => {
    const pool = newPool();
    const tunnel = await forward(server, pool);
    const socket = await connected(tunnel);
    socket.on('error', () => {});
    socket.resume();
    await until(() => tunnel.connections === 1, 10_000, 'the connection');
    await tunnel.close();
    await withTimeout(closed(socket), 10_000, 'the open connection to close');
    const error = await new Promise<Error>((resolve) => connect(tunnel.port, tunnel.host).once('error', resolve));
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    await until(() => pool.getStats().activeConnections === 0, 10_000, 'the SSH connection to be idle');
  });

  function lifetimeScript(mode: 'close' | 'keep-open', poolConfig: Record<string, unknown> = {}) {
    return spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/integration/fixtures/tunnel-lifetime-script.ts')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env, SSHPOOL_TUNNEL_MODE: mode, SSHPOOL_TUNNEL_PORT: String(echoPort),
        SSHPOOL_TUNNEL_TARGET: JSON.stringify(sshdTarget(server, undefined, { poolConfig })),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  it('keeps a script alive while its tunnel is open, even with every SSH connection closed as idle', async () => {
    const child = lifetimeScript('keep-open', { idleTimeout: 300 });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    let exited = false;
    child.once('exit', () => (exited = true));
    try {
      await until(() => stdout.includes('idle\n') || exited, 60_000, 'the idle close in the script');
      expect(exited).toBe(false);
      const port = Number(/listening (\d+)/.exec(stdout)?.[1]);
      // Still there, and still forwarding (over a new connection).
      expect((await roundTrip({ host: '127.0.0.1', port }, 'still open')).toString()).toBe('still open');
      expect(exited).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);

  it('lets a script exit by itself once its tunnel is closed', async () => {
    const child = lifetimeScript('close');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await withTimeout(new Promise<number | null>((resolve) => child.once('exit', resolve)), 60_000, 'the script to exit').finally(() => child.kill('SIGKILL'));
    expect(stderr).toBe('');
    expect(stdout).toBe('answer ping\nclosed\n');
    expect(code).toBe(0);
  }, 90_000);
});

describe('SOCKS5', () => {
  /** A SOCKS5 CONNECT by hand (no client library): greeting, request by domain name, then data. */
  function socksRoundTrip(proxy: SSHTunnel, host: string, port: number, data: string): Promise<{ reply: number; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(proxy.port, proxy.host);
      let buffer = Buffer.alloc(0);
      let stage = 0;
      let reply = -1;
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        if (stage === 0 && buffer.length >= 2) {
          buffer = buffer.subarray(2);
          stage = 1;
          const name = Buffer.from(host);
          const request = Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([port >> 8, port & 255])]);
          socket.write(request);
        }
        if (stage === 1 && buffer.length >= 10) {
          reply = buffer[1]!;
          buffer = buffer.subarray(10);
          stage = 2;
          if (reply === 0) socket.end(data);
        }
      });
      socket.on('close', () => resolve({ reply, body: buffer.toString() }));
      socket.write(Buffer.from([5, 1, 0]));
    });
  }

  it('connects SOCKS5 clients to the destinations they name, through the pooled connection', async () => {
    const pool = newPool();
    const proxy = await $.ssh(sshdTarget(server, pool)).socks();
    track(proxy);
    const answers = await Promise.all([
      socksRoundTrip(proxy, '127.0.0.1', echoPort, 'via socks one'),
      socksRoundTrip(proxy, 'localhost', otherPort, 'via socks two'),
    ]);
    expect(answers).toEqual([{ reply: 0, body: 'via socks one' }, { reply: 0, body: 'via socks two' }]);
    expect(pool.getStats().totalConnections).toBe(1);
  });

  it('answers "not allowed" when the server forbids forwarding', async () => {
    const pool = newPool();
    const proxy = await $.ssh(sshdTarget(noForwarding, pool)).socks();
    track(proxy);
    proxy.on('error', () => {});
    expect(await socksRoundTrip(proxy, '127.0.0.1', echoPort, 'x')).toEqual({ reply: 2, body: '' });
  });
});

describe('telemetry', () => {
  async function collect(reader: TestMetricReader): Promise<Map<string, MetricData>> {
    const { resourceMetrics } = await reader.collect();
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    return byName;
  }
  const pointsOf = (metric: MetricData | undefined): Array<DataPoint<number>> => (metric?.dataPoints ?? []) as Array<DataPoint<number>>;

  it('records a CLIENT ssh.tunnel span per tunnelled connection with bytes each way and a link to ssh.connect, the open-connection gauge and the byte counter', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const reader = new TestMetricReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const pool = newPool({ tracerProvider, meterProvider });
    const tunnel = await forward(server, pool);
    const held = await connected(tunnel);
    held.resume();
    const gauge = (kind: string, metrics: Map<string, MetricData>): number | undefined =>
      pointsOf(metrics.get('ssh.client.tunnel.connections')).find((point) => point.attributes['ssh.tunnel.kind'] === kind)?.value;
    // The gauge counts a tunnelled connection once its channel is open.
    let open = await collect(reader);
    for (const started = performance.now(); gauge('local', open) !== 1 && performance.now() - started < 10_000;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      open = await collect(reader);
    }
    expect(gauge('local', open)).toBe(1);
    expect(gauge('socks', open)).toBe(0);
    held.destroy();
    expect((await roundTrip(tunnel, 'x'.repeat(1000))).length).toBe(1000);
    await until(() => exporter.getFinishedSpans().filter((span) => span.name === 'ssh.tunnel').length === 2, 10_000, 'two tunnel spans');

    const [connect] = exporter.getFinishedSpans().filter((span) => span.name === 'ssh.connect');
    const spans = exporter.getFinishedSpans().filter((span) => span.name === 'ssh.tunnel');
    const full = spans.find((span) => span.attributes['ssh.tunnel.transmitted_bytes'] === 1000)!;
    expect(full.kind).toBe(SpanKind.CLIENT);
    expect(full.attributes).toMatchObject({
      'ssh.tunnel.kind': 'local',
      'ssh.channel.type': 'direct-tcpip',
      'ssh.tunnel.destination': `127.0.0.1:${echoPort}`,
      'ssh.tunnel.received_bytes': 1000,
      'ssh.pool.name': pool.poolNameOf(sshdTarget(server, pool)),
      'server.port': server.port,
    });
    expect(full.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(full.links.map((link) => link.context.spanId)).toEqual([connect!.spanContext().spanId]);

    const after = await collect(reader);
    expect(gauge('local', after)).toBe(0);
    const io = (direction: string): number | undefined =>
      pointsOf(after.get('ssh.client.channel.io')).find((point) => point.attributes['network.io.direction'] === direction && point.attributes['ssh.channel.type'] === 'direct-tcpip')?.value;
    expect(io('transmit')).toBe(1000);
    expect(io('receive')).toBe(1000);
    expect(after.get('ssh.client.channel.io')?.descriptor.unit).toBe('By');
  });

  it('marks the span of a refused tunnelled connection with error.type', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const pool = newPool({ tracerProvider });
    const tunnel = await forward(noForwarding, pool);
    tunnel.on('error', () => {});
    await roundTrip(tunnel, 'x');
    await until(() => exporter.getFinishedSpans().some((span) => span.name === 'ssh.tunnel'), 10_000, 'the tunnel span');
    const span = exporter.getFinishedSpans().find((candidate) => candidate.name === 'ssh.tunnel')!;
    expect(span.attributes['error.type']).toBe('ERR_SSHPOOL_TUNNEL_REFUSED');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('remote forwarding', () => {
  /** Whether a connection to the server's forwarded port reaches the echo server through the tunnel. */
  async function echoes(port: number, text: string): Promise<boolean> {
    return roundTrip({ host: '127.0.0.1', port }, text).then((answer) => answer.toString() === text, () => false);
  }

  it('forwards a port the server listens on to a local address, over the pooled connection', async () => {
    const pool = newPool();
    const tunnel = await $.ssh(sshdTarget(server, pool)).forwardRemote({ to: { host: '127.0.0.1', port: echoPort } });
    track(tunnel);
    expect(tunnel.host).toBe('127.0.0.1');
    expect(tunnel.port).toBeGreaterThan(0);
    // The sshd container shares this machine's network: its listener is reachable here.
    const answers = await Promise.all(Array.from({ length: 10 }, (_, index) => roundTrip(tunnel, `from the server side ${index}`)));
    expect(answers.map(String)).toEqual(Array.from({ length: 10 }, (_, index) => `from the server side ${index}`));
    expect(pool.getStats().totalConnections).toBe(1);
  });

  it('requests the binding again after the server died and came back, on the same port', async () => {
    const sshd = await startSshd();
    try {
      const pool = newPool({ reconnect: { initialDelay: 100, maxDelay: 500 } });
      const tunnel = await $.ssh(sshdTarget(sshd, pool)).forwardRemote({ to: { host: '127.0.0.1', port: echoPort } });
      track(tunnel);
      const port = tunnel.port;
      expect(await echoes(port, 'before')).toBe(true);
      await sshd.kill();
      await sshd.start();
      await until(() => pool.getStats().totalConnections === 1, 30_000, 'a new connection');
      await answersAgain({ host: '127.0.0.1', port }, 'after', 30_000, 'the forwarded port to answer again');
      expect(tunnel.port).toBe(port);
    } finally {
      await sshd.remove();
    }
  }, 120_000);

  it('close() makes the server stop listening', async () => {
    const pool = newPool();
    const tunnel = await $.ssh(sshdTarget(server, pool)).forwardRemote({ to: { host: '127.0.0.1', port: echoPort } });
    const port = tunnel.port;
    expect(await echoes(port, 'open')).toBe(true);
    await tunnel.close();
    let refused = false;
    await until(() => {
      void new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('error', (error: NodeJS.ErrnoException) => {
          if (error.code === 'ECONNREFUSED') refused = true;
          resolve();
        });
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
      });
      return refused;
    }, 10_000, 'the server to stop listening');
  });

  it('rejects with TunnelRefusedError when the server forbids forwarding', async () => {
    const pool = newPool();
    const error = await $.ssh(sshdTarget(noForwarding, pool)).forwardRemote({ to: { host: '127.0.0.1', port: echoPort } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TunnelRefusedError);
    expect((error as Error).message).toMatch(/would not listen on 127\.0\.0\.1:0 .*AllowTcpForwarding/);
  });
});
