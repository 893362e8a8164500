// The "other machines" of the overhead benchmark, in a child process so that their CPU
// time is not charged to the client being measured: the in-process SSH server, an OTLP/HTTP
// sink standing in for a Collector, and a scraper standing in for Prometheus.
//
// Messages from the parent: { type: 'scrape', url } starts scraping url every second;
// { type: 'stop-scrape' }; { type: 'report' } answers with what was received; { type: 'exit' }.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmbeddedSshServer } from '../demo/embedded-server.js';

export interface RemoteReady {
  readonly type: 'ready';
  /** Null when the parent runs against OpenSSH instead (SSHPOOL_BENCH_SSHD=1). */
  readonly ssh: { host: string; port: number; username: string; password: string; fingerprint: string } | null;
  readonly otlpUrl: string;
}

export interface RemoteReport {
  readonly type: 'report';
  readonly otlpRequests: Record<string, number>;
  readonly otlpBytes: Record<string, number>;
  readonly scrapes: number;
  readonly scrapeErrors: number;
  readonly scrapeBytes: number;
}

export interface RemoteCpu {
  readonly type: 'cpu';
  /** CPU time of this process and of the commands it ran (reaped children), in µs. */
  readonly micros: number;
}

export type ToRemote = { type: 'scrape'; url: string } | { type: 'stop-scrape' } | { type: 'report' } | { type: 'cpu' } | { type: 'exit' };

const send = (message: RemoteReady | RemoteReport | RemoteCpu): void => {
  process.send!(message);
};

const withSsh = process.argv.includes('--ssh');
const server = withSsh ? await new EmbeddedSshServer({ username: 'bench', password: 'bench-password' }).start() : undefined;

const otlpRequests: Record<string, number> = {};
const otlpBytes: Record<string, number> = {};
const sink = createServer((request, response) => {
  const path = request.url ?? '';
  let size = 0;
  request.on('data', (chunk: Buffer) => (size += chunk.length));
  request.on('end', () => {
    otlpRequests[path] = (otlpRequests[path] ?? 0) + 1;
    otlpBytes[path] = (otlpBytes[path] ?? 0) + size;
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));

let scrapeTimer: NodeJS.Timeout | undefined;
let scrapes = 0;
let scrapeErrors = 0;
let scrapeBytes = 0;

/** Own CPU (µs precision) plus the CPU of reaped children from /proc (clock ticks of 10 ms). */
function cpuMicros(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // After "pid (comm) ": state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    children = (Number(fields[13]) + Number(fields[14])) * 10_000;
  } catch {
    // Not Linux: own CPU only.
  }
  return own.user + own.system + children;
}

function scrape(url: string): void {
  fetch(url).then(
    async (response) => {
      scrapeBytes += (await response.arrayBuffer()).byteLength;
      scrapes++;
    },
    () => scrapeErrors++,
  );
}

// Ends with the benchmark, however that ends.
process.on('disconnect', () => process.exit(0));

process.on('message', (message: ToRemote) => {
  switch (message.type) {
    case 'scrape':
      clearInterval(scrapeTimer);
      scrape(message.url);
      scrapeTimer = setInterval(() => scrape(message.url), 1_000);
      break;
    case 'stop-scrape':
      clearInterval(scrapeTimer);
      break;
    case 'cpu':
      send({ type: 'cpu', micros: cpuMicros() });
      break;
    case 'report':
      send({ type: 'report', otlpRequests, otlpBytes, scrapes, scrapeErrors, scrapeBytes });
      break;
    case 'exit':
      clearInterval(scrapeTimer);
      sink.closeAllConnections();
      sink.close();
      void (server?.stop() ?? Promise.resolve()).then(() => process.exit(0));
      break;
  }
});

send({
  type: 'ready',
  ssh: server
    ? { host: server.host, port: server.port, username: server.username, password: server.password, fingerprint: server.hostKeyFingerprint }
    : null,
  otlpUrl: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
});
