import { AggregationTemporality, MetricReader } from '@opentelemetry/sdk-metrics';

/** A metric reader that collects on demand, cumulatively: what tests read instruments through. */
export class TestMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}
