import ssh2 from 'ssh2';
import type { ConnectConfig } from 'ssh2';
import type { BenchHost } from '../bench-host.js';
import { fingerprintOf } from '../fingerprint.js';

const { Client } = ssh2;
export type Ssh2Client = InstanceType<typeof Client>;

/** ssh2 connect options for a bench host (also node-ssh's, which passes them to ssh2): key login, host key pinned. */
export function pinnedConnectConfig(host: BenchHost): ConnectConfig & { privateKey: string } {
  return {
    host: host.host,
    port: host.port,
    username: host.username,
    privateKey: host.privateKey,
    readyTimeout: 60_000,
    hostVerifier: (key: Buffer) => fingerprintOf(key) === host.hostKeyFingerprint,
  };
}

/** Opens an authenticated ssh2 connection that pins the host key; `noDelay` sets TCP_NODELAY. */
export function connectSsh2(host: BenchHost, options: { noDelay: boolean }): Promise<Ssh2Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    // ssh2 may emit more than one error (e.g. a reset after a failed handshake); after the
    // first, the promise is settled and the rest have nowhere to go.
    client.on('error', reject);
    client.once('close', () => reject(new Error('connection closed before it was ready')));
    client.connect(pinnedConnectConfig(host));
    // ssh2 creates its socket inside connect() and has no connect option for TCP_NODELAY.
    if (options.noDelay) client.setNoDelay(true);
  });
}

/** Error of a channel open the server refused (MaxSessions), so a driver can retry elsewhere. */
export class ChannelOpenError extends Error {}

/** Runs one command on an open connection; resolves with stdout when it exited 0. */
export function execSsh2(client: Ssh2Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) {
        reject(new ChannelOpenError(error.message));
        return;
      }
      // No input: EOF on stdin, as every library here sends, so a command that reads stdin ends
      // instead of hanging (and the ceiling does the same protocol work as the others).
      stream.end();
      const chunks: Buffer[] = [];
      let code: number | null = null;
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.stderr.resume();
      stream.on('exit', (exitCode: number | null) => {
        code = exitCode;
      });
      stream.on('close', () => {
        if (code === 0) resolve(Buffer.concat(chunks).toString('utf8'));
        else reject(new Error(`exit status ${code}`));
      });
    });
  });
}
