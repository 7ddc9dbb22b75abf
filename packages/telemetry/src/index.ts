export { startTelemetry, type StartTelemetryOptions, type Telemetry } from "./telemetry.js";
export { activeTraceparent, linkActiveSpan } from "./links.js";
export { createLogger, type CreateLoggerOptions, type Logger, type LogLevel } from "./logger.js";
export { maskPhone, redactSecrets, scrub, isSecretKey, REDACTED } from "./redact.js";
export {
  createMetrics,
  MetricNameError,
  METRIC_PREFIX,
  type CreateMetricsOptions,
  type HistogramOptions,
  type MetricOptions,
  type Metrics,
} from "./metrics.js";
