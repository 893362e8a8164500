export { setupTelemetry } from './setup-telemetry.js';
export type { PrometheusEndpointOptions, SetupTelemetryOptions, TelemetryHandle } from './setup-telemetry.js';
