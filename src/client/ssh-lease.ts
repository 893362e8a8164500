import { isRemoteCommandResult } from '../core/command-result.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { HostPool } from '../pool/host-pool.js';
import type { Slot } from '../pool/slot.js';
import type { ChannelOutcome } from '../command/channel-contract.js';
import { processHold } from '../core/process-hold.js';
import { buildCommand } from '../command/shell-quote.js';
import { SSHCommand } from '../command/ssh-command.js';
import { endpointLabel } from '../config/ssh-target.js';
import type { CommandDefaults, CommandLog, CommandRequest, CommandRunner } from '../command/ssh-command.js';
import type { Context } from '@opentelemetry/api';
import type { PoolTelemetry } from '../telemetry/pool-telemetry.js';
import { traceCommand } from '../telemetry/trace-command.js';


/**
 * One channel slot on one connection, held until `release()`. Commands run through the lease
 * go to that same connection, one after another, in the order they were awaited. A held lease
 * is work in progress: it keeps the process alive until released.
 */
export class SSHLease {
  readonly host: string;
  readonly poolName: string;
  readonly #hostPool: HostPool;
  readonly #slot: Slot;
  readonly #log: CommandLog;
  readonly #telemetry: PoolTelemetry;
  readonly #giveHoldBack: () => void;
  /** The target's defaults for its commands (its `sudoPassword`). */
  readonly #defaults: CommandDefaults;
  #released = false;
  // Completes when the previous command's channel has been freed by the server.
  #tail: Promise<void> = Promise.resolve();
  /** Commands of this lease started and not yet done with their channel. */
  #running = 0;

  constructor(hostPool: HostPool, slot: Slot, log: CommandLog, telemetry: PoolTelemetry, defaults: CommandDefaults = {}) {
    this.#defaults = defaults;
    this.#hostPool = hostPool;
    this.#slot = slot;
    this.#log = log;
    this.#telemetry = telemetry;
    this.#giveHoldBack = processHold.take();
    this.host = hostPool.details.host;
    this.poolName = hostPool.name;
  }

  /** Identifier of the leased connection, as in event details. */
  get connectionId(): number {
    return this.#slot.connection.id;
  }

  get released(): boolean {
    return this.#released;
  }

  /** A command on the leased connection, as a tagged template. */
  exec = (strings: TemplateStringsArray, ...values: unknown[]): SSHCommand => {
    if (this.#released) throw new InvalidArgumentError('this lease has been released');
    return new SSHCommand(buildCommand(strings, values, isRemoteCommandResult), endpointLabel(this.host, this.#hostPool.details.port), this.#runner, this.#log, this.#defaults);
  };

  /**
   * Returns the slot to the pool once the lease's last command is done: at once when none is
   * running, so that stats read right after already count it free. Idempotent.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const giveBack = (): void => {
      this.#hostPool.releaseSlot(this.#slot);
      this.#giveHoldBack();
    };
    if (this.#running === 0) giveBack();
    else void this.#tail.then(giveBack);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  // A command nobody can cancel still needs a signal for the channel: one that never fires.
  #runner: CommandRunner = (request, cancel) =>
    traceCommand(this.#telemetry, this.#hostPool, request, async (trace) => ({ channel: await this.#run(request, cancel ?? new AbortController().signal, trace), slot: this.#slot }));

  // One command at a time: each waits until the server has freed the previous one's channel.
  #run = async (request: CommandRequest, cancel: AbortSignal, trace: Context | undefined): Promise<ChannelOutcome> => {
    if (this.#released) throw new InvalidArgumentError('this lease has been released');
    const previous = this.#tail;
    let markDone!: () => void;
    this.#running++;
    this.#tail = new Promise<void>((resolve) => {
      let done = false;
      markDone = () => {
        if (done) return;
        done = true;
        this.#running--;
        resolve();
      };
    });
    await previous;
    return this.#hostPool.channels.runOnSlot(this.#slot, request, cancel, trace, markDone);
  };
}
