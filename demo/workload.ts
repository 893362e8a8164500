import { setTimeout as sleep } from 'node:timers/promises';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { $ } from '../src/index.js';
import type { SSHConnectionPool, SSHExecutor, SSHTarget } from '../src/index.js';
import type { DemoHost } from './hosts.js';

/** How the demo's commands ended, by the stable error code of the `error.type` attribute. */
export class OutcomeTally {
  ok = 0;
  readonly byCode = new Map<string, number>();
  lastError: string | undefined;

  record(error?: unknown): void {
    if (error === undefined) {
      this.ok++;
      return;
    }
    const code = (error as { code?: unknown }).code;
    const key = typeof code === 'string' ? code : (error as Error).name ?? 'Error';
    this.byCode.set(key, (this.byCode.get(key) ?? 0) + 1);
    this.lastError = `${key}: ${(error as Error).message ?? String(error)}`;
  }

  count(code: string): number {
    return this.byCode.get(code) ?? 0;
  }

  get total(): number {
    let failed = 0;
    for (const n of this.byCode.values()) failed += n;
    return this.ok + failed;
  }
}

export interface WorkloadOptions {
  readonly pool: SSHConnectionPool;
  /** Takes steady traffic, slow and failing commands. */
  readonly web: SSHTarget;
  /** Takes the bursts. */
  readonly batch: SSHTarget;
  /** Restarted at 40% of the run: the server of `web`. */
  readonly restartHost: DemoHost;
  readonly durationMs: number;
  readonly tally: OutcomeTally;
  /** Called with a short description whenever the phase changes. */
  readonly onPhase: (phase: string) => void;
}

const tracer = trace.getTracer('sshpool-demo');

/**
 * A mixed workload for a bounded time: steady sequential commands, bursts of concurrent
 * commands larger than the pool (queueing, and acquire timeouts on every third burst), slow
 * commands, failing ones (non-zero exits, command timeouts) and, at 40% of the run, a
 * restart of the first host so that its connections are lost and re-created.
 */
export class Workload {
  readonly #options: WorkloadOptions;
  readonly #deadline: number;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #stopped = new AbortController();

  constructor(options: WorkloadOptions) {
    this.#options = options;
    this.#deadline = Date.now() + options.durationMs;
  }

  /** Ends every loop at its next step (commands already sent still finish). */
  stop(): void {
    this.#stopped.abort();
  }

  get #running(): boolean {
    return !this.#stopped.signal.aborted && Date.now() < this.#deadline;
  }

  async run(): Promise<void> {
    const { pool, durationMs } = this.#options;
    const web = $.ssh({ ...this.#options.web, pool });
    const batch = $.ssh({ ...this.#options.batch, pool });
    this.#options.onPhase('mixed workload');
    await Promise.all([
      this.#steady(web, 'steady-1'),
      this.#steady(web, 'steady-2'),
      this.#bursts(batch),
      this.#slow(web),
      this.#failures(web, batch),
      this.#restart(this.#options.restartHost, durationMs),
    ]);
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Runs one command inside a job span and records how it ended. */
  #command(job: string, start: () => PromiseLike<unknown>): Promise<void> {
    const done = tracer.startActiveSpan(`demo.${job}`, async (span) => {
      try {
        await start();
        this.#options.tally.record();
      } catch (error) {
        this.#options.tally.record(error);
        span.setStatus({ code: SpanStatusCode.ERROR });
      } finally {
        span.end();
      }
    });
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
    return done;
  }

  async #steady(ssh: SSHExecutor, job: string): Promise<void> {
    const commands = [
      () => ssh`cat /proc/uptime`,
      () => ssh`hostname`,
      () => ssh`date +%s`,
      () => ssh`echo ${`request-${Math.floor(Math.random() * 1e6)}`}`,
      () => ssh`cat /proc/loadavg`,
    ];
    for (let i = 0; this.#running; i++) {
      await this.#command(job, commands[i % commands.length]!);
      await this.#pause(60 + Math.random() * 120);
    }
  }

  async #bursts(ssh: SSHExecutor): Promise<void> {
    await this.#pause(1_000);
    for (let burst = 1; this.#running; burst++) {
      // Every third burst asks for more than the pool can serve within acquireTimeout.
      const heavy = burst % 3 === 0;
      const size = heavy ? 36 : 16;
      const seconds = heavy ? '0.4' : '0.1';
      await tracer.startActiveSpan('demo.burst', async (span) => {
        span.setAttribute('demo.burst.size', size);
        await Promise.all(Array.from({ length: size }, (_, n) =>
          this.#command('burst-item', () => ssh`sleep ${seconds}; echo ${`item-${n}`}`)));
        span.end();
      });
      await this.#pause(1_500 + Math.random() * 1_000);
    }
  }

  async #slow(ssh: SSHExecutor): Promise<void> {
    await this.#pause(1_500);
    while (this.#running) {
      await this.#command('slow', () => ssh`sleep 1.5; echo slow-done`);
      await this.#pause(2_500);
    }
  }

  async #failures(web: SSHExecutor, batch: SSHExecutor): Promise<void> {
    const failing = [
      () => web`exit 3`,
      () => web`ls ${'/no/such/directory'}`,
      () => web`sleep 5`.timeout(400),
      () => batch`sh -c ${'echo disk full >&2; exit 1'}`,
      () => web`cat /etc/hostname`.cwd('/no/such/directory'),
    ];
    await this.#pause(800);
    for (let i = 0; this.#running; i++) {
      void this.#command('failing', failing[i % failing.length]!);
      await this.#pause(700 + Math.random() * 600);
    }
  }

  async #restart(host: DemoHost, durationMs: number): Promise<void> {
    const at = durationMs * 0.4;
    const downMs = Math.min(4_000, Math.max(1_500, durationMs * 0.1));
    await this.#pause(at);
    if (!this.#running) return;
    this.#options.onPhase(`${host.label} is down (server stopped, restarting in ${(downMs / 1000).toFixed(1)} s)`);
    await host.restart(downMs);
    this.#options.onPhase(`${host.label} is back on port ${host.target.port ?? 22}; connections are re-created`);
    await this.#pause(3_000);
    if (this.#running) this.#options.onPhase('mixed workload');
  }

  /** Sleeps, but not past the deadline nor past stop(). */
  async #pause(ms: number): Promise<void> {
    const left = this.#deadline - Date.now();
    if (left <= 0 || this.#stopped.signal.aborted) return;
    await sleep(Math.min(ms, left), undefined, { signal: this.#stopped.signal }).catch(() => {});
  }
}
