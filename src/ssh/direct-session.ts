import type { Client } from 'ssh2';
import { ChunkQueue } from '../core/chunk-queue.js';
import type { ChannelOutput, CommandChannel } from './command-channel.js';

/**
 * ssh2 1.17's receive window and packet size for the sessions it opens (lib/Channel.js); a
 * prepared session asks for the same (prepared-session.ts), and its buffer bound is ssh2's.
 */
export const DIRECT_SESSION_WINDOW = 2 * 1024 * 1024;
export const DIRECT_SESSION_PACKET_SIZE = 32 * 1024;
const WINDOW_THRESHOLD = DIRECT_SESSION_WINDOW / 2;

/** Any listener: each is called with what its event carries (see `CommandChannel`). */
type AnyListener = (...args: never[]) => void;

interface Entry {
  readonly event: string;
  readonly listener: AnyListener;
  readonly once: boolean;
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

/**
 * Listeners of one stream. The list is copied on change, never on emit: a listener that removes
 * listeners (a command's close handler does) cannot make an emit skip one, and emits, which run
 * per packet, do not copy it.
 */
class Listeners {
  #entries: readonly Entry[] = NO_ENTRIES;

  add(event: string, listener: AnyListener, once: boolean): void {
    this.#entries = [...this.#entries, { event, listener, once }];
  }

  remove(event: string, listener: AnyListener): void {
    const at = this.#entries.findIndex((entry) => entry.event === event && entry.listener === listener);
    if (at !== -1) this.#entries = this.#entries.filter((_, index) => index !== at);
  }

  emit(event: string, args: readonly unknown[]): boolean {
    const entries = this.#entries;
    let heard = false;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.event !== event) continue;
      if (entry.once) this.remove(event, entry.listener);
      heard = true;
      (entry.listener as (...values: readonly unknown[]) => void)(...args);
    }
    return heard;
  }
}

/**
 * The receiving side of a direct session's stdout or stderr, in the shape ssh2's packet
 * handlers and sshpool use (`push`, `readable`, `pause`/`resume`, `data` and `end` events).
 * Data flows to its listeners as ssh2 parses it; while paused it is held, and a full hold tells
 * ssh2 to stop topping up the window, so the server waits.
 */
class DirectOutput implements ChannelOutput {
  /** False once the server's EOF or close was delivered (ssh2 reads it before pushing). */
  readable = true;
  /** Never destroyed the way a stream is: ssh2 reads it in its close handler. */
  readonly destroyed = false;
  /** None: ssh2's close handler then goes by `readable`. */
  readonly _readableState = undefined;
  protected readonly listeners = new Listeners();
  /** Output held for a paused reader (bounded by bytes, so possibly many chunks); none: undefined. */
  #held: ChunkQueue | undefined;
  /** As a Node stream: null until a `data` listener or `resume()`, false once paused. */
  #flowing: boolean | null = null;
  #ending = false;
  #flushing = false;
  readonly #drained: (() => void) | undefined;

  constructor(drained?: () => void) {
    this.#drained = drained;
  }

  /** Everything held was taken by a reader. */
  protected onDrained(): void {
    this.#drained?.();
  }

  get readableLength(): number {
    return this.#held?.bytes ?? 0;
  }

