import type { PoolMetrics } from './types.js';

/** Running totals behind `getMetrics()`. Live state (counts) is never kept here. */
export class PoolMetricsRecorder {
  #created = 0;
  #reused = 0;
  #failed = 0;
  #connectTimeTotal = 0;
  #idleTimeTotal = 0;
  #idlePeriods = 0;

  connectionCreated(durationMs: number): void {
    this.#created++;
    this.#connectTimeTotal += durationMs;
  }
  connectionReused(): void {
    this.#reused++;
  }
  connectionFailed(): void {
    this.#failed++;
  }
  idlePeriodEnded(idleMs: number): void {
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
