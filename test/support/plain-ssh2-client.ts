import { Client } from 'ssh2';
import type { EmbeddedSshServer } from './embedded-ssh-server.js';

/** A bare ssh2 client, logged in to the in-process server with its password. */
export async function plainClient(server: EmbeddedSshServer): Promise<Client> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({ host: server.host, port: server.port, username: server.username, password: server.password });
  });
  return client;
}

/** Runs `test` with a bare ssh2 client, which is ended afterwards whatever happens. */
export async function withClient(server: EmbeddedSshServer, test: (client: Client) => Promise<void>): Promise<void> {
  const client = await plainClient(server);
  try {
    await test(client);
  } finally {
    client.end();
  }
}
