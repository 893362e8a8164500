// Tunnels: sshpool's forward() against OpenSSH's `ssh -L` and a direct connection, on one
// OpenSSH server (the sshd container, host networking) with the destination on this machine's
// loopback. Two workloads: bulk throughput (one connection sends N bytes to a sink) and short
// request/response round trips over 20 concurrent connections. Paths: direct TCP, `ssh -L`,
// sshpool's forward() in the driving process and in one of its own, and plain ssh2 (forwardOut
// piped to each accepted socket) in one of its own, the baseline of what ssh2 itself costs. LAN by default;
// SSHPOOL_BENCH_TUNNEL_WAN=1 puts the WAN profile's delay proxy (25 ms each way) in front of
// sshd, so that both tunnels' SSH traffic crosses the same 50 ms round trip (the direct path
// stays direct).
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { viaPort } from './bench-host.js';
import type { BenchHost } from './bench-host.js';
import { SSH_BINARY } from './contenders/openssh-mux.js';
import { DelayProxy } from './delay-proxy.js';
import { OpenSshFleet } from './openssh-fleet.js';
import { WAN_DELAY_MS } from './workloads.js';
import { loadSshpool, sshpoolTarget } from './sshpool-module.js';

interface Options {
  readonly smoke: boolean;
  readonly out: (text?: string) => void;
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/** Sends `bytes` on one connection to the sink at `via`; resolves with the seconds it took, sink's answer included. */
function bulk(via: Endpoint, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ ...via, noDelay: true });
    let sent = 0;
    let answer = '';
    const pump = (): void => {
      while (sent < bytes) {
        const size = Math.min(CHUNK.length, bytes - sent);
        sent += size;
        if (!socket.write(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size))) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    socket.on('connect', pump);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      if (answer !== `done ${bytes}`) reject(new Error(`the sink answered "${answer}" for ${bytes} bytes`));
      else resolve((performance.now() - started) / 1000);
    });
  });
}

