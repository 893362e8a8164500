import type { Client } from 'ssh2';
import type { CommandChannel } from './command-channel.js';
import { openPreparedSession } from './prepared-session.js';

/**
 * How preparing a spare session ended: `ready` (open, or handed straight to a command that
 * claimed it while it opened), `refused` by the server (its `MaxSessions`), `failed` (the
 * connection went, or could not write), `unsupported` (this ssh2 release has no prepared
 * sessions; see prepared-session.ts).
 */
export type SpareOutcome = 'ready' | 'refused' | 'failed' | 'unsupported';

/** A spare as its connection shows it: still opening, or open and waiting for a command. */
export type SpareState = 'opening' | 'ready';

const ignore = (): void => {};
/** The default clock of every spare: one function, not one per spare. */
const performanceNow = (): number => performance.now();

/**
 * A spare open longer than this is not given a command: it is closed, and the command opens a
 * channel of its own. A server that times out unused sessions would close an old spare just as a
 * command is sent on it, cutting the command off before its exit status. OpenSSH 9.2 does not
 * (its `ChannelTimeout` applies from a session's command on: an unused session is LARVAL), so
 * this is a precaution for other servers. Commands sent back to back, where the round trip
 * matters, always find a younger spare.
 */
export const SPARE_MAX_IDLE_MS = 1_000;

/**
 * One session channel opened ahead of the command that will use it, so that the command sends
 * only `exec` (one round trip instead of two). It is claimed at most once. Until then it waits:
 * if the server closes it (OpenSSH `ChannelTimeout`, a restart) it is `gone('lost')`, and a
 * failed open is `gone('failed')`; neither ever reaches a command. A claim made while it still
 * opens is served by the open's answer (it left earlier than any new open could).
 */
export class SpareSession {
  readonly opened: Promise<SpareOutcome>;
  #state: SpareState | 'claimed' | 'gone' = 'opening';
  #channel: CommandChannel | undefined;
  #readyAt = 0;
  #claimant: ((channel: CommandChannel | undefined) => void) | undefined;
  readonly #gone: (why: 'lost' | 'failed') => void;

  /** Sends the open. Throws when the client cannot write any more. */
  constructor(client: Client, gone: (why: 'lost' | 'failed') => void, readonly now: () => number = performanceNow) {
    this.#gone = gone;
    let settle!: (outcome: SpareOutcome) => void;
    this.opened = new Promise((resolve) => (settle = resolve));
    openPreparedSession(client, (error, channel) => {
      if (error || !channel) {
        const claimant = this.#claimant;
        this.#state = 'gone';
        this.#claimant = undefined;
        settle((error as Error & { reason?: unknown } | undefined)?.reason !== undefined ? 'refused' : 'failed');
        if (claimant) claimant(undefined);
        else this.#gone('failed');
        return;
      }
      settle('ready');
      if (this.#claimant) {
        const claimant = this.#claimant;
        this.#claimant = undefined;
        claimant(channel);
        return;
      }
      this.#state = 'ready';
      this.#readyAt = this.now();
      this.#channel = channel;
      channel.on('error', ignore);
      channel.once('close', this.#onClose);
      // ssh2 emits a channel's `close` only after its stdout ended, which a stream nobody reads
      // never does: flowing, the spare's close is seen. Its command's reader is attached in the
      // exec answer's callback, before any output can arrive.
      channel.resume();
    });
  }

  /** `opening` or `ready` while it can be claimed; undefined once claimed or gone. */
  get state(): SpareState | undefined {
    return this.#state === 'opening' || this.#state === 'ready' ? this.#state : undefined;
  }

  /**
   * Takes the spare for one command: `take(channel)` now if it is open, or once the open is
   * answered; `take(undefined)` if the open failed (the command opens a channel of its own).
   * Returns false (and `take` never runs) when it was claimed before, is gone, or has been open
   * longer than `SPARE_MAX_IDLE_MS` (it is closed then).
   */
  claim(take: (channel: CommandChannel | undefined) => void): boolean {
    if (this.#state === 'opening') {
      this.#state = 'claimed';
      this.#claimant = take;
      return true;
    }
    if (this.#state !== 'ready' || this.closeIfStale()) return false;
    this.#state = 'claimed';
    take(this.#detach());
    return true;
  }

  /**
   * Closes the spare if it has been open `SPARE_MAX_IDLE_MS` or longer without a command: it
   * would be closed instead of used anyway, so closing it now costs no command a round trip,
   * and gives the server its session and the process the channel's memory back. Returns true
   * when it closed it (the spare is gone then; its `gone` callback does not run).
   */
  closeIfStale(): boolean {
    if (this.#state !== 'ready' || this.now() - this.#readyAt < SPARE_MAX_IDLE_MS) return false;
    this.#state = 'gone';
    this.#detach().close();
    return true;
  }

  /** The open channel, no longer watched as the spare's: its close is now its new owner's. */
  #detach(): CommandChannel {
    const channel = this.#channel!;
    this.#channel = undefined;
    channel.off('close', this.#onClose);
    return channel;
  }

  /**
   * Gives the spare's session back to the server, for a channel that cannot use it (a pty
   * command, SFTP) on a server whose MaxSessions it fills: closes it (once open, if it is still
   * opening) and resolves once the close is answered, when the server no longer counts it.
   * Resolves at once when it was claimed before or is gone.
   */
  release(): Promise<void> {
    const closeThen = (channel: CommandChannel | undefined, resolve: () => void): void => {
      if (!channel) {
        resolve();
        return;
      }
      // ssh2 also emits `close` on every channel when the connection closes: this never hangs
      // longer than the connection lives.
      channel.once('close', () => resolve());
      channel.resume();
      channel.close();
    };
    if (this.#state === 'opening') {
      this.#state = 'claimed';
      return new Promise((resolve) => (this.#claimant = (channel) => closeThen(channel, resolve)));
    }
    if (this.#state !== 'ready') return Promise.resolve();
    this.#state = 'gone';
    const channel = this.#detach();
    return new Promise((resolve) => closeThen(channel, resolve));
  }

  readonly #onClose = (): void => {
    if (this.#state !== 'ready') return;
    this.#state = 'gone';
    this.#channel = undefined;
    this.#gone('lost');
  };
}
