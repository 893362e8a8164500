// Every kind of work over a 50 ms round trip (a proxy holds each chunk 25 ms each way, in
// front of real OpenSSH with MaxSessions 2 and a non-root login): commands with spare
// channels, streamed output, file transfers, local and remote forwarding, and a server that
// dies mid-way. Correctness only: how fast each is over such a link is in the benchmarks.
import { createHash, randomBytes } from 'node:crypto';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { AddressInfo, Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DelayProxy } from '../../bench/compare/delay-proxy.js';
import { $, ConnectionLostError, SSHConnectionPool } from '../../src/index.js';
import type { SSHTarget } from '../../src/index.js';
import { echoServer, roundTrip } from '../support/echo-peer.js';
import { sshdTarget } from '../support/sshd-target.js';
import { startSshd } from '../support/sshd.js';
import type { SshdServer } from '../support/sshd.js';
import { withTimeout } from '../support/with-timeout.js';

const DELAY_MS = 25;
const HOME = '/home/tester';

let sshd: SshdServer;
let proxy: DelayProxy;
let echo: Server;
const pools: SSHConnectionPool[] = [];

beforeAll(async () => {
  [sshd, echo] = await Promise.all([startSshd({ config: { MaxSessions: 2 } }), echoServer()]);
  proxy = await DelayProxy.start({ host: sshd.host, port: sshd.port }, DELAY_MS);
}, 120_000);

afterAll(async () => {
  await Promise.all(pools.splice(0).map((pool) => withTimeout(pool.closeAll({ timeout: 1_000 }), 20_000, 'closeAll()')));
  await proxy?.stop();
  echo?.close();
});

