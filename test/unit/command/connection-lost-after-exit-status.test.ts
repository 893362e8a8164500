import type { ServerChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, ConnectionLostError, SSHConnectionPool } from '../../../src/index.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';

let server: EmbeddedSshServer;
let pool: SSHConnectionPool;

beforeAll(async () => {
  // For the marked command the server sends its output and exit status 0, then drops every
  // socket before closing the channel: what a sshd killed at that moment leaves behind.
  server = await new EmbeddedSshServer({
    onExec: (channel: ServerChannel, command: string) => {
      if (!command.includes('dies-after-exit-status')) return;
      channel.write('partial\n');
      channel.exit(0);
      setImmediate(() => server.dropAllConnections());
    },
  }).start();
  pool = new SSHConnectionPool();
});

afterAll(async () => {
  await pool.closeAll();
  await server.stop();
});

describe('a connection lost after the exit status arrived', () => {
  it('rejects with ConnectionLostError whose result is not ok but carries the exit status the server sent', async () => {
    const ssh = $.ssh({ host: server.host, port: server.port, username: server.username, privateKey: server.privateKey, hostKey: 'off', pool });
    const error = await ssh`sleep 5; echo dies-after-exit-status`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionLostError);
    const { result } = error as ConnectionLostError;
    expect(result.ok).toBe(false);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('partial\n');
  });
});
