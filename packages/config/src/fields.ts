import { z } from "zod";
import { kafkaSecurityFields, mongoSecurityFields, registrySecurityFields } from "./security.js";

/** Field builders for environment variables: every value arrives as a string. */
export const env = {
  string: () => z.string().min(1),
  /** A secret: never given a default, never logged (the logger redacts *token*, *secret*, *password*). */
  secret: () => z.string().min(8, "must be at least 8 characters"),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback),
  int: (fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  url: () => z.url(),
  bool: (fallback: boolean) =>
    z
      .enum(["true", "false", "1", "0", "yes", "no"])
      .default(fallback ? "true" : "false")
      .transform((v) => v === "true" || v === "1" || v === "yes"),
  /** Comma-separated list, e.g. KAFKA_BROKERS=host1:9092,host2:9092 */
  list: () =>
    z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .pipe(z.array(z.string()).min(1, "needs at least one entry")),
  logLevel: () =>
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
};

/** Connection settings shared by every service that talks to Kafka, the registry or MongoDB. */
export const infraFields = {
  KAFKA_BROKERS: env.list().default(["127.0.0.1:9092"]),
  KAFKA_CLIENT_ID: z.string().optional(),
  /**
   * Static consumer-group membership (KIP-345): each consumer joins as `<this>.<group>`, so a
   * process restarted within the session timeout takes its partitions back without a rebalance.
   * Unique per running process and stable across its restarts (e.g. a StatefulSet's pod name);
   * two processes with the same id fence each other. Unset: dynamic membership.
   */
  KAFKA_GROUP_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, "letters, digits, '.', '_' and '-' only (1 to 100)")
    .optional(),
  /**
   * How long the broker waits for a silent consumer before its partitions move. At least the
   * broker's group.min.session.timeout.ms (6 s by default); a restart within it needs no
   * rebalance with KAFKA_GROUP_INSTANCE_ID (docs/benchmarks.md, "Consumer group recovery").
   */
  KAFKA_SESSION_TIMEOUT_MS: env.int(10_000, { min: 1_000, max: 1_800_000 }),
  /** How often consumers heartbeat; at most a third of KAFKA_SESSION_TIMEOUT_MS. */
  KAFKA_HEARTBEAT_INTERVAL_MS: env.int(3_000, { min: 100, max: 600_000 }),
  SCHEMA_REGISTRY_URL: env.url().default("http://127.0.0.1:8081"),
  MONGO_URL: z
    .string()
    .startsWith("mongodb")
    .default("mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"),
  MONGO_DB: env.string().default("parley"),
  // SASL and TLS for Kafka, basic auth and TLS for the registry, credentials and TLS for MongoDB
  // (docs/security.md); checked against each other when the configuration is loaded.
  ...kafkaSecurityFields,
  ...registrySecurityFields,
  ...mongoSecurityFields,
};

/** The chassis every service shares: logging, telemetry, the ops HTTP surface, shutdown. */
export const chassisFields = {
  LOG_LEVEL: env.logLevel(),
  OTEL_EXPORTER_OTLP_ENDPOINT: env.url().optional(),
  HTTP_HOST: env.string().default("127.0.0.1"),
  HTTP_PORT: env.port(8080),
  /** Bearer token required on /healthz, /readyz and /metrics (every surface but the webhook needs auth). */
  OPS_TOKEN: env.secret(),
  /** Several consumers, each bounded while kafkajs reconnects, may need it; Kubernetes' default grace is 30 s. */
  SHUTDOWN_TIMEOUT_MS: env.int(30_000, { min: 100, max: 120_000 }),
  READINESS_TIMEOUT_MS: env.int(2_000, { min: 100, max: 30_000 }),
  /**
   * V8 grows the heap by at most this percentage over what survived the last full collection
   * (0 leaves V8's own factor, up to 300 % on a busy machine). 50 kept the router and sender near
   * 200 MB RSS at 500 sends/s where V8's own factor let them reach 300-340 MB of mostly garbage.
   */
  HEAP_GROWING_PERCENT: env.int(50, { min: 0, max: 1_000 }),
  /**
   * The process's scheduling priority as a nice value: 0 (normal) to 19 (lowest). Only matters
   * when the host's CPUs are all busy: a service set above 0 then yields CPU to those at 0, and
   * works off what waited once they are idle. The projection (the read side) sets 10 by default,
   * so that on a shared host it does not take CPU from the send path (docs/architecture.md,
   * "The service chassis").
   */
  CPU_NICE: env.int(0, { min: 0, max: 19 }),
  /**
   * Counts the commands sent to MongoDB by name (`parley_mongo_commands_total`), through the
   * driver's command monitoring. Off by default: monitoring decodes every reply a second time
   * (a find's documents included) to build its events, which cost the projection a tenth of
   * its CPU per event (docs/benchmarks.md, "MongoDB command monitoring"). The benchmarks turn
   * it on to report round trips per message.
   */
  MONGO_COMMAND_METRICS: env.bool(false),
  /**
   * Native TLS on every HTTP listener of the service (ops, webhook, APIs): a PEM certificate
   * chain and its key, read from these paths and read again when they change (no restart).
   * Unset: plain HTTP, for TLS ended in front of Parley (docs/access-control.md).
   */
  HTTP_TLS_CERT_PATH: env.string().optional(),
  HTTP_TLS_KEY_PATH: env.string().optional(),
  /** How often the certificate files are checked for a change. */
  HTTP_TLS_RELOAD_INTERVAL_MS: env.int(5_000, { min: 50, max: 3_600_000 }),
  /** Strict-Transport-Security max-age on the APIs when TLS is on (0: no header). */
  HTTP_HSTS_MAX_AGE_S: env.int(31_536_000, { min: 0, max: 63_072_000 }),
};
