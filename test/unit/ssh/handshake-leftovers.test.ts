// What a connection lets go of once ready (src/ssh/handshake-leftovers.ts): the finished key
// exchange's key pair and pool-slab shares of the identification strings, on a real ssh2 client
// and server, with re-keys that still complete afterwards.
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseHandshakeLeftovers } from '../../../src/ssh/handshake-leftovers.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';

interface Internals {
  _protocol: { _kex: { _keys: unknown; sessionID: Buffer }; _identRaw: Buffer; _remoteIdentRaw: Buffer; rekey(): void };
}

let server: EmbeddedSshServer;
beforeAll(async () => {
  server = await new EmbeddedSshServer().start();
});
afterAll(async () => {
  await server.stop();
});

async function readyClient(): Promise<Client & Internals> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({ host: server.host, port: server.port, username: server.username, password: server.password });
  });
  return client as Client & Internals;
}

function exec(client: Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let output = '';
      channel.on('data', (chunk: Buffer) => (output += chunk.toString())).on('close', () => resolve(output));
    });
  });
}

/** Resolves when the next key exchange completes (ssh2's client emits `handshake` for each one). */
function nextHandshake(client: Client): Promise<void> {
  return new Promise((resolve) => client.once('handshake', () => resolve()));
}

/** A re-key the client starts (ssh2 1.17's client has no public call for it). */
function rekey(client: Client & Internals): Promise<void> {
  const done = nextHandshake(client);
  client._protocol.rekey();
  return done;
}

const ownsItsMemory = (buffer: Buffer): boolean => buffer.byteLength === buffer.buffer.byteLength;

describe('releaseHandshakeLeftovers', () => {
  it('drops the finished exchange\'s key pair and gives each identification string memory of its own, same bytes', async () => {
    const client = await readyClient();
    try {
      const protocol = client._protocol;
      expect(protocol._kex._keys, 'ssh2 keeps the key pair').not.toBeNull();
      expect(ownsItsMemory(protocol._remoteIdentRaw), 'a share of a pool slab').toBe(false);
      const ident = Buffer.from(protocol._identRaw);
      const remoteIdent = Buffer.from(protocol._remoteIdentRaw);
      releaseHandshakeLeftovers(client);
      expect(protocol._kex._keys).toBeNull();
      expect(ownsItsMemory(protocol._identRaw)).toBe(true);
      expect(ownsItsMemory(protocol._remoteIdentRaw)).toBe(true);
      expect(protocol._identRaw.equals(ident)).toBe(true);
      expect(protocol._remoteIdentRaw.equals(remoteIdent)).toBe(true);
    } finally {
      client.end();
    }
  });

  it('re-keys afterwards, started by either side, and commands run after each re-key', async () => {
    const client = await readyClient();
    try {
      releaseHandshakeLeftovers(client);
      const sessionID = Buffer.from(client._protocol._kex.sessionID);
      await rekey(client);
      expect(await exec(client, 'echo after-client-rekey')).toBe('after-client-rekey\n');
      const serverRekeyed = nextHandshake(client);
      server.rekeyAll();
      await serverRekeyed;
      expect(await exec(client, 'echo after-server-rekey')).toBe('after-server-rekey\n');
      // The session identifier is the first exchange's for the connection's life (RFC 4253 §7.2).
      expect(client._protocol._kex.sessionID.equals(sessionID)).toBe(true);
      // A re-key's own key pair is let go of again.
      releaseHandshakeLeftovers(client);
      expect(client._protocol._kex._keys).toBeNull();
      await rekey(client);
      expect(await exec(client, 'echo after-third-rekey')).toBe('after-third-rekey\n');
    } finally {
      client.end();
    }
  });

  it('leaves everything as it is on an ssh2 release it was not read against', async () => {
    const client = await readyClient();
    try {
      const keys = client._protocol._kex._keys;
      const remoteIdent = client._protocol._remoteIdentRaw;
      releaseHandshakeLeftovers(client, '1.16.0');
      expect(client._protocol._kex._keys).toBe(keys);
      expect(client._protocol._remoteIdentRaw).toBe(remoteIdent);
    } finally {
      client.end();
    }
  });
});
