import { spawn } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { generateKeyPair } from './generate-key-pair.js';
import type { Connection, ServerChannel } from 'ssh2';

// ssh2 is CommonJS: plain Node ESM (tsx, the demo) sees only its default export.
const { Server, utils } = ssh2;

// Home folders of started servers not yet stopped: a process that ends without stopping them
// (process.exit() on a second Ctrl-C, a crash) still removes them.
const liveHomes = new Set<string>();
let exitHookInstalled = false;
function trackHome(home: string): void {
  liveHomes.add(home);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const dir of liveHomes) rmSync(dir, { recursive: true, force: true });
  });
}

/** Options of an in-process SSH server used for fast fault-injection tests. */
export interface EmbeddedServerOptions {
  /** Sessions one connection may have open at once; more are refused like OpenSSH `MaxSessions`. */
  maxSessions?: number;
  /** Accepted password for `username`. */
  password?: string;
  username?: string;
  /** Milliseconds to stall before answering authentication (to test connect timeouts). */
  authDelayMs?: number;
  /** Sees each exec channel as it is accepted, before the command's output is piped into it. */
  onExec?: (channel: ServerChannel, command: string) => void;
  /** Text the server sends before its SSH banner (ssh2's `greeting`). */
  greeting?: string;
  /** Closes a session that got no request within this many ms (a channel inactivity timeout). */
  closeIdleSessionsAfterMs?: number;
  /**
   * Log in by keyboard-interactive only: each round's prompts are sent in turn, and the login
   * succeeds when every answer equals the expected one (a password round, then an OTP, ...).
   */
  keyboardInteractive?: ReadonlyArray<ReadonlyArray<{ prompt: string; echo?: boolean; answer: string }>>;
}

/** How the server may answer an exec request instead of running it: close the session, or refuse the request. */
export type SpoiledExec = 'close' | 'reject';

interface ServerSessionInternals {
  _chanInfo: { outgoing: { id: number } };
}
interface ServerConnectionInternals {
  _protocol: { channelClose(id: number): void };
}

/**
 * A real SSH protocol server (ssh2's) on 127.0.0.1 that runs exec requests with /bin/sh.
 * Not OpenSSH: it lets tests inject faults OpenSSH cannot be asked for, such as dropping
 * every socket at once or stalling authentication.
 */
export class EmbeddedSshServer {
  readonly username: string;
  readonly password: string;
  /** Logins that answered every keyboard-interactive round. */
  keyboardInteractiveLogins = 0;
  readonly privateKey: string;
  readonly hostPublicKey: Buffer;
  port = 0;
  readonly host = '127.0.0.1';

  #server: InstanceType<typeof Server>;
  #sockets = new Set<Socket>();
  /** Authenticated connections. */
  #clients = new Set<Connection>();
  /** The commands' cwd and HOME: made by start(), removed by stop(). */
  #home: string | undefined;
  #options: EmbeddedServerOptions;
  connectionsAccepted = 0;
  sessionsRefused = 0;
  /** Sessions closed by `closeIdleSessionsAfterMs`. */
  idleSessionsClosed = 0;
  /** Key exchanges finished (a connection's first, and any re-key). */
  keyExchanges = 0;
  /** Every authentication request but `none`, in arrival order: the credentials clients offered. */
  readonly authRequests: Array<{ readonly connection: number; readonly method: string; readonly at: number; readonly keyExchangesThen: number }> = [];
  /** Every accepted socket, in order: `connection` numbers index it. */
  readonly #acceptedSockets: Socket[] = [];
  /** How the next exec requests are answered instead of being run, first first. */
  readonly spoilExecs: SpoiledExec[] = [];

