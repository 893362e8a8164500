import { probeConnection } from './health-probe.js';
import type { SSHConnection } from './ssh-connection.js';
import { ATTR_HEALTH_CHECK_OUTCOME } from './telemetry/constants.js';
import { PoolTelemetry } from './telemetry/pool-telemetry.js';
import type { TypedEventEmitter } from './typed-event-emitter.js';
import type { ConnectionEventDetails, HealthCheckConfig } from './types.js';

/** What the monitor needs from the host pool whose idle connections it probes. */
export interface MonitoredPool {
  readonly details: ConnectionEventDetails;
  readonly events: TypedEventEmitter;
  readonly telemetry: PoolTelemetry;
  /** Open connections carrying nothing, probes excluded. */
  idleConnections(): SSHConnection[];
  /** A probe's channel was freed by the server; the pool may need to hand the connection on. */
  probeFreed(connection: SSHConnection): void;
}

/**
 * Periodically runs the health command on each idle connection. A probe holds a channel of
 * its own, so a command may take the connection meanwhile; a failed probe closes the
 * connection with reason `unhealthy`, and the pool's reconnect replaces it.
 */
export class HealthMonitor {
  readonly #config: Required<HealthCheckConfig>;
  readonly #pool: MonitoredPool;
  readonly #probing = new Set<SSHConnection>();
  #timer: NodeJS.Timeout | undefined;

  constructor(config: Required<HealthCheckConfig>, pool: MonitoredPool) {
    this.#config = config;
    this.#pool = pool;
  }

  start(): void {
    if (!this.#config.enabled || this.#timer) return;
    this.#timer = setInterval(() => this.#probeIdleConnections(), this.#config.interval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  isProbing(connection: SSHConnection): boolean {
    return this.#probing.has(connection);
  }

  #probeIdleConnections(): void {
    for (const connection of this.#pool.idleConnections()) void this.#probe(connection);
  }

  async #probe(connection: SSHConnection): Promise<void> {
    const { details, events, telemetry } = this.#pool;
    this.#probing.add(connection);
    connection.reserveProbeSlot();
    const span = telemetry.startHealthCheck(details.poolName, connection.connectSpan);
    const result = await probeConnection(connection, this.#config);
    void result.freed.then(() => {
      this.#probing.delete(connection);
      connection.releaseProbeSlot();
      this.#pool.probeFreed(connection);
    });
    const outcome = result.healthy ? 'healthy' : 'unhealthy';
    telemetry.recordHealthCheck(details.poolName, result.durationMs, outcome);
    span.setAttribute(ATTR_HEALTH_CHECK_OUTCOME, outcome);
    const connectionDetails = { ...details, connectionId: connection.id };
    if (result.healthy) {
      span.end();
      events.emit('connection:healthy', details.host, connectionDetails);
      return;
    }
    // A connection that died under the probe is reported by its close, not as unhealthy.
    if (connection.state !== 'ready') {
      span.end();
      return;
    }
    const error = result.error ?? new Error('health check failed');
    PoolTelemetry.fail(span, result.errorType ?? 'Error', error.message);
    events.emit('connection:unhealthy', details.host, error, connectionDetails);
    // Not trusted with commands any more, even ones already queued for it.
    connection.close('unhealthy');
  }
}
