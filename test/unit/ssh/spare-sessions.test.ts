// Spare sessions on a real ssh2 connection (the in-process server): the adapter over ssh2's
// internals fits the installed release and no other, a command on a spare sends only exec, and
// a spare the server closes or that will not take the command never fails the command.
import { Client } from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelSpec } from '../../../src/command/channel-contract.js';
import { SSHConnection } from '../../../src/ssh/ssh2-connection.js';
import type { ConnectionSettings } from '../../../src/ssh/ssh2-connection.js';
import {
  PREPARED_SESSION_SSH2_VERSIONS,
  execOnPreparedSession,
  installedSsh2Version,
  openPreparedSession,
  preparedSessionsFit,
  requestOnPreparedSession,
} from '../../../src/ssh/prepared-session.js';
import { SPARE_MAX_IDLE_MS, SpareSession } from '../../../src/ssh/spare-session.js';
import { EmbeddedSshServer } from '../../support/embedded-ssh-server.js';
import { until } from '../../support/until.js';

const IDLE_CLOSE_MS = 300;
let server: EmbeddedSshServer;
const connections: SSHConnection[] = [];

beforeAll(async () => {
  server = await new EmbeddedSshServer({ closeIdleSessionsAfterMs: IDLE_CLOSE_MS }).start();
});
afterEach(() => {
  for (const connection of connections.splice(0)) connection.destroy('shutdown');
  server.spoilExecs.length = 0;
});
afterAll(async () => {
  await server.stop();
});

async function connect(to: EmbeddedSshServer = server): Promise<SSHConnection> {
  const settings: ConnectionSettings = {
    poolName: `${to.username}@${to.host}:${to.port}`,
    host: to.host,
    port: to.port,
    username: to.username,
    credentials: { password: to.password },
    hostKey: { policy: 'off', knownHostsFile: undefined, fingerprints: undefined, globalKnownHostsFiles: [] },
    connectionTimeout: 10_000,
    keepAliveInterval: 0,
    keepAliveCountMax: 3,
  };
  const connection = await SSHConnection.open(settings);
  connections.push(connection);
  return connection;
}

/** A ready ssh2 client of its own, outside any SSHConnection. */
async function plainClient(to: EmbeddedSshServer = server): Promise<Client> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({ host: to.host, port: to.port, username: to.username, password: to.password });
  });
  return client;
}

const echo = (text: string): ChannelSpec => ({ command: `echo ${text}`, stdin: undefined, maxBuffer: 1024 });

async function run(connection: SSHConnection, text: string) {
  const running = await connection.openChannel(echo(text), new AbortController().signal);
  const outcome = await running.outcome;
  await running.freed;
  return { prepared: running.prepared === true, stdout: outcome.stdout.toString(), exitCode: outcome.exitCode };
}

describe('the prepared-session adapter', () => {
  /** A plain ssh2 client, connected. */
  it('is pinned: it fits a connected client of the installed ssh2 release, and no other release', async () => {
    const client = await plainClient();
    try {
      expect(PREPARED_SESSION_SSH2_VERSIONS).toContain(installedSsh2Version());
      expect(preparedSessionsFit(client)).toBe(true);
      expect(preparedSessionsFit(client, '1.16.0')).toBe(false);
      expect(preparedSessionsFit(client, '2.0.0')).toBe(false);
      expect(preparedSessionsFit(client, null)).toBe(false);
    } finally {
      client.end();
    }
  });

  it('does not fit a client whose internals have another shape (not connected: no channel manager yet)', () => {
    expect(preparedSessionsFit(new Client())).toBe(false);
  });

  it('regression: a session opened on a client whose socket had closed was never answered (a command hung until its timeout); it throws "Not connected", as ssh2\'s own opens do', async () => {
    const client = await plainClient();
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    client.end();
    await closed;
    let answered = false;
    expect(() => openPreparedSession(client, () => (answered = true))).toThrow('Not connected');
    expect(answered).toBe(false);
  });

  it('lets another request (a pty) precede the exec on a prepared session', async () => {
    const client = await plainClient();
    try {
      const channel = await new Promise<import('../../../src/ssh/command-channel.js').CommandChannel>((resolve, reject) => {
        openPreparedSession(client, (error, opened) => (error ? reject(error) : resolve(opened!)));
      });
      await new Promise<void>((resolve, reject) => {
        requestOnPreparedSession(channel, (protocol, id) => protocol.pty!(id, 24, 80, 480, 640, 'xterm', null, true), (error) => (error ? reject(error) : resolve()));
      });
      const output: Buffer[] = [];
      channel.on('data', (chunk: Buffer) => output.push(chunk));
      await new Promise<void>((resolve, reject) => execOnPreparedSession(channel, 'echo after-pty', (error) => (error ? reject(error) : resolve())));
      await new Promise((resolve) => channel.once('close', () => resolve(undefined)));
      expect(Buffer.concat(output).toString()).toBe('after-pty\n');
    } finally {
      client.end();
    }
  });
});