  constructor(options: EmbeddedServerOptions = {}) {
    this.#options = options;
    this.username = options.username ?? 'tester';
    this.password = options.password ?? 'embedded-password';
    const hostKey = generateKeyPair();
    const clientKey = generateKeyPair();
    this.privateKey = clientKey.private;
    const allowed = utils.parseKey(clientKey.public);
    const hostParsed = utils.parseKey(hostKey.private);
    if (allowed instanceof Error || hostParsed instanceof Error) throw new Error('key generation failed');
    this.hostPublicKey = hostParsed.getPublicSSH();

    this.#server = new Server({ hostKeys: [hostKey.private], ...(options.greeting ? { greeting: options.greeting } : {}) }, (client) => this.#onClient(client, allowed));
    // ssh2's own 'connection' event carries its Connection object; the raw sockets are on
    // the wrapped net.Server, and only they can be cut abruptly.
    const netServer = (this.#server as unknown as { _srv: import('node:net').Server })._srv;
    netServer.on('connection', (socket: Socket) => {
      // Nagle plus the client's delayed ACK would add ~40 ms to every command.
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      this.#acceptedSockets.push(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  async start(port = 0): Promise<this> {
    if (this.#home === undefined) {
      this.#home = mkdtempSync(join(tmpdir(), 'sshpool-embedded-'));
      trackHome(this.#home);
    }
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** `SHA256:<base64>` of the host key, as `ssh-keygen -lf` prints it: pin it with `hostKey.fingerprints`. */
  get hostKeyFingerprint(): string {
    return `SHA256:${createHash('sha256').update(this.hostPublicKey).digest('base64').replace(/=+$/, '')}`;
  }

  /** Number of TCP connections open right now. */
  get openConnections(): number {
    return this.#sockets.size;
  }

  /** Starts a key re-exchange on every authenticated connection, as servers do by time or volume (OpenSSH `RekeyLimit`). */
  rekeyAll(): void {
    for (const client of this.#clients) client.rekey();
  }

  /** Cuts every client socket at once, as a crashed server would. */
  dropAllConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.dropAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#home !== undefined) {
      rmSync(this.#home, { recursive: true, force: true });
      liveHomes.delete(this.#home);
      this.#home = undefined;
    }
  }

  /** Cuts one connection (numbered from 0 in accept order, as in `authRequests`), as a server process that died would. */
  dropConnection(connection: number): void {
    this.#acceptedSockets[connection]?.destroy();
  }

  #onClient(client: Connection, allowed: ReturnType<typeof utils.parseKey> & object): void {
    const connection = this.connectionsAccepted++;
    client.on('error', () => {});
    client.once('ready', () => this.#clients.add(client));
    client.once('close', () => this.#clients.delete(client));
    client.on('handshake', () => void this.keyExchanges++);
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'none') this.authRequests.push({ connection, method: ctx.method, at: performance.now(), keyExchangesThen: this.keyExchanges });
      const rounds = this.#options.keyboardInteractive;
      const decide = (): void => {
        if (ctx.username !== this.username) return ctx.reject();
        if (rounds) {
          if (ctx.method !== 'keyboard-interactive') return ctx.reject(['keyboard-interactive']);
          const ask = (index: number): void => {
            const round = rounds[index];
            if (!round) {
              this.keyboardInteractiveLogins++;
              return ctx.accept();
            }
            ctx.prompt(round.map(({ prompt, echo }) => ({ prompt, echo: echo ?? false })), `round ${index + 1}`, '', (answers) => {
              if (answers.length === round.length && round.every((question, i) => question.answer === answers[i])) ask(index + 1);
              else ctx.reject(['keyboard-interactive']);
            });
          };
          return ask(0);
        }
        if (ctx.method === 'password') {
          const given = Buffer.from(ctx.password);
          const expected = Buffer.from(this.password);
          return given.length === expected.length && timingSafeEqual(given, expected) ? ctx.accept() : ctx.reject();
        }
        if (ctx.method === 'publickey' && 'getPublicSSH' in allowed) {
          if (!ctx.key.data.equals(allowed.getPublicSSH())) return ctx.reject();
          if (!ctx.signature) return ctx.accept();
          return allowed.verify(ctx.blob!, ctx.signature, ctx.key.algo) ? ctx.accept() : ctx.reject();
        }
        ctx.reject(['publickey', 'password']);
      };
      if (this.#options.authDelayMs) setTimeout(decide, this.#options.authDelayMs);
      else decide();
    });
    let sessions = 0;
    client.on('session', (accept, reject) => {
      if (this.#options.maxSessions !== undefined && sessions >= this.#options.maxSessions) {
        this.sessionsRefused++;
        reject();
        return;
      }
      sessions++;
      const session = accept();
      let child: ReturnType<typeof spawn> | undefined;
      let requested = false;
      let closedByServer = false;
      // ssh2's server has no call to close a session that has no channel yet: send the close itself.
      const closeSession = (): void => {
        if (closedByServer) return;
        closedByServer = true;
        sessions--;
        (client as unknown as ServerConnectionInternals)._protocol.channelClose((session as unknown as ServerSessionInternals)._chanInfo.outgoing.id);
      };
      const idleMs = this.#options.closeIdleSessionsAfterMs;
      if (idleMs !== undefined) {
        setTimeout(() => {
          if (requested) return;
          this.idleSessionsClosed++;
          closeSession();
        }, idleMs).unref();
      }
      session.on('close', () => {
        // ssh2's server answers a client's close only for a session with a command; OpenSSH
        // answers every close, and clients wait for that answer to count the session gone.
        if (!closedByServer && !requested) closeSession();
        else if (!closedByServer) sessions--;
        child?.kill('SIGKILL');
      });
      session.on('pty', (acceptPty) => {
        requested = true;
        acceptPty?.();
      });
      session.on('signal', (_accept, _reject, info) => {
        child?.kill(`SIG${info.name}` as NodeJS.Signals);
      });
      session.on('exec', (acceptExec, rejectExec, info) => {
        requested = true;
        const spoiled = this.spoilExecs.shift();
        if (spoiled === 'close') return closeSession();
        if (spoiled === 'reject') return rejectExec();
        const channel: ServerChannel = acceptExec();
        this.#options.onExec?.(channel, info.command);
        child = spawn('/bin/sh', ['-c', info.command], { cwd: this.#home ?? '/', env: { HOME: this.#home ?? '/', PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
        const relay = relayOutput(child, channel);
        channel.pipe(child.stdin!);
        child.stdin!.on('error', () => {});

        child.on('close', (code, signal) => {
          relay.whenSent(() => {
            if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
            else channel.exit(code ?? 0);
            channel.end();
          });
        });
      });
    });
  }
}

/** The fields ssh2's server channel keeps for a write waiting for window (lib/Channel.js). */
interface ChannelWriteSlots {
  _chunk?: Buffer | undefined;
  _chunkcb?: (() => void) | undefined;
  _chunkErr?: Buffer | undefined;
  _chunkcbErr?: (() => void) | undefined;
}

/**
 * Sends a child's stdout and stderr on its channel one write at a time, in the order they came.
 * ssh2's server channel has one "waiting for window" flag for both, serves only one of them
 * per WINDOW_ADJUST, and never clears a finished write's slot (lib/Channel.js, lib/server.js):
 * with both outputs blocked it re-sent old stdout bytes and left stderr stuck, and once EOF is
 * sent it drops stderr still queued. One write at a time, slots cleared, avoids all three.
 */
function relayOutput(child: ReturnType<typeof spawn>, channel: ServerChannel): { whenSent(then: () => void): void } {
  const slots = channel as unknown as ChannelWriteSlots;
  const queue: Array<{ chunk: Buffer; toStderr: boolean; source: NodeJS.ReadableStream }> = [];
  let writing = false;
  let sent: (() => void) | undefined;
  const next = (): void => {
    if (writing) return;
    const item = queue.shift();
    if (!item) {
      const then = sent;
      sent = undefined;
      then?.();
      return;
    }
    writing = true;
    slots._chunk = slots._chunkcb = slots._chunkErr = slots._chunkcbErr = undefined;
    const done = (): void => {
      writing = false;
      item.source.resume();
      next();
    };
    if (item.toStderr) channel.stderr.write(item.chunk, done);
    else channel.write(item.chunk, done);
  };
  const take = (source: NodeJS.ReadableStream, toStderr: boolean): void => {
    source.on('data', (chunk: Buffer) => {
      source.pause();
      queue.push({ chunk, toStderr, source });
      next();
    });
  };
  take(child.stdout!, false);
  take(child.stderr!, true);
  return {
    whenSent(then) {
      if (!writing && queue.length === 0) then();
      else sent = then;
    },
  };
}
