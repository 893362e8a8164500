// A connection layer for driving the host pool without sockets: connections that open, refuse
// channels, drop, and run "commands" whose end the test decides. Time comes from a FakeClock.
import type { Clock } from '../../src/core/clock.js';
import { ConnectError } from '../../src/core/errors.js';
import { ChannelOpenCancelled, ChannelOpenRefusal, ConnectionUnusable } from '../../src/ssh/connection.js';
import type { CloseListener, CloseReason, PoolConnection, RunningChannel } from '../../src/ssh/connection.js';
import { SPARE_MAX_IDLE_MS } from '../../src/ssh/spare-session.js';
import type { SpareOutcome, SpareState } from '../../src/ssh/spare-session.js';
import type { CancelReason, ChannelOutcome, ChannelSpec } from '../../src/command/channel-contract.js';
import type { ProcessHold } from '../../src/core/process-hold.js';

const EMPTY = Buffer.alloc(0);

/** Counts holds instead of keeping a real process alive. */
export class FakeHold implements ProcessHold {
  count = 0;
  take(): () => void {
    this.count++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.count--;
    };
  }
}

export class FakeChannel {
  running = true;
  #settle!: (outcome: ChannelOutcome) => void;
  #free!: () => void;
  readonly outcome = new Promise<ChannelOutcome>((resolve) => (this.#settle = resolve));
  readonly freed = new Promise<void>((resolve) => (this.#free = resolve));
  #markKillSent!: () => void;
  /** As the real channel: settles when the kill was sent on cancel, or when no kill is needed any more. */
  readonly killSent = new Promise<void>((resolve) => (this.#markKillSent = resolve));
  freedYet = false;

  constructor(readonly connection: FakeConnection, readonly spec: ChannelSpec, readonly prepared = false) {}

  /** The remote command exits on its own. */
  finish(exitCode: number): void {
    if (!this.running) return;
    this.running = false;
    this.#settle({ stdout: Buffer.from('out'), stderr: EMPTY, exitCode, signal: null, ending: 'closed' });
    this.free();
  }

  cancel(reason: CancelReason): void {
    if (!this.running) return;
    this.running = false;
    this.#settle({ stdout: EMPTY, stderr: EMPTY, exitCode: null, signal: null, ending: reason });
    this.#markKillSent();
    // A process nothing can kill keeps its session, as a root login's command did on OpenSSH 9.2.
    if (!this.connection.layer.unkillable) this.free();
  }

  lose(): void {
    if (this.running) {
      this.running = false;
      this.#settle({ stdout: EMPTY, stderr: EMPTY, exitCode: null, signal: null, ending: 'connection-lost' });
    }
    this.free();
  }

  free(): void {
    if (this.freedYet) return;
    this.freedYet = true;
    this.#markKillSent();
    this.connection.channels.delete(this);
    this.#free();
  }
}

let nextId = 1;

/** A spare session on the fake server: opening, open, or gone (claimed, refused, closed). */
interface FakeSpare {
  state: SpareState | 'gone';
  /** Settles with whether the open succeeded. */
  readonly answered: Promise<boolean>;
  /** When it opened, on the layer's clock. */
  readyAt: number;
}

export class FakeConnection implements PoolConnection {
  readonly id = nextId++;
  readonly peerAddress = '127.0.0.1';
  readonly connectDurationMs = 5;
  readonly channels = new Set<FakeChannel>();
  /** Channel opens to refuse before accepting again. */
  refuse = 0;
  /** Channel opens the server answers by dropping the connection, as sshd does over a request it cannot parse. */
  dropOnOpen = 0;
  closeReason: CloseReason | undefined;
  /** ms a polite close takes to complete (a frozen peer is cut off after a grace period); 0: at once. */
  closeTakes = 0;
  #state: 'ready' | 'closing' | 'closed' = 'ready';
  #listeners = new Set<CloseListener>();
  #spare: FakeSpare | undefined;
  /** Spare sessions the server opened for this connection, and commands that ran on one. */
  sparesOpened = 0;
  /** Spares closed because no command took them within `SPARE_MAX_IDLE_MS`. */
  sparesClosedStale = 0;
  preparedRuns = 0;

  constructor(readonly layer: FakeConnectionLayer) {}

  get spare(): SpareState | undefined {
    const state = this.#spare?.state;
    return state === 'gone' ? undefined : state;
  }

  /** As the real connection: unsupported unless the layer offers spares; refusals count against `refuse`. */
  prepareSpare(): Promise<SpareOutcome> {
    if (!this.layer.spares) return Promise.resolve('unsupported');
    if (!this.usable || this.#spare) return Promise.resolve('failed');
    let answer!: (opened: boolean) => void;
    const spare: FakeSpare = { state: 'opening', answered: new Promise((resolve) => (answer = resolve)), readyAt: 0 };
    this.#spare = spare;
    return Promise.resolve().then(() => {
      const refused = this.usable && this.refuse > 0;
      if (refused) this.refuse--;
      if (!this.usable || refused) {
        if (this.#spare === spare) this.#spare = undefined;
        spare.state = 'gone';
        answer(false);
        return refused ? 'refused' : 'failed';
      }
      this.sparesOpened++;
      spare.readyAt = this.layer.now();
      if (spare.state === 'opening') spare.state = 'ready';
      answer(true);
      return 'ready';
    });
  }

  /** The server closes the unclaimed spare (`ChannelTimeout`, a restart of its session handling). */
  closeSpare(): void {
    const spare = this.#spare;
    if (spare?.state !== 'ready') return;
    this.#spare = undefined;
    spare.state = 'gone';
  }

  /** As the real connection: closes a spare open `SPARE_MAX_IDLE_MS` or longer, on the layer's clock. */
  closeStaleSpare(): SpareState | undefined {
    const spare = this.#spare;
    if (spare?.state === 'ready' && this.layer.now() - spare.readyAt >= SPARE_MAX_IDLE_MS) {
      this.#spare = undefined;
      spare.state = 'gone';
      this.sparesClosedStale++;
    }
    return this.spare;
  }

  get usable(): boolean {
    return this.#state === 'ready';
  }
  get closed(): boolean {
    return this.#state === 'closed';
  }

  openChannel(spec: ChannelSpec, cancel: AbortSignal): Promise<RunningChannel> {
    if (!this.usable) return Promise.reject(new ConnectionUnusable('closed'));
    // A spare is claimed by the next channel, open or still opening; one that failed to open
    // leaves the command to open its own.
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare) spare.state = 'gone';
    // The server answers a moment later, as a real one does.
    return (spare ? spare.answered : Promise.resolve(false)).then((prepared) => {
      if (!this.usable) throw new ConnectionUnusable('closed');
      if (cancel.aborted) throw new ChannelOpenCancelled(Promise.resolve());
      if (prepared) {
        this.preparedRuns++;
        const channel = new FakeChannel(this, spec, true);
        this.channels.add(channel);
        cancel.addEventListener('abort', () => channel.cancel(cancel.reason as CancelReason), { once: true });
        return { outcome: channel.outcome, freed: channel.freed, killSent: channel.killSent, prepared: true };
      }
      if (this.dropOnOpen > 0) {
        this.dropOnOpen--;
        this.drop();
        throw new ConnectionUnusable('closed');
      }
      if (this.refuse > 0) {
        this.refuse--;
        throw new ChannelOpenRefusal('open failed: administratively prohibited');
      }
      const channel = new FakeChannel(this, spec);
      this.channels.add(channel);
      cancel.addEventListener('abort', () => channel.cancel(cancel.reason as CancelReason), { once: true });
      return { outcome: channel.outcome, freed: channel.freed, killSent: channel.killSent };
    });
  }

  onClose(listener: CloseListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(reason: CloseReason): void {
    if (this.closeTakes > 0 && this.#state === 'ready') {
      this.#state = 'closing';
      this.layer.setTimeout(() => this.#end(reason), this.closeTakes);
      return;
    }
    this.#end(reason);
  }

  destroy(reason: CloseReason): void {
    this.#end(reason);
  }

  /** The server goes away under the connection. */
  drop(): void {
    this.#end('remote');
  }

  #end(reason: CloseReason): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.closeReason = reason;
    if (this.#spare) this.#spare.state = 'gone';
    this.#spare = undefined;
    for (const channel of [...this.channels]) channel.lose();
    for (const listener of [...this.#listeners]) listener(reason, undefined);
    this.#listeners.clear();
  }
}

/** The fake server side: whether it accepts connections, and every connection it made. */
export class FakeConnectionLayer {
  up = true;
  /** Whether connections offer spare sessions (`prepareSpare`); off, they report `unsupported`. */
  spares = false;
  /** Cancelled commands never end (no signal reaches them). */
  unkillable = false;
  connecting = 0;
  readonly connections: FakeConnection[] = [];
  readonly #clock: Clock;

  /** The layer's clock, for spares' ages. */
  now(): number {
    return this.#clock.now();
  }

  /** A timer on the layer's clock, for connections whose close takes a while. */
  setTimeout(callback: () => void, ms: number): void {
    this.#clock.setTimeout(callback, ms);
  }
  readonly #connectMs: number;

  constructor(clock: Clock, connectMs = 5) {
    this.#clock = clock;
    this.#connectMs = connectMs;
  }

  readonly factory = (): Promise<PoolConnection> => {
    this.connecting++;
    return new Promise<PoolConnection>((resolve, reject) => {
      this.#clock.setTimeout(() => {
        this.connecting--;
        if (!this.up) {
          reject(new ConnectError('Cannot connect to fake: ECONNREFUSED', { poolName: 'u@fake:22', host: 'fake', port: 22 }, true));
          return;
        }
        const connection = new FakeConnection(this);
        this.connections.push(connection);
        resolve(connection);
      }, this.#connectMs);
    });
  };

  get open(): FakeConnection[] {
    return this.connections.filter((connection) => connection.usable);
  }

  get runningChannels(): FakeChannel[] {
    return this.open.flatMap((connection) => [...connection.channels].filter((channel) => channel.running));
  }
}
