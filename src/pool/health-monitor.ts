import type { Clock, TimerHandle } from '../core/clock.js';
import { probeConnection } from './health-probe.js';
import type { HostPoolEventStream } from './host-pool-events.js';
import type { PoolEntry } from './pool-entry.js';
import type { OpenConnections } from './open-connections.js';
import type { HealthCheckConfig } from '../config/types.js';

/** What the monitor needs from the host pool whose idle connections it probes. */
export interface MonitoredPool {
  readonly events: HostPoolEventStream;
  readonly clock: Clock;
  /** Open connections; the idle ones, probes excluded, are probed. */
  readonly connections: Pick<OpenConnections, 'idle'>;
  /** A connection gained room (here: a probe's channel was freed); the pool may hand it on. */
  roomMade(entry: PoolEntry): void;
}

let nextProbeId = 1;

/**
 * Periodically runs the health command on each idle connection. A probe holds a channel of
 * its own, so a command may take the connection meanwhile; a failed probe closes the
 * connection with reason `unhealthy`, and the housekeeper's reconnect replaces it. Its timer
 * never keeps the process alive.
 */
export class HealthMonitor {
  readonly #config: Required<HealthCheckConfig>;
  readonly #pool: MonitoredPool;
  #timer: TimerHandle | undefined;
  #running = false;

  constructor(config: Required<HealthCheckConfig>, pool: MonitoredPool) {
    this.#config = config;
    this.#pool = pool;
  }

  start(): void {
    if (!this.#config.enabled || this.#running) return;
    this.#running = true;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #schedule(): void {
    this.#timer = this.#pool.clock.setTimeout(() => {
      if (!this.#running) return;
      for (const entry of this.#pool.connections.idle()) void this.#probe(entry);
      this.#schedule();
    }, this.#config.interval);
  }

  async #probe(entry: PoolEntry): Promise<void> {
    const { events, clock } = this.#pool;
    const { connection } = entry;
    const probeId = nextProbeId++;
    entry.startProbe();
    events.emit({ type: 'probe-started', probeId, connection });
    const result = await probeConnection(connection, this.#config, clock);
    void result.freed.then(() => {
      entry.endProbe();
      this.#pool.roomMade(entry);
    });
    // A connection that died under the probe is reported by its close, not as unhealthy.
    const lost = !result.healthy && !connection.usable;
    events.emit({
      type: 'probe-finished',
      probeId,
      connection,
      healthy: result.healthy,
      lost,
      durationMs: result.durationMs,
      error: result.healthy ? undefined : result.error,
      errorType: result.healthy ? undefined : result.errorType,
    });
    // Not trusted with commands any more, even ones already queued for it.
    if (!result.healthy && !lost) connection.close('unhealthy');
  }
}