/** `total` request/response round trips of 32 bytes over `connections` connections to the echo server at `via`; resolves with seconds. */
async function roundTrips(via: Endpoint, connections: number, total: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => new Promise<Socket>((resolve, reject) => {
    const socket = connect({ ...via, noDelay: true }, () => resolve(socket));
    socket.on('error', reject);
  })));
  const request = Buffer.alloc(32, 0x61);
  const started = performance.now();
  await Promise.all(sockets.map(async (socket, index) => {
    const mine = Math.floor(total / connections) + (index < total % connections ? 1 : 0);
    for (let i = 0; i < mine; i++) {
      await new Promise<void>((resolve) => {
        let got = 0;
        const onData = (chunk: Buffer): void => {
          got += chunk.length;
          if (got < request.length) return;
          socket.off('data', onData);
          resolve();
        };
        socket.on('data', onData);
        socket.write(request);
      });
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  for (const socket of sockets) socket.destroy();
  return seconds;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** `ssh -N -L` for each destination, as a user would run it; resolves once every local port accepts connections. */
async function openSshForward(host: BenchHost, destinations: readonly number[]): Promise<{ ports: number[]; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'sshpool-tunnel-bench-'));
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, host.privateKey.endsWith('\n') ? host.privateKey : `${host.privateKey}\n`);
  chmodSync(keyFile, 0o600);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[${host.host}]:${host.port} ${host.hostPublicKey}\n`);
  const ports = await Promise.all(destinations.map(() => freePort()));
  const child: ChildProcess = spawn(SSH_BINARY, [
    '-F', '/dev/null', '-N', '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes', '-o', `UserKnownHostsFile=${knownHosts}`,
    '-i', keyFile, '-p', String(host.port),
    ...destinations.flatMap((destination, index) => ['-L', `127.0.0.1:${ports[index]}:127.0.0.1:${destination}`]),
    `${host.username}@${host.host}`,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = (): void => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = performance.now() + 20_000;
  for (const port of ports) {
    for (;;) {
      const accepted = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
      if (accepted) break;
      if (performance.now() > deadline || child.exitCode !== null) {
        stop();
        throw new Error('ssh -L did not listen within 20 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { ports, stop };
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function runTunnels(options: Options): Promise<void> {
  const { out } = options;
  // SSHPOOL_BENCH_TUNNEL_MIB: another size for the bulk transfer (the full run sends 1 GiB).
  const mib = Number(process.env['SSHPOOL_BENCH_TUNNEL_MIB'] ?? (options.smoke ? 8 : 1024));
  const bytes = mib * 1024 * 1024;
  const trips = options.smoke ? 100 : 1_000;
  const rounds = options.smoke ? 1 : 3;
  const fleet = await OpenSshFleet.start(1);
  const target = fork(fileURLToPath(new URL('./tunnel-target-process.ts', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ports = await new Promise<{ sink: number; echo: number }>((resolve, reject) => {
    target.once('message', (message: { sink: number; echo: number }) => resolve(message));
    target.once('exit', (code) => reject(new Error(`the tunnel destination exited with code ${code}`)));
  });
  const wan = process.env['SSHPOOL_BENCH_TUNNEL_WAN'] === '1';
  const proxy = wan ? await DelayProxy.start(fleet.hosts[0]!, WAN_DELAY_MS) : undefined;
  const host = proxy ? viaPort(fleet.hosts[0]!, proxy.port) : fleet.hosts[0]!;
  const ssh = await openSshForward(host, [ports.sink, ports.echo]);
  const { $, SSHConnectionPool } = await loadSshpool();
  const pool = new SSHConnectionPool({ instanceName: 'bench-tunnels' });
  const executor = $.ssh({ ...sshpoolTarget(host), pool });
  const [sinkTunnel, echoTunnel] = await Promise.all([
    executor.forward({ to: { host: '127.0.0.1', port: ports.sink } }),
    executor.forward({ to: { host: '127.0.0.1', port: ports.echo } }),
  ]);
  // The same forward()s in a process of their own, as `ssh -L` runs: what the tunnel costs
  // without sharing an event loop with the connections that drive it.
  const separate = fork(fileURLToPath(new URL('./tunnel-forward-process.ts', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const separatePorts = await new Promise<{ sink: number; echo: number }>((resolve, reject) => {
    separate.once('message', (message: { sink: number; echo: number }) => resolve(message));
    separate.once('exit', (code) => reject(new Error(`the forward() process exited with code ${code}`)));
    separate.send({ target: sshpoolTarget(host), sink: ports.sink, echo: ports.echo });
  });
  const plain = fork(fileURLToPath(new URL('./tunnel-ssh2-process.ts', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const plainPorts = await new Promise<{ sink: number; echo: number }>((resolve, reject) => {
    plain.once('message', (message: { sink: number; echo: number }) => resolve(message));
    plain.once('exit', (code) => reject(new Error(`the plain ssh2 tunnel process exited with code ${code}`)));
    plain.send({ target: sshpoolTarget(host), sink: ports.sink, echo: ports.echo });
  });
  const paths = [
    { name: 'direct TCP (no SSH)', sink: { host: '127.0.0.1', port: ports.sink }, echo: { host: '127.0.0.1', port: ports.echo } },
    { name: 'OpenSSH `ssh -L`', sink: { host: '127.0.0.1', port: ssh.ports[0]! }, echo: { host: '127.0.0.1', port: ssh.ports[1]! } },
    { name: 'sshpool `forward()`', sink: sinkTunnel, echo: echoTunnel },
    { name: 'sshpool `forward()`, a process of its own', sink: { host: '127.0.0.1', port: separatePorts.sink }, echo: { host: '127.0.0.1', port: separatePorts.echo } },
    { name: 'plain ssh2 `forwardOut()` piped, a process of its own', sink: { host: '127.0.0.1', port: plainPorts.sink }, echo: { host: '127.0.0.1', port: plainPorts.echo } },
  ];
  try {
    const results = new Map<string, { throughput: number[]; perTrip: number[] }>(paths.map((path) => [path.name, { throughput: [], perTrip: [] }]));
    // Rounds rotate the order, so that no path always runs first on a cold machine.
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(i + round) % paths.length]!;
        const result = results.get(path.name)!;
        try {
          result.throughput.push(bytes / 1024 / 1024 / (await bulk(path.sink, bytes)));
          result.perTrip.push(((await roundTrips(path.echo, 20, trips)) / trips) * 1000 * 20);
        } catch (error) {
          throw new Error(`${path.name}: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    const size = bytes >= 1024 * 1024 * 1024 ? `${bytes / 1024 / 1024 / 1024} GiB` : `${bytes / 1024 / 1024} MiB`;
    out(`### Tunnels: ${size} through one connection, and ${trips} round trips of 32 bytes over 20 connections (${wan ? `WAN: sshd behind +${WAN_DELAY_MS} ms each way` : 'LAN'}, median of ${rounds} round${rounds === 1 ? '' : 's'})`);
    out();
    out('| path | throughput MiB/s | ÷ ssh -L | round trip ms (per connection) | ÷ ssh -L |');
    out('| --- | ---: | ---: | ---: | ---: |');
    const baseline = results.get('OpenSSH `ssh -L`')!;
    for (const path of paths) {
      const result = results.get(path.name)!;
      const throughput = median(result.throughput);
      const perTrip = median(result.perTrip);
      out(`| ${path.name} | ${throughput.toFixed(1)} | ${(throughput / median(baseline.throughput)).toFixed(2)}× | ${perTrip.toFixed(2)} | ${(perTrip / median(baseline.perTrip)).toFixed(2)}× |`);
    }
    out();
    out(`sshpool carried both tunnels over ${pool.getStats().totalConnections} SSH connection(s); \`ssh -L\` over one.`);
    out();
  } finally {
    await Promise.all([sinkTunnel.close(), echoTunnel.close()]);
    await pool.closeAll();
    separate.disconnect();
    plain.disconnect();
    ssh.stop();
    target.kill();
    await proxy?.stop();
    await fleet.stop();
  }
}
