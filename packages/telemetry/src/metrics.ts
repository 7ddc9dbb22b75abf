import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const METRIC_PREFIX = "parley_";

export interface CreateMetricsOptions {
  /** Added as the `service` label to every series of this registry. */
  service: string;
  /** Node process metrics (CPU, memory, event loop lag, GC, handles). */
  collectDefaults?: boolean;
}

export interface MetricOptions<L extends string> {
  /** Without the `parley_` prefix, which is added: `webhooks_received_total`. */
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds in the metric's unit; prom-client's defaults suit latencies in seconds. */
  buckets?: number[];
}

export interface Metrics {
  readonly registry: Registry;
  /** The Content-Type to answer /metrics with. */
  readonly contentType: string;
  /** Prometheus text exposition of every metric in the registry. */
  metrics(): Promise<string>;
  counter<L extends string = never>(options: MetricOptions<L>): Counter<L>;
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L>;
  gauge<L extends string = never>(options: MetricOptions<L>): Gauge<L>;
}

export class MetricNameError extends Error {
  override readonly name = "MetricNameError";
}

const SNAKE = /^[a-z][a-z0-9_]*[a-z0-9]$/;
const TIME_WORDS = /(^|_)(duration|latency|time|lag|age|delay|elapsed)(_|$)/;
const NON_BASE_UNITS =
  /_(ms|milliseconds|us|microseconds|ns|nanoseconds|minutes|hours|kb|mb|kilobytes|megabytes)(_total)?$/;
/** Labels that would put personal data into time series (and explode their cardinality). */
const FORBIDDEN_LABELS = /phone|msisdn|wa_?id|recipient|contact|^to$|^from$|token|secret/;

type Kind = "counter" | "histogram" | "gauge";

function checkName(kind: Kind, name: string): void {
  const fail = (why: string): never => {
    throw new MetricNameError(`Metric "${name}": ${why}`);
  };
  if (name.startsWith(METRIC_PREFIX))
    fail(`leave out the "${METRIC_PREFIX}" prefix; it is added for you.`);
  if (!SNAKE.test(name)) fail("use snake_case: lower-case letters, digits and underscores.");
  if (kind === "counter" && !name.endsWith("_total")) fail('a counter name ends in "_total".');
  if (kind !== "counter" && name.endsWith("_total"))
    fail(`only counters end in "_total"; this is a ${kind}.`);
  if (NON_BASE_UNITS.test(name)) fail('use base units: "_seconds" for time, "_bytes" for sizes.');
  // A consumer's lag is counted in records (Kafka offsets), not time: `_records` says so.
  if (TIME_WORDS.test(name) && !/_seconds(_total)?$/.test(name) && !/_lag_records$/.test(name)) {
    fail(
      'a time measurement ends in "_seconds" (or "_seconds_total" for a counter); a lag in records ends in "_lag_records".',
    );
  }
}

function checkLabels(name: string, labelNames: readonly string[]): void {
  for (const label of labelNames) {
    if (!/^[a-z][a-z0-9_]*$/.test(label)) {
      throw new MetricNameError(`Metric "${name}": label "${label}" must be snake_case.`);
    }
    if (label === "service") {
      throw new MetricNameError(`Metric "${name}": "service" is a default label of the registry.`);
    }
    if (FORBIDDEN_LABELS.test(label)) {
      throw new MetricNameError(
        `Metric "${name}": label "${label}" would carry personal data or secrets; label by outcome or business number instead.`,
      );
    }
  }
}

/**
 * How often the event loop's delay is sampled (prom-client's default is 10 ms: a timer 100 times
 * a second, 3.3 ms of CPU per second in a process doing nothing, against 0.5 at 100 ms,
 * docs/benchmarks.md, "Projection", 2026-12-07 08:10). A stall still delays the sample due
 * during it, so the lag series keep their meaning; a stall shorter than 100 ms may go unseen.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * One Prometheus registry per service: Node process metrics prefixed `parley_`, a `service`
 * label on every series, and factories that enforce naming conventions at construction.
 */
export function createMetrics({ service, collectDefaults = true }: CreateMetricsOptions): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (collectDefaults)
    collectDefaultMetrics({
      register: registry,
      prefix: METRIC_PREFIX,
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });

  const prepare = <L extends string>(kind: Kind, { name, labelNames = [] }: MetricOptions<L>) => {
    checkName(kind, name);
    checkLabels(name, labelNames);
    return { name: METRIC_PREFIX + name, labelNames: [...labelNames], registers: [registry] };
  };

  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    counter: <L extends string = never>(options: MetricOptions<L>) =>
      new Counter<L>({ ...prepare("counter", options), help: options.help }),
    histogram: <L extends string = never>(options: HistogramOptions<L>) =>
      new Histogram<L>({
        ...prepare("histogram", options),
        help: options.help,
        ...(options.buckets === undefined ? {} : { buckets: options.buckets }),
      }),
    gauge: <L extends string = never>(options: MetricOptions<L>) =>
      new Gauge<L>({ ...prepare("gauge", options), help: options.help }),
  };
}
