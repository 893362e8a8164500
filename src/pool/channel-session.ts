import { CONNECTION_LOST, emptyOutcome } from '../command/channel-contract.js';
import type { CancelReason, ChannelOutcome, ChannelSpec } from '../command/channel-contract.js';
import type { CancelSignal } from '../core/cancel-source.js';
import { sleep } from '../core/clock.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { ChannelRefusedError } from '../core/errors.js';
import { promiseOf } from '../core/promise-of.js';
import { ChannelOpenCancelled, ChannelOpenRefusal } from '../ssh/connection.js';
import type { IoListener, RunningChannel } from '../ssh/connection.js';
import type { HostPoolEventStream, TraceParent } from './host-pool-events.js';
import type { AcquireRequest } from './pending-acquires.js';
import type { PoolEntry } from './pool-entry.js';
import type { ExecOutcome, Slot } from './slot.js';

/** Channel opens a command tries before a server that keeps refusing fails it. */
export const MAX_CHANNEL_ATTEMPTS = 10;
/** After a cancelled command's kill was sent, how long its channel may take to close before its connection is retired. */
export const STUCK_CHANNEL_MS = 750;
/** After a cancel, how long the kill may take to be sent before the channel counts as stuck. */
export const KILL_WAIT_MS = 5_000;

/** What the channel path needs from the host pool whose slots it uses. */
export interface SlotSource {
  readonly name: string;
  readonly clock: Clock;
  readonly events: HostPoolEventStream;
  /** `front`: a retry of a command already accepted, served before new arrivals. */
  acquire(request: AcquireRequest, front: boolean): Promise<Slot>;
  /** Gives a slot back; later calls for the same slot do nothing. */
  releaseSlot(slot: Slot): void;
  /** Takes a connection whose cancelled channel will not close out of service. */
  retire(entry: PoolEntry): void;
  /** A channel was asked for on `entry` (it may have taken the connection's spare session). */
  channelRequested(entry: PoolEntry): void;
}

/** A command's request with the cancel signal every running command has in the pool. */
export interface SessionRequest extends AcquireRequest {
  readonly cancel: CancelSignal;
}

/** A channel open that did not start the command: the server refused it, or the connection went. */
interface FailedOpen {
  readonly failed: 'refused' | 'lost';
  readonly error: Error;
}

type OpenAttempt = RunningChannel | FailedOpen;

/**
 * The one path a command's channel takes, for commands and leases alike: open a session channel
 * on a slot, learn the server's `MaxSessions` from refusals (retrying at the head of the queue),
 * follow the channel to its end, and after a cancel give its kill a grace period before the
 * connection is retired, so that no slot is held forever.
 * `done` runs once per command, when the command is over for the pool: settled, and its
 * channel freed or its connection retired.
 */
export class ChannelSession {
  readonly #source: SlotSource;
  /** One listener for every channel: byte counts become `channel-io` events. */
  readonly #onIo: IoListener;

  constructor(source: SlotSource) {
    this.#source = source;
    this.#onIo = (direction, bytes) => source.events.emit({ type: 'channel-io', channelType: 'session', direction, bytes });
  }