/** The container's sshd as seen through the delay proxy. */
function wanTarget(extra: Partial<SSHTarget> = {}): SSHTarget {
  const pool = new SSHConnectionPool({ connectionTimeout: 10_000 });
  pools.push(pool);
  return sshdTarget({ ...sshd, host: '127.0.0.1', port: proxy.port }, pool, extra);
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('over a 50 ms round trip', () => {
  it('a cold burst opens the other connections during the first one\'s login, and their logins come after it (MaxSessions 2, non-root)', async () => {
    const exporter = new InMemorySpanExporter();
    const pool = new SSHConnectionPool({ connectionTimeout: 10_000, tracerProvider: new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }) });
    pools.push(pool);
    const ssh = $.ssh(sshdTarget({ ...sshd, host: '127.0.0.1', port: proxy.port }, pool, { poolConfig: { maxChannelsPerConnection: 2 } }));
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => ssh`echo ${`c${i}`} $(id -un)`));
    results.forEach((result, i) => expect(result.stdout).toBe(`c${i} tester\n`));

    const eventAt = (span: ReadableSpan, name: string): number | undefined => {
      const event = span.events.find((one) => one.name === name);
      return event ? event.time[0] * 1e3 + event.time[1] / 1e6 : undefined;
    };
    const connects = exporter.getFinishedSpans().filter((span) => span.name === 'ssh.connect')
      .sort((a, b) => eventAt(a, 'ssh.connect.authenticated')! - eventAt(b, 'ssh.connect.authenticated')!);
    const [first, ...others] = connects;
    const firstLoggedIn = eventAt(first!, 'ssh.connect.authenticated')!;
    // The others started once the first one's key exchange ended: their TCP connects and key
    // exchanges ran during its login (three round trips here), not after it.
    const overlapping = others.filter((span) => eventAt(span, 'ssh.connect.tcp_connected')! < firstLoggedIn);
    expect(overlapping.length).toBeGreaterThan(0);
    for (const span of others) {
      // Whether or not it waited for its turn, no other login ended before the first one.
      expect(eventAt(span, 'ssh.connect.authenticated')!).toBeGreaterThanOrEqual(firstLoggedIn);
    }
    const waited = connects.filter((span) => eventAt(span, 'ssh.connect.login_turn') !== undefined).length;
    console.info(`cold burst over 50 ms: ${connects.length} connections, ${overlapping.length} connected during the first login, ${waited} waited for its answer`);
  }, 60_000);

  it('20 commands at once on a MaxSessions=2 server all succeed with their own output, as a non-root login', async () => {
    const ssh = $.ssh(wanTarget());
    const results = await Promise.all(Array.from({ length: 20 }, (_, index) => ssh`echo ${index} $(id -un)`));
    expect(results.map((result) => result.stdout)).toEqual(Array.from({ length: 20 }, (_, index) => `${index} tester\n`));
  }, 60_000);

  it('sequential commands on a warm connection each get their own output (spare channels on)', async () => {
    const ssh = $.ssh(wanTarget());
    for (let index = 0; index < 10; index++) expect((await ssh`echo ${index}`).stdout).toBe(`${index}\n`);
  }, 60_000);

  it('streams 16 MiB of output intact', async () => {
    const ssh = $.ssh(wanTarget());
    const expected = (await ssh`head -c 16777216 /dev/urandom | tee ${HOME}/wan-stream | sha256sum`).stdout.split(' ')[0];
    const hash = createHash('sha256');
    const cat = ssh`cat ${HOME}/wan-stream`;
    for await (const chunk of cat.stdout) hash.update(chunk as Buffer);
    expect((await cat).exitCode).toBe(0);
    expect(hash.digest('hex')).toBe(expected);
  }, 60_000);

  it('uploads and downloads 8 MiB with the same sha256 at both ends', async () => {
    const ssh = $.ssh(wanTarget());
    const data = randomBytes(8 * 1024 * 1024);
    await ssh.upload(data, `${HOME}/wan file`, { verify: 'sha256' });
    expect(sha256(await ssh.readFile(`${HOME}/wan file`))).toBe(sha256(data));
  }, 60_000);

  it('5 transfers and 10 commands at once on one connection to a MaxSessions=2 server all succeed, with correct contents', async () => {
    const ssh = $.ssh(wanTarget({ poolConfig: { maxConnections: 1, maxChannelsPerConnection: 10 } }));
    const files = Array.from({ length: 5 }, (_, index) => ({ path: `${HOME}/wan-mixed-${index}.bin`, data: randomBytes(256 * 1024 + index) }));
    const work = await Promise.all([
      ...files.map(({ path, data }) => ssh.writeFile(path, data).then((result) => result.bytes)),
      ...Array.from({ length: 10 }, (_, index) => ssh`echo ${`command ${index}`}`.then((result) => result.stdout)),
    ]);
    expect(work).toEqual([...files.map(({ data }) => data.length), ...Array.from({ length: 10 }, (_, index) => `command ${index}\n`)]);
    const read = await Promise.all(files.map(({ path }) => ssh.readFile(path)));
    expect(read.map(sha256)).toEqual(files.map(({ data }) => sha256(data)));
  }, 60_000);

  it('forward() carries 20 concurrent connections intact', async () => {
    const tunnel = await $.ssh(wanTarget()).forward({ to: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port } });
    try {
      const payloads = Array.from({ length: 20 }, (_, index) => randomBytes(64 * 1024 + index));
      const answers = await Promise.all(payloads.map((payload) => roundTrip(tunnel, payload)));
      expect(answers.map(sha256)).toEqual(payloads.map(sha256));
    } finally {
      await tunnel.close();
    }
  }, 60_000);

  it('forwardRemote() carries connections made to the server\'s port back to a local address', async () => {
    const tunnel = await $.ssh(wanTarget()).forwardRemote({ to: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port } });
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, (_, index) => roundTrip(tunnel, `over the WAN ${index}`)));
      expect(answers.map(String)).toEqual(Array.from({ length: 5 }, (_, index) => `over the WAN ${index}`));
    } finally {
      await tunnel.close();
    }
  }, 60_000);

  it('regression: a burst past MaxSessions collapsed the learned channel limit to 1 (channels whose exec was unanswered counted as unopened); it stays at what the server allows', async () => {
    const server = await startSshd();
    const delayed = await DelayProxy.start({ host: server.host, port: server.port }, DELAY_MS);
    const pool = new SSHConnectionPool({ connectionTimeout: 10_000, maxConnections: 1, maxChannelsPerConnection: 10 });
    pools.push(pool);
    try {
      const ssh = $.ssh(sshdTarget({ ...server, host: '127.0.0.1', port: delayed.port }, pool));
      await ssh`true`;
      // Ten at once beside the connection's spare: eleven sessions for sshd's default MaxSessions 10.
      const burst = await Promise.all(Array.from({ length: 10 }, (_, index) => ssh`echo ${index}`));
      expect(burst.map((result) => result.stdout)).toEqual(Array.from({ length: 10 }, (_, index) => `${index}\n`));
      let most = 0;
      const sampler = setInterval(() => (most = Math.max(most, pool.getStats().openChannels)), 5);
      try {
        await Promise.all(Array.from({ length: 8 }, () => ssh`sleep 1`));
      } finally {
        clearInterval(sampler);
      }
      expect(most).toBeGreaterThanOrEqual(8);
    } finally {
      await delayed.stop();
      await server.remove();
    }
  }, 120_000);

  it('regression: transfers queued behind commands each waited for a free slot, then closed and reopened the SFTP channel; they now ride the open one', async () => {
    const server = await startSshd({ config: { MaxSessions: 2, LogLevel: 'VERBOSE' } });
    const delayed = await DelayProxy.start({ host: server.host, port: server.port }, DELAY_MS);
    const pool = new SSHConnectionPool({ connectionTimeout: 10_000, maxConnections: 1 });
    pools.push(pool);
    const sftpOpens = async (): Promise<number> => (await server.logs()).match(/Starting session: subsystem 'sftp'/g)?.length ?? 0;
    try {
      const ssh = $.ssh(sshdTarget({ ...server, host: '127.0.0.1', port: delayed.port }, pool));
      await ssh`true`;
      const first = randomBytes(16 * 1024 * 1024);
      let started!: () => void;
      const inProgress = new Promise<void>((resolve) => (started = resolve));
      const opening = ssh.upload(first, `${HOME}/ride-0.bin`, { onProgress: () => started() });
      await Promise.race([inProgress, opening]);
      // The SFTP channel is open and busy; commands now take the other session and queue for it.
      const commands = Promise.all(Array.from({ length: 6 }, (_, index) => ssh`sleep 0.2; echo ${index}`));
      const files = Array.from({ length: 4 }, (_, index) => ({ path: `${HOME}/ride-${index + 1}.bin`, data: randomBytes(64 * 1024 + index) }));
      const writes = files.map(({ path, data }) => ssh.writeFile(path, data));
      await Promise.all([opening, ...writes]);
      expect(await sftpOpens()).toBe(1);
      expect((await commands).map((result) => result.stdout)).toEqual(Array.from({ length: 6 }, (_, index) => `${index}\n`));
      const read = await Promise.all([`${HOME}/ride-0.bin`, ...files.map(({ path }) => path)].map((path) => ssh.readFile(path)));
      expect(read.map(sha256)).toEqual([first, ...files.map(({ data }) => data)].map(sha256));
    } finally {
      await delayed.stop();
      await server.remove();
    }
  }, 120_000);

  it('a server killed mid-command fails that command with ConnectionLostError, and the next one runs once it is back', async () => {
    const server = await startSshd();
    const delayed = await DelayProxy.start({ host: server.host, port: server.port }, DELAY_MS);
    const pool = new SSHConnectionPool({ connectionTimeout: 10_000, reconnect: { initialDelay: 100, maxDelay: 500 } });
    pools.push(pool);
    try {
      const ssh = $.ssh(sshdTarget({ ...server, host: '127.0.0.1', port: delayed.port }, pool));
      const command = ssh`echo started; sleep 30`;
      const lines = command.lines();
      expect((await withTimeout(lines.next(), 20_000, 'the command to start')).value).toBe('started');
      await server.kill();
      const error = await withTimeout(lines.next().then(() => undefined, (e: unknown) => e), 20_000, 'the command on a killed server');
      expect(error).toBeInstanceOf(ConnectionLostError);
      await expect(command).rejects.toBeInstanceOf(ConnectionLostError);
      await server.start();
      expect((await withTimeout(ssh`echo back`, 60_000, 'a command after the restart')).stdout).toBe('back\n');
    } finally {
      await delayed.stop();
      await server.remove();
    }
  }, 120_000);
});
