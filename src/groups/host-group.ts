import { context as otelContext, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { RemoteCommandResult } from '../core/command-result.js';
import { SSHConnectionPool } from '../client/connection-pool.js';
import { internalsOf } from '../client/pool-internals.js';
import { HostDownError, NoHostAvailableError } from '../core/errors.js';
import type { CommandError } from '../core/errors.js';
import type { HostFailure } from '../core/errors.js';
import { errorCodeForOutcome, errorForOutcome, errorTypeOf } from '../command/error-mapping.js';
import type { CommandRequest, RunOutcome } from '../command/ssh-command.js';
import { replayable } from '../command/channel-contract.js';
import { TypedEventEmitter } from '../core/typed-event-emitter.js';
import type { HostGroupEvents, HostGroupMemberStatus, HostState } from './types.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { EpochNow } from './circuit-breaker.js';
import type { HostGroupSpec, MemberSpec } from './group-options.js';
import { GroupTelemetry } from './group-telemetry.js';
import type { HostStateSource, MemberLabel } from './group-telemetry.js';
import { startFailureOf } from './start-failure.js';
import { createSelector } from './strategies.js';
import type { HostSelector } from './strategies.js';

/** A member with its live state. */
interface Member extends MemberSpec {
  readonly index: number;
  readonly breaker: CircuitBreaker | undefined;
  /** Pool name per pool instance: fixed once the pool has created the member's pool key. */
  readonly poolNames: WeakMap<SSHConnectionPool, string>;
  /** The pool instance the breaker's failures were seen on; probes go through it. */
  failedOn: SSHConnectionPool | undefined;
  probeTimer: NodeJS.Timeout | undefined;
}

/** Test seams: a clock for the circuit breakers. */
export interface HostGroupInternals {
  readonly clock?: EpochNow;
}

/**
 * The engine behind `$.ssh({ hosts })`: picks a member per command (strategy + circuit
 * breakers), moves a command that could not start to the next member, re-runs a retryable
 * one whose connection was lost, runs the probes that bring a down member back, and runs
 * one command on a given member for fan-outs. It uses the pool's command entry, the same
 * as a single-host executor, so each try has its own `ssh.exec` span, metrics and events.
 */
export class HostGroup implements HostStateSource {
  readonly spec: HostGroupSpec;
  readonly events = new TypedEventEmitter<HostGroupEvents>();
  readonly #explicitPool: SSHConnectionPool | undefined;
  readonly #members: Member[];
  readonly #selector: HostSelector;
  readonly #telemetry: GroupTelemetry;

  constructor(spec: HostGroupSpec, pool: SSHConnectionPool | undefined, internals: HostGroupInternals = {}) {
    this.spec = spec;
    this.#explicitPool = pool;
    this.#selector = createSelector(spec.strategy);
    this.#members = spec.members.map((member, index) => ({
      ...member,
      index,
      breaker: spec.circuitBreaker ? new CircuitBreaker(spec.circuitBreaker, internals.clock) : undefined,
      poolNames: new WeakMap(),
      failedOn: undefined,
      probeTimer: undefined,
    }));
    this.#telemetry = new GroupTelemetry(spec.name, spec.strategy, () => internalsOf(this.pool), this);
    this.#telemetry.start();
  }

  get groupName(): string {
    return this.spec.name;
  }

  get size(): number {
    return this.#members.length;
  }

  /** The pool commands run on; the global one is looked up each time, as `$.ssh()` does. */
  get pool(): SSHConnectionPool {
    return this.#explicitPool ?? SSHConnectionPool.getInstance();
  }

  /** Every member with its state, in host order. */
  members(): HostGroupMemberStatus[] {
    const pool = this.pool;
    return this.#members.map((member) => ({
      host: member.label,
      poolName: this.#poolNameOf(member, pool),
      state: member.breaker?.state ?? 'up',
      retryAt: member.breaker?.retryAt,
      lastError: member.breaker?.lastError,
      config: pool.resolveConfig(member.target),
    }));
  }

  /** For the `ssh.client.host.state` gauge. */
  *hostStates(): Iterable<{ poolName: string; up: boolean }> {
    const pool = this.pool;
    for (const member of this.#members) yield { poolName: this.#poolNameOf(member, pool), up: member.breaker?.isUp ?? true };
  }

  stateOf(index: number): HostState {
    return this.#members[index]?.breaker?.state ?? 'up';
  }

  /**
   * Runs one command on the member the strategy picks among those that are up. A try that
   * never started moves to the next pick; a try whose connection was lost moves on only when
   * `retryable` and nothing of it was streamed (see `replayable`). Rejects with `NoHostAvailableError` (every member's cause) when none is left.
   */
  async run(request: CommandRequest, cancel: AbortSignal | undefined, retryable: boolean): Promise<RunOutcome> {
    const pool = this.pool;
    const { span, context } = this.#telemetry.startCommand(request.built.template);
    const failures: HostFailure[] = [];
    const tried = new Set<number>();
    let attempts = 0;
    try {
      for (;;) {
        const member = this.#pick(pool, tried);
        if (!member) throw this.#noHostLeft(request, pool, failures, tried);
        tried.add(member.index);
        attempts++;
        let outcome: RunOutcome;
        try {
          outcome = await this.#tryOn(member, pool, request, cancel, this.#telemetry.attemptContext(context, attempts));
        } catch (error) {
          if (!startFailureOf(error) || pool.closed) throw error;
          failures.push({ host: member.label, poolName: this.#poolNameOf(member, pool), error: error as Error });
          this.#telemetry.attemptFailed(span, this.#labelOf(member, pool), error);
          continue;
        }
        // A streamed command is never re-run: its consumer may hold part of this run already.
        if (outcome.ending === 'connection-lost' && retryable && replayable(request) && !cancel?.aborted) {
          const lost = this.#connectionLost(request, member, outcome);
          failures.push({ host: member.label, poolName: this.#poolNameOf(member, pool), error: lost });
          this.#telemetry.attemptFailed(span, this.#labelOf(member, pool), lost);
          continue;
        }
        this.#telemetry.endCommand(span, attempts, this.#labelOf(member, pool), errorCodeForOutcome(outcome));
        return outcome;
      }
    } catch (error) {
      this.#telemetry.endCommand(span, attempts, undefined, errorTypeOf(error), error instanceof NoHostAvailableError ? error.message : undefined);
      throw error;
    }
  }

  /** Runs one command on member `index` whatever its state: a fan-out asks every host. */
  async runOn(index: number, request: CommandRequest, cancel: AbortSignal | undefined, parent: Context): Promise<RunOutcome> {
    const member = this.#members[index]!;
    return this.#tryOn(member, this.pool, request, cancel, this.#telemetry.attemptContext(parent, 1));
  }

  startFanOut(template: string): ReturnType<GroupTelemetry['startFanOut']> {
    return this.#telemetry.startFanOut(template, this.#members.length);
  }

  endFanOut(span: Parameters<GroupTelemetry['endFanOut']>[0], failed: number): void {
    this.#telemetry.endFanOut(span, failed);
  }

  labelOf(index: number): string {
    return this.#members[index]!.label;
  }

  poolNameAt(index: number): string {
    return this.#poolNameOf(this.#members[index]!, this.pool);
  }

  /** One try on one member: feeds the outcome to its breaker and labels the result with it. */
  async #tryOn(member: Member, pool: SSHConnectionPool, request: CommandRequest, cancel: AbortSignal | undefined, attempt: Context): Promise<RunOutcome> {
    let outcome: RunOutcome;
    try {
      outcome = await otelContext.with(attempt, () => internalsOf(pool).execute(member.normalized, request, cancel));
    } catch (error) {
      const failure = startFailureOf(error);
      if (failure?.hostFault && !pool.closed) this.#recordFailure(member, pool, failure.hostFault, attempt);
      throw error;
    }
    // A channel ran (whatever its ending): the host answered.
    this.#recordSuccess(member, pool, attempt);
    return { ...outcome, host: member.label };
  }

  #pick(pool: SSHConnectionPool, tried: ReadonlySet<number>): Member | undefined {
    const candidates = this.#members.filter((m) => !tried.has(m.index) && (m.breaker?.isUp ?? true)).map((m) => m.index);
    let hosts: ReturnType<SSHConnectionPool['getStats']>['hosts'] | undefined;
    const loadOf = (index: number): number => {
      hosts ??= pool.getStats().hosts;
      const counts = hosts[this.#poolNameOf(this.#members[index]!, pool)];
      return counts ? counts.openChannels + counts.pendingRequests : 0;
    };
    const chosen = this.#selector.pick(candidates, loadOf);
    return chosen === undefined ? undefined : this.#members[chosen];
  }

  #noHostLeft(request: CommandRequest, pool: SSHConnectionPool, failures: HostFailure[], tried: ReadonlySet<number>): NoHostAvailableError {
    for (const member of this.#members) {
      if (tried.has(member.index)) continue;
      const breaker = member.breaker!;
      const retryAt = breaker.retryAt ?? 0;
      const when = breaker.state === 'probing' ? 'being probed' : `next probe in ${Math.ceil(breaker.msUntilProbe() / 1000)} s`;
      const cause = breaker.lastError;
      failures.push({
        host: member.label,
        poolName: this.#poolNameOf(member, pool),
        error: new HostDownError(
          `marked down (${when})${cause ? `: ${cause.message}` : ''}`,
          member.label,
          retryAt,
          cause ? { cause } : undefined,
        ),
      });
    }
    return new NoHostAvailableError(`\`${request.built.template}\` on ${this.spec.name}`, failures);
  }

  #connectionLost(request: CommandRequest, member: Member, outcome: RunOutcome): CommandError {
    const result = new RemoteCommandResult({
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      ok: false,
      durationMs: 0,
      host: member.label,
      command: request.built.text,
      template: request.built.template,
    });
    return errorForOutcome('connection-lost', result, { what: `Command \`${request.built.template}\` on ${member.label}`, timeoutMs: undefined, maxBuffer: request.maxBuffer, abortReason: undefined });
  }

  /** `trigger`: the context of the command that saw it, whose span records the change too. */
  #recordFailure(member: Member, pool: SSHConnectionPool, error: Error, trigger: Context): void {
    if (member.breaker?.recordFailure(error) !== 'down') return;
    member.failedOn = pool;
    this.#telemetry.hostStateChanged(this.#labelOf(member, pool), 'down', trigger, error);
    this.events.emit('host:down', member.label, error, this.#details(member, pool));
    this.#scheduleProbe(member);
  }

  #recordSuccess(member: Member, pool: SSHConnectionPool, trigger: Context): void {
    if (member.breaker?.recordSuccess() !== 'up') return;
    clearTimeout(member.probeTimer);
    member.probeTimer = undefined;
    this.#telemetry.hostStateChanged(this.#labelOf(member, pool), 'up', trigger);
    this.events.emit('host:up', member.label, this.#details(member, pool));
  }

  /**
   * A down member is probed by opening one connection to it (`warmUp`) once its cool-down
   * ends: no command pays for finding out. The timer does not keep the process alive, and
   * probing stops when the pool that saw the failures is closed.
   */
  #scheduleProbe(member: Member): void {
    const breaker = member.breaker!;
    clearTimeout(member.probeTimer);
    member.probeTimer = setTimeout(() => {
      member.probeTimer = undefined;
      const pool = member.failedOn;
      if (!pool || pool.closed) return;
      if (!breaker.beginProbe()) {
        // Timers can fire a little before Date.now() reaches the cool-down's end (they run on
        // another clock): still down, so wait out the rest instead of never probing again.
        if (breaker.state === 'down') this.#scheduleProbe(member);
        return;
      }
      pool.warmUp(member.target, 1).then(
        () => this.#recordSuccess(member, pool, ROOT_CONTEXT),
        (error: unknown) => {
          if (pool.closed) return;
          breaker.probeFailed(error instanceof Error ? error : new Error(String(error)));
          this.#scheduleProbe(member);
        },
      );
    }, breaker.msUntilProbe());
    member.probeTimer.unref();
  }

  #poolNameOf(member: Member, pool: SSHConnectionPool): string {
    const known = member.poolNames.get(pool);
    if (known) return known;
    // Cached once the pool key exists: until then the pool can only say what it would name it.
    const { name, assigned } = internalsOf(pool).poolNameOf(member.normalized);
    if (assigned) member.poolNames.set(pool, name);
    return name;
  }

  #labelOf(member: Member, pool: SSHConnectionPool): MemberLabel {
    return { label: member.label, host: member.normalized.host, port: member.normalized.port, poolName: this.#poolNameOf(member, pool) };
  }

  #details(member: Member, pool: SSHConnectionPool): HostGroupEvents['host:up'][1] {
    return { group: this.spec.name, poolName: this.#poolNameOf(member, pool), host: member.normalized.host, port: member.normalized.port };
  }
}