  /** ssh2 calls this with each data packet, and with null at EOF and close. False: hold is full. */
  push(chunk: Buffer | null): boolean {
    if (!this.readable || this.#ending) return false;
    if (chunk === null) {
      this.#ending = true;
      if (this.#held === undefined) this.#end();
      return false;
    }
    if (this.#flowing === true && this.#held === undefined) {
      this.listeners.emit('data', [chunk]);
      return true;
    }
    (this.#held ??= new ChunkQueue()).push(chunk);
    return this.#held.bytes < DIRECT_SESSION_WINDOW;
  }

  pause(): this {
    this.#flowing = false;
    return this;
  }

  resume(): this {
    this.#flowing = true;
    // What waits is delivered a tick later, as a Node stream does: listeners attached right
    // after this (a `close` after a `data`) still hear the end that follows it.
    if ((this.#held !== undefined || this.#ending) && !this.#flushing) {
      this.#flushing = true;
      process.nextTick(() => {
        this.#flushing = false;
        this.#flush();
      });
    }
    return this;
  }

  on(event: string, listener: AnyListener): this {
    this.listeners.add(event, listener, false);
    // As a Node stream: a data listener starts the flow unless the stream was paused.
    if (event === 'data' && this.#flowing !== false) this.resume();
    return this;
  }

  once(event: string, listener: AnyListener): this {
    this.listeners.add(event, listener, true);
    return this;
  }

  off(event: string, listener: AnyListener): this {
    this.listeners.remove(event, listener);
    return this;
  }

  emit(event: string, ...args: unknown[]): boolean {
    return this.listeners.emit(event, args);
  }

  #flush(): void {
    const held = this.#held;
    if (held) {
      while (this.#flowing === true && !held.isEmpty) this.listeners.emit('data', [held.shift()]);
      if (!held.isEmpty) return;
      this.#held = undefined;
    }
    if (this.#ending) this.#end();
    else this.onDrained();
  }

  #end(): void {
    if (!this.readable) return;
    this.readable = false;
    this.listeners.emit('end', []);
  }
}

/** An end of the channel as ssh2 keeps it (`incoming` ours, `outgoing` the server's). */
interface ChannelEnd {
  readonly id: number;
  window: number;
  readonly packetSize: number;
  state: 'open' | 'eof' | 'closing' | 'closed';
}

/** The protocol calls a direct session makes (ssh2 1.17 `Protocol`). */
interface SessionProtocol {
  channelData(id: number, data: Buffer): void;
  channelEOF(id: number): void;
  channelClose(id: number): void;
  channelWindowAdjust(id: number, amount: number): void;
}

/** What ssh2 1.17 keeps privately that a direct session needs (lib/client.js). */
interface ClientInternals {
  _chanMgr?: { get?: (id: number) => unknown; update?: (id: number, value: unknown) => void };
  _protocol?: SessionProtocol & { _handlers?: Record<string, unknown> };
}

/** ssh2's `CHANNEL_OPEN_CONFIRMATION` details. */
interface OpenConfirmation {
  readonly recipient: number;
  readonly sender: number;
  readonly window: number;
  readonly packetSize: number;
}

/**
 * A session channel that carries a command without Node streams: ssh2 routes its packets here
 * (its channel table holds this object where it would hold a `Channel`), and this object
 * answers ssh2's packet handlers with the same fields and calls a `Channel` has, so that the
 * rest of ssh2 (EOF, close, exit status, window adjusts, requests and their answers, cleanup
 * when the connection dies) treats it as one. What a command needs of a channel it offers as
 * `CommandChannel`. The work a stream does per packet and per channel (a Duplex and a Readable
 * built, each chunk buffered and emitted, `end` and `close` a tick later) is left out: for short
 * commands that was a large share of the client's instructions.
 * Invariants: data is delivered in order, never after `end`; `close` is emitted once, after
 * stdout ended (ssh2 decides when, as for its `Channel`: stderr may still hold output for a
 * paused reader, and ends once that is read); nothing is written after EOF or close.
 */
export class DirectSession extends DirectOutput implements CommandChannel {
  readonly type = 'session';
  /** Set to 'exec' by the request that starts the command (prepared-session.ts). */
  subtype: string | undefined = undefined;
  readonly server = false;
  allowHalfOpen = true;
  writable = true;
  readonly _writableState = undefined;
  readonly incoming: ChannelEnd;
  readonly outgoing: ChannelEnd;
  /** Answers to requests sent on this channel, in order (ssh2's CHANNEL_SUCCESS/FAILURE handlers). */
  _callbacks: Array<(failed: boolean | Error) => void> = [];
  readonly _client: Client;
  readonly _exit: { code: number | null | undefined; signal: string | undefined; dump: boolean | undefined; desc: string | undefined } = {
    code: undefined, signal: undefined, dump: undefined, desc: undefined,
  };
  readonly stderr: DirectOutput;
  /** ssh2's handlers set and read these: the server's window ran out / ours is waiting for a reader. */
  _waitWindow = false;
  _waitChanDrain = false;
  readonly _chunk = undefined;
  /** Called by ssh2's WINDOW_ADJUST handler while `_waitWindow`: sends what waits for window. */
  _chunkcb: (() => void) | undefined = undefined;
  readonly #protocol: SessionProtocol;
  /** Written and not yet sent (the server's window is spent); none: undefined. */
  #unsent: ChunkQueue | undefined;
  #needDrain = false;
  #ending = false;

  constructor(client: Client, confirmation: OpenConfirmation, protocol: SessionProtocol) {
    super();
    this.stderr = new DirectOutput(() => this.#readerDrained());
    this._client = client;
    this.#protocol = protocol;
    this.incoming = { id: confirmation.recipient, window: DIRECT_SESSION_WINDOW, packetSize: DIRECT_SESSION_PACKET_SIZE, state: 'open' };
    this.outgoing = { id: confirmation.sender, window: confirmation.window, packetSize: confirmation.packetSize, state: 'open' };
  }

  override emit(event: string, ...args: unknown[]): boolean {
    // ssh2 emits `close` once the server closed the channel: nothing more goes out on it.
    if (event === 'close') this.#stopWriting();
    return this.listeners.emit(event, args);
  }

  write(data: string | Uint8Array): boolean {
    if (!this.writable || this.#ending) return false;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.length > 0) {
      (this.#unsent ??= new ChunkQueue()).push(bytes);
      this.#send();
    }
    if ((this.#unsent?.bytes ?? 0) < DIRECT_SESSION_WINDOW) return true;
    this.#needDrain = true;
    return false;
  }

  end(data?: string | Uint8Array): this {
    if (data !== undefined) this.write(data);
    if (!this.writable || this.#ending) return this;
    this.#ending = true;
    this.#send();
    return this;
  }

  /** Sends EOF (as ssh2's `Channel.eof`). */
  eof(): void {
    if (this.outgoing.state !== 'open') return;
    this.outgoing.state = 'eof';
    this.#protocol.channelEOF(this.outgoing.id);
  }

  /** Sends CLOSE (as ssh2's `Channel.close`); the server's CLOSE ends the channel. */
  close(): void {
    const { outgoing } = this;
    if (outgoing.state !== 'open' && outgoing.state !== 'eof') return;
    outgoing.state = 'closing';
    this.#protocol.channelClose(outgoing.id);
  }

  destroy(): this {
    this.end();
    this.close();
    return this;
  }

  /** Sends what was written, as far as the server's window allows; the rest when it grows. */
  readonly #send = (): void => {
    const { outgoing } = this;
    if (outgoing.state !== 'open') {
      this.#stopWriting();
      return;
    }
    const unsent = this.#unsent;
    if (unsent) {
      if (outgoing.packetSize < 1) {
        // A server that takes no bytes per packet would have us send empty packets forever.
        this.#stopWriting();
        this.close();
        return;
      }
      while (!unsent.isEmpty && outgoing.window > 0) {
        const chunk = unsent.peek();
        const size = Math.min(chunk.length, outgoing.window, outgoing.packetSize);
        this.#protocol.channelData(outgoing.id, size === chunk.length ? chunk : chunk.subarray(0, size));
        outgoing.window -= size;
        unsent.consume(size);
      }
      if (!unsent.isEmpty) {
        this._waitWindow = true;
        this._chunkcb = this.#send;
        return;
      }
      this.#unsent = undefined;
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      this.listeners.emit('drain', []);
    }
    if (this.#ending && this.writable) {
      this.writable = false;
      this.eof();
      this.listeners.emit('finish', []);
    }
  };

  #stopWriting(): void {
    this.writable = false;
    this.#unsent = undefined;
    this._chunkcb = undefined;
  }

  protected override onDrained(): void {
    this.#readerDrained();
  }

  /** A reader took what was held: the window may be topped up again (ssh2's `Channel._read`). */
  #readerDrained(): void {
    if (!this._waitChanDrain) return;
    this._waitChanDrain = false;
    if (this.incoming.window > WINDOW_THRESHOLD || this.outgoing.state === 'closed') return;
    const amount = DIRECT_SESSION_WINDOW - this.incoming.window;
    if (amount <= 0) return;
    this.incoming.window += amount;
    this.#protocol.channelWindowAdjust(this.outgoing.id, amount);
  }
}

const DIRECT_HOOK = Symbol('sshpool.directSessions');

type ConfirmationHandler = ((protocol: unknown, info: OpenConfirmation) => void) & { [DIRECT_HOOK]?: true };

/** Marks a pending open (a function in ssh2's channel table) whose channel is to be a `DirectSession`. */
export const DIRECT_OPEN = Symbol('sshpool.directOpen');

/**
 * Lets opens marked `DIRECT_OPEN` become `DirectSession`s: wraps this client's
 * `CHANNEL_OPEN_CONFIRMATION` handler once; every other confirmation goes to ssh2's. False when
 * the client does not have the shape this needs (then opens stay ssh2 `Channel`s).
 */
export function directSessionsInstalled(client: Client): boolean {
  const internals = client as unknown as ClientInternals;
  const protocol = internals._protocol;
  const manager = internals._chanMgr;
  const handlers = protocol?._handlers;
  const original = handlers?.['CHANNEL_OPEN_CONFIRMATION'] as ConfirmationHandler | undefined;
  if (typeof original !== 'function' || typeof manager?.get !== 'function' || typeof manager.update !== 'function') return false;
  if (original[DIRECT_HOOK]) return true;
  if (typeof protocol!.channelData !== 'function' || typeof protocol!.channelEOF !== 'function'
    || typeof protocol!.channelClose !== 'function' || typeof protocol!.channelWindowAdjust !== 'function') return false;
  const hook: ConfirmationHandler = (parser, info) => {
    const pending = manager.get!(info.recipient) as ({ [DIRECT_OPEN]?: true } & ((error: undefined, channel: DirectSession) => void)) | undefined;
    if (typeof pending !== 'function' || pending[DIRECT_OPEN] !== true) {
      original(parser, info);
      return;
    }
    const session = new DirectSession(client, info, protocol!);
    manager.update!(info.recipient, session);
    pending(undefined, session);
  };
  hook[DIRECT_HOOK] = true;
  handlers!['CHANNEL_OPEN_CONFIRMATION'] = hook;
  return true;
}