  /**
   * Runs a command on a slot of its own, taken for each attempt and released when the server
   * frees the channel. A connection that closes in answer to the command's request twice is
   * the command's doing (sshd drops a connection over a malformed request): it fails alone
   * instead of taking one connection after another down with it.
   */
  async run(spec: ChannelSpec, request: SessionRequest, done: () => void): Promise<ExecOutcome> {
    let handedOff = false;
    try {
      let lostDuringOpen = 0;
      let lastFailure: Error | undefined;
      for (let attempt = 1; attempt <= MAX_CHANNEL_ATTEMPTS; attempt++) {
        const slot = await this.#source.acquire(request, attempt > 1);
        const running = await this.#open(slot, spec, request.cancel, request.trace);
        if (!('failed' in running)) {
          handedOff = true;
          return { channel: await this.#follow(slot, running, request.cancel, done, true), slot };
        }
        this.#source.releaseSlot(slot);
        lastFailure = running.error;
        if (running.failed === 'lost' && ++lostDuringOpen >= 2) return { channel: CONNECTION_LOST, slot };
        if (running.failed === 'refused') await this.#pauseAfterRefusal(attempt);
      }
      throw this.#refusedTooOften(lastFailure);
    } finally {
      if (!handedOff) done();
    }
  }

  /** Runs a command on a slot the caller keeps (a lease's): a refusal retries on that same slot. */
  async runOnSlot(slot: Slot, spec: ChannelSpec, cancel: CancelSignal, trace: TraceParent | undefined, done: () => void): Promise<ChannelOutcome> {
    let handedOff = false;
    try {
      let lastFailure: Error | undefined;
      for (let attempt = 1; attempt <= MAX_CHANNEL_ATTEMPTS; attempt++) {
        if (!slot.entry.lendable) return CONNECTION_LOST;
        const running = await this.#open(slot, spec, cancel, trace);
        if ('failed' in running) {
          if (running.failed === 'lost') return CONNECTION_LOST;
          lastFailure = running.error;
          await this.#pauseAfterRefusal(attempt);
          continue;
        }
        handedOff = true;
        return await this.#follow(slot, running, cancel, done, false);
      }
      throw this.#refusedTooOften(lastFailure);
    } finally {
      if (!handedOff) done();
    }
  }

  /**
   * Opens a channel on a held slot and starts the command. The caller releases the slot.
   * A failed open says whether the server refused the channel or the connection closed meanwhile.
   */
  #open(slot: Slot, spec: ChannelSpec, cancel: CancelSignal, trace: TraceParent | undefined): Promise<OpenAttempt> {
    const { entry } = slot;
    const { clock, events } = this.#source;
    entry.openingStarted();
    // Opening ends when the server holds the session, not when the command's request is
    // answered a round trip later: a refusal meanwhile must count the sessions confirmed by then.
    let stillOpening = true;
    const openingEnded = (): void => {
      if (!stillOpening) return;
      stillOpening = false;
      entry.openingEnded();
    };
    const startedAt = clock.now();
    const opening = promiseOf(() => entry.connection.openChannel(spec, cancel, { onIo: this.#onIo, onOpened: openingEnded }));
    // The command took the connection's spare, if there was one, as it asked for its channel:
    // the next spare opens now, a round trip before this command ends, so that a command sent
    // right after it finds that spare open instead of waiting for it to open.
    this.#source.channelRequested(entry);
    return opening.then((running) => {
      openingEnded();
      events.emit({
        type: 'channel-opened', connection: entry.connection, parent: trace, openMs: clock.now() - startedAt, atEpoch: clock.epochNow(),
        prepared: running.prepared === true,
      });
      return running;
    }, (error: unknown) => {
      openingEnded();
      return this.#openFailed(entry, cancel, error);
    });
  }

  /** What a failed channel open means for the command: a cancelled one still follows its late channel. */
  #openFailed(entry: PoolEntry, cancel: CancelSignal, error: unknown): OpenAttempt {
    if (error instanceof ChannelOpenCancelled) {
      return {
        outcome: Promise.resolve(emptyOutcome(cancel.reason as CancelReason)),
        freed: error.settled,
        killSent: error.killSent,
        killConfirmed: error.killConfirmed,
      };
    }
    if (!entry.connection.usable) return { failed: 'lost', error: error as Error };
    if (error instanceof ChannelOpenRefusal) {
      entry.noteRefusal();
      this.#source.events.emit({ type: 'channel-refused', connection: entry.connection });
    }
    return { failed: 'refused', error: error as Error };
  }

  /**
   * Follows a running channel to its end. `ownsSlot`: the slot was taken for this channel alone
   * and is released when the server frees the channel (a lease keeps its slot). After a cancel,
   * a channel that does not close within `STUCK_CHANNEL_MS` of its kill retires its connection
   * (and gives its slot back).
   */
  #follow(slot: Slot, running: RunningChannel, cancel: CancelSignal, done: () => void, ownsSlot: boolean): Promise<ChannelOutcome> {
    const source = this.#source;
    let freed = false;
    let stuckTimer: TimerHandle | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      stuckTimer?.cancel();
      cancel.removeEventListener('abort', onCancel);
      done();
    };
    let extended = false;
    const giveUpOnChannel = (): void => {
      // A kill the server confirmed will close the channel: on a loaded server that can take
      // longer, so it gets one more grace period before its connection is given up on.
      if (!freed && !extended && running.killConfirmed?.()) {
        extended = true;
        stuckTimer = source.clock.setTimeout(giveUpOnChannel, KILL_WAIT_MS);
        return;
      }
      if (!freed) {
        source.retire(slot.entry);
        if (ownsSlot) source.releaseSlot(slot);
      }
      finish();
    };
    const onCancel = (): void => {
      if (freed) return;
      // The grace period runs from the kill: under load the channel's open, the process-group
      // report and the kill channel may each take a while. A kill that never comes (a shell that
      // never reported its group) is waited for only so long.
      stuckTimer = source.clock.setTimeout(giveUpOnChannel, running.killSent ? KILL_WAIT_MS : STUCK_CHANNEL_MS);
      void running.killSent?.then(() => {
        if (finished || freed) return;
        stuckTimer?.cancel();
        stuckTimer = source.clock.setTimeout(giveUpOnChannel, STUCK_CHANNEL_MS);
      });
    };
    if (cancel.aborted) onCancel();
    else cancel.addEventListener('abort', onCancel, { once: true });
    void running.freed.then(() => {
      freed = true;
      if (ownsSlot) source.releaseSlot(slot);
      if (cancel.aborted) finish();
    });
    // A continuation, not an async function (see `promiseOf`).
    return running.outcome.then((outcome) => {
      if (!cancel.aborted || freed) finish();
      return outcome;
    });
  }

  /** The server frees a session slot a little after the close; give it that moment. */
  #pauseAfterRefusal(attempt: number): Promise<void> {
    return sleep(this.#source.clock, Math.min(500, 5 * 2 ** attempt));
  }

  /** `cause`: the command's own last failed open, never another command's. */
  #refusedTooOften(cause: Error | undefined): ChannelRefusedError {
    return new ChannelRefusedError(
      `The server ${this.#source.name} refused a session channel ${MAX_CHANNEL_ATTEMPTS} times in a row`,
      this.#source.name,
      cause ? { cause } : undefined,
    );
  }
}