describe('spare sessions on a connection', () => {
  it('runs a command on the spare: prepared, same output, and the spare is gone until prepared again', async () => {
    const connection = await connect();
    expect(await connection.prepareSpare()).toBe('ready');
    expect(connection.spare).toBe('ready');
    expect(await run(connection, 'on-spare')).toEqual({ prepared: true, stdout: 'on-spare\n', exitCode: 0 });
    expect(connection.spare).toBeUndefined();
    expect(await run(connection, 'own-channel')).toEqual({ prepared: false, stdout: 'own-channel\n', exitCode: 0 });
  });

  it('serves a command that claims the spare while it is still opening', async () => {
    const connection = await connect();
    const opened = connection.prepareSpare();
    expect(connection.spare).toBe('opening');
    const result = await run(connection, 'claimed-early');
    expect(result).toEqual({ prepared: true, stdout: 'claimed-early\n', exitCode: 0 });
    expect(await opened).toBe('ready');
  });

  it('does not give a command a spare open longer than SPARE_MAX_IDLE_MS (a server ChannelTimeout could cut it off): it closes it', async () => {
    const client = await plainClient();
    try {
      let now = 0;
      const gone: string[] = [];
      const spare = new SpareSession(client, (why) => gone.push(why), () => now);
      expect(await spare.opened).toBe('ready');
      now += SPARE_MAX_IDLE_MS;
      let taken = false;
      expect(spare.claim(() => (taken = true))).toBe(false);
      expect(taken).toBe(false);
      expect(spare.state).toBeUndefined();
      // Closed by us, not lost: nothing to replace behind the command's back.
      expect(gone).toEqual([]);
    } finally {
      client.end();
    }
  });

  it('holds one spare at a time', async () => {
    const connection = await connect();
    const first = connection.prepareSpare();
    expect(await connection.prepareSpare()).toBe('failed');
    expect(await first).toBe('ready');
  });

  it('drops a spare the server closed, and the next command opens its own channel', async () => {
    const connection = await connect();
    const closedBefore = server.idleSessionsClosed;
    expect(await connection.prepareSpare()).toBe('ready');
    await until(() => connection.spare === undefined, 5_000, 'the lost spare dropped');
    expect(server.idleSessionsClosed).toBeGreaterThan(closedBefore);
    expect(await run(connection, 'after-loss')).toEqual({ prepared: false, stdout: 'after-loss\n', exitCode: 0 });
  });

  it.each(['close', 'reject'] as const)('falls back to a new channel when the server answers the exec on a spare with %s', async (how) => {
    const connection = await connect();
    expect(await connection.prepareSpare()).toBe('ready');
    server.spoilExecs.push(how);
    // The command is not failed: it ran on a channel of its own.
    expect(await run(connection, 'fallback')).toEqual({ prepared: false, stdout: 'fallback\n', exitCode: 0 });
  });

  it('a cancel while the command waits for its spare settles the slot once the spare is closed', async () => {
    const connection = await connect();
    void connection.prepareSpare();
    const cancel = new AbortController();
    const opening = connection.openChannel(echo('never'), cancel.signal);
    cancel.abort('aborted');
    const error = await opening.then(() => undefined, (e: unknown) => e as Error & { settled?: Promise<void> });
    expect(error?.name).toBe('ChannelOpenCancelled');
    await error!.settled;
    expect(await run(connection, 'still-usable')).toMatchObject({ stdout: 'still-usable\n', exitCode: 0 });
  });

  it('says failed, never throws, once the connection is closed', async () => {
    const connection = await connect();
    connection.destroy('shutdown');
    await until(() => connection.closed, 5_000, 'closed');
    expect(await connection.prepareSpare()).toBe('failed');
  });
});

