// Plain ssh2 as a tunnel, in a process of its own: what users write without sshpool (one
// Client, a net.Server, and forwardOut() piped both ways per accepted connection). The tunnel
// benchmark's baseline for what sshpool's forward() adds on top of ssh2. Takes
// { target, sink, echo } over IPC and answers with the local { sink, echo } ports.
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Client } from 'ssh2';

interface Job {
  readonly target: { host: string; port: number; username: string; privateKey: string; hostKey: { fingerprints: string[] } };
  readonly sink: number;
  readonly echo: number;
}

const job = await new Promise<Job>((resolve) => process.once('message', (message) => resolve(message as Job)));
const client = new Client();
await new Promise<void>((resolve, reject) => {
  client.once('ready', resolve).once('error', reject).connect({
    host: job.target.host,
    port: job.target.port,
    username: job.target.username,
    privateKey: job.target.privateKey,
    hostVerifier: (key: Buffer) => job.target.hostKey.fingerprints.includes(`SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`),
  });
});

function listen(destination: number): Promise<Server> {
  // Half-open, as `ssh -L` is: the sink answers after the sender has ended its side.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.setNoDelay(true);
    client.forwardOut('127.0.0.1', 0, '127.0.0.1', destination, (error, channel) => {
      if (error) {
        socket.destroy();
        return;
      }
      socket.pipe(channel).pipe(socket);
      socket.on('error', () => channel.destroy());
      channel.on('error', () => socket.destroy());
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const [sink, echo] = await Promise.all([listen(job.sink), listen(job.echo)]);
process.send!({ sink: (sink.address() as AddressInfo).port, echo: (echo.address() as AddressInfo).port });
process.on('disconnect', () => {
  sink.close();
  echo.close();
  client.end();
  process.exit(0);
});
