import type { HostPoolEvent } from '../pool/host-pool-events.js';
import type { PoolMetrics } from './types.js';

/**
 * Running totals behind `getMetrics()`, kept by observing the host pools' event streams.
 * Live state (counts) is never kept here: `getStats()` computes it.
 */
export class PoolMetricsRecorder {
  #created = 0;
  #reused = 0;
  #failed = 0;
  #connectTimeTotal = 0;
  #idleTimeTotal = 0;
  #idlePeriods = 0;

  /** The observer to subscribe to each host pool's events. */
  readonly observe = (event: HostPoolEvent): void => {
    switch (event.type) {
      case 'connected':
        this.#created++;
        this.#connectTimeTotal += event.durationMs;
        break;
      case 'connect-failed':
        this.#failed++;
        break;
      case 'acquired':
        if (event.outcome === 'reused') this.#reused++;
        if (event.idleMs !== undefined) this.#idlePeriodEnded(event.idleMs);
        break;
      case 'closed':
        if (event.idleMs !== undefined) this.#idlePeriodEnded(event.idleMs);
        break;
      default:
        break;
    }
  };

  #idlePeriodEnded(idleMs: number): void {
    this.#idleTimeTotal += idleMs;
    this.#idlePeriods++;
  }

  snapshot(): PoolMetrics {
    const acquires = this.#created + this.#reused;
    return {
      connectionsCreated: this.#created,
      connectionsReused: this.#reused,
      connectionsFailed: this.#failed,
      averageConnectionTime: this.#created === 0 ? 0 : this.#connectTimeTotal / this.#created,
      averageIdleTime: this.#idlePeriods === 0 ? 0 : this.#idleTimeTotal / this.#idlePeriods,
      poolEfficiency: acquires === 0 ? 0 : this.#reused / acquires,
    };
  }
}