describe('a spare on a server whose sessions it fills (MaxSessions 1)', () => {
  let single: EmbeddedSshServer;
  beforeAll(async () => {
    single = await new EmbeddedSshServer({ maxSessions: 1 }).start();
  });
  afterAll(async () => {
    await single.stop();
  });

  it('a pty command, which cannot use the spare, gets the session: the spare is closed and the open tried again', async () => {
    const connection = await connect(single);
    expect(await connection.prepareSpare()).toBe('ready');
    const spec: ChannelSpec = { ...echo('in-a-terminal'), interaction: { pty: { cols: 80, rows: 24, term: 'xterm' } } };
    const running = await connection.openChannel(spec, new AbortController().signal);
    const outcome = await running.outcome;
    await running.freed;
    expect(outcome.exitCode).toBe(0);
    expect(outcome.stdout.toString()).toContain('in-a-terminal');
    expect(running.prepared).toBeUndefined();
    expect(connection.spare).toBeUndefined();
    expect(single.sessionsRefused).toBe(1);
  });

  it('closeIfStale gives a spare open SPARE_MAX_IDLE_MS back to the server, and keeps a younger one', async () => {
    const client = await plainClient(single);
    try {
      let now = 0;
      const gone: string[] = [];
      const spare = new SpareSession(client, (why) => gone.push(why), () => now);
      expect(await spare.opened).toBe('ready');
      now += SPARE_MAX_IDLE_MS - 1;
      expect(spare.closeIfStale()).toBe(false);
      expect(spare.state).toBe('ready');
      now += 1;
      expect(spare.closeIfStale()).toBe(true);
      expect(spare.state).toBeUndefined();
      expect(gone, 'closed by the client, not lost').toEqual([]);
      // The server's one session is free again: without the close it would refuse this one.
      const refusedBefore = single.sessionsRefused;
      const output = await new Promise<string>((resolve, reject) => {
        client.exec('echo after-stale', (error, channel) => {
          if (error) return reject(error);
          let text = '';
          channel.on('data', (chunk: Buffer) => (text += chunk.toString())).on('close', () => resolve(text));
        });
      });
      expect(output).toBe('after-stale\n');
      expect(single.sessionsRefused).toBe(refusedBefore);
    } finally {
      client.end();
    }
  });

  it('a connection keeps a spare younger than SPARE_MAX_IDLE_MS when asked to close stale ones', async () => {
    const connection = await connect(single);
    expect(await connection.prepareSpare()).toBe('ready');
    expect(connection.closeStaleSpare()).toBe('ready');
    expect(await run(connection, 'on-the-kept-spare')).toEqual({ prepared: true, stdout: 'on-the-kept-spare\n', exitCode: 0 });
  });

  it('a release while the spare is still opening closes it once it opens, and frees its session', async () => {
    const connection = await connect(single);
    void connection.prepareSpare();
    expect(connection.spare).toBe('opening');
    const spec: ChannelSpec = { ...echo('after-opening'), interaction: { pty: { cols: 80, rows: 24, term: 'xterm' } } };
    const refusedBefore = single.sessionsRefused;
    const running = await connection.openChannel(spec, new AbortController().signal);
    expect((await running.outcome).stdout.toString()).toContain('after-opening');
    expect(single.sessionsRefused).toBe(refusedBefore + 1);
  });
});
