// sshpool's forward() in a process of its own, as `ssh -L` is: the tunnel benchmark's second
// sshpool path, so that the 20 connections that drive it do not share its event loop. Takes
// { target, sink, echo } over IPC, opens one pool and two forward()s, and answers with the
// local { sink, echo } ports; closes them when the parent disconnects.
import { loadSshpool } from './sshpool-module.js';

interface Job {
  readonly target: { host: string; port: number; username: string; privateKey: string; hostKey: { fingerprints: string[] } };
  readonly sink: number;
  readonly echo: number;
}

const job = await new Promise<Job>((resolve) => process.once('message', (message) => resolve(message as Job)));
const { $, SSHConnectionPool } = await loadSshpool();
const pool = new SSHConnectionPool({ instanceName: 'bench-tunnels-process' });
const executor = $.ssh({ ...job.target, pool });
const [sink, echo] = await Promise.all([
  executor.forward({ to: { host: '127.0.0.1', port: job.sink } }),
  executor.forward({ to: { host: '127.0.0.1', port: job.echo } }),
]);
process.send!({ sink: sink.port, echo: echo.port });
process.on('disconnect', () => {
  void Promise.all([sink.close(), echo.close()]).then(() => pool.closeAll()).then(() => process.exit(0));
});
