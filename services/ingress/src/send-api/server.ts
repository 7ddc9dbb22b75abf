import { createCatalog } from "@parley/contracts";
import {
  createEventProducer,
  createRegistry,
  createSerde,
  type EventProducer,
  type KafkaClient,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import type { Component, Dependencies, ReadinessCheck } from "@parley/runtime";
import type { Logger } from "@parley/telemetry";
import { createRateLimiter } from "../domain/rate-limit.js";
import { createAcceptSend, type PublishSendRequested } from "./accept.js";
import type { SendApiConfig } from "./config.js";
import { createKeyring, loadApiKeys } from "./keys.js";
import { createSendApiMetrics } from "./metrics.js";
import { createMongoSendRecordStore } from "./mongo-store.js";
import { startDrainingListener } from "../adapters/http/draining-listener.js";
import { createSendApiApp, MESSAGES_PATH, type SendApiAppOptions } from "./routes.js";

export interface SendApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * Starts the send API listener as a chassis component. `stop` stops accepting, answers new
 * requests on open connections with 503, waits for requests at work (each bounded by the
 * publish and store timeouts), then closes; the producer, stopped after it, flushes last.
 */
export async function startSendApiServer(
  options: Omit<SendApiAppOptions, "isStopping" | "onWork"> & {
    readonly host: string;
    /** 0 picks a free port (tests). */
    readonly port: number;
  },
): Promise<SendApiServer> {
  const listener = await startDrainingListener({
    host: options.host,
    port: options.port,
    checkName: "send-api-server",
    description: "the send API listener",
    app: ({ isStopping, begin }) => createSendApiApp({ ...options, isStopping, onWork: begin }),
  });
  const { port } = listener;
  options.logger.info(
    { host: options.host, port, path: MESSAGES_PATH, keys: options.keyring.size },
    "send API listening",
  );
  return { name: "send API server", port, check: listener.check, stop: () => listener.stop() };
}

/** A publish of SendRequested keyed by contact on the catalog's send-requests topic. */
export function sendRequestedPublisher(
  producer: Pick<EventProducer, "publish">,
  topicPrefix: string,
): PublishSendRequested {
  const topic = createCatalog({ prefix: topicPrefix }).topicOf("SendRequested");
  return (event) => producer.publish(topic, [{ key: topic.keyOf(event), event }]);
}

type Own = { checks?: readonly ReadinessCheck[]; components?: readonly Component[] };

export interface SendApiHostConfig extends SendApiConfig {
  readonly HTTP_HOST: string;
  readonly PARLEY_TOPIC_PREFIX: string;
  readonly SCHEMA_REGISTRY_URL: string;
  readonly MONGO_URL: string;
  readonly MONGO_DB: string;
}

/**
 * Starts the send API when API keys are configured (else logs that it is off): its own MongoDB
 * connection (idempotency keys), its own acks=all producer for send-requests, its listener.
 * MongoDB is not a readiness check of ingress: the webhook does not need it, and the send API
 * answers 503 while it is down.
 */
export async function startSendApi(
  config: SendApiHostConfig,
  {
    logger,
    metrics,
    kafka,
  }: { logger: Logger; metrics: Dependencies["metrics"]; kafka?: KafkaClient },
): Promise<Own & { readonly port?: number }> {
  const keys = loadApiKeys(config);
  if (keys === undefined) {
    logger.info(
      {},
      "ingress: SEND_API_KEYS_FILE and SEND_API_KEYS name no API key; the HTTP send API is off",
    );
    return {};
  }
  if (kafka === undefined) throw new Error("the send API needs ingress's Kafka connection");
  const mongo = createMongo({
    url: config.MONGO_URL,
    database: config.MONGO_DB,
    appName: "parley-ingress-send-api",
  });
  const store = createMongoSendRecordStore({
    db: mongo.db,
    collection: config.SEND_API_COLLECTION,
    retentionMs: config.SEND_API_IDEMPOTENCY_TTL_MS,
  });
  await store.ensureIndexes().catch((error: unknown) => {
    logger.warn({ err: error }, "send API: MongoDB indexes not created yet; retried on first use");
  });
  const serde = createSerde({ registry: createRegistry({ url: config.SCHEMA_REGISTRY_URL }) });
  const producer = createEventProducer({ kafka, serde, name: "send-requests producer" });
  const sendApiMetrics = createSendApiMetrics(metrics);
  try {
    await producer.connect();
    const server = await startSendApiServer({
      host: config.SEND_API_HOST ?? config.HTTP_HOST,
      port: config.SEND_API_PORT,
      keyring: createKeyring(keys),
      store,
      acceptSend: createAcceptSend({
        store,
        publish: sendRequestedPublisher(producer, config.PARLEY_TOPIC_PREFIX),
        metrics: sendApiMetrics,
        publishTimeoutMs: config.SEND_API_PUBLISH_TIMEOUT_MS,
        onBackgroundError: (error, record) => {
          logger.warn(
            { err: error, requestId: record.requestId },
            "send request published but not marked so; a retry of its key re-publishes it (deduped downstream)",
          );
        },
      }),
      bodyLimitBytes: config.SEND_API_BODY_LIMIT_BYTES,
      rateLimiter: createRateLimiter({
        ratePerSecond: config.SEND_API_RATE_PER_SECOND,
        burst: config.SEND_API_RATE_BURST,
      }),
      metrics: sendApiMetrics,
      logger,
    });
    return {
      port: server.port,
      checks: [server.check],
      // Stopped in reverse: the listener drains, then the producer flushes, then MongoDB closes.
      components: [
        { name: "send API mongodb", stop: () => mongo.close() },
        { name: "send-requests producer", stop: () => producer.disconnect() },
        server,
      ],
    };
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    await mongo.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Wraps ingress's `start` so the send API runs next to the webhook (each is off on its own
 * when unconfigured); their checks and components are merged.
 */
export function withSendApi<D extends Dependencies>(
  config: SendApiHostConfig,
  start: (deps: D) => Promise<Own>,
): (deps: D) => Promise<Own> {
  return async (deps) => {
    const sendApi = await startSendApi(config, deps);
    let rest: Own;
    try {
      rest = await start(deps);
    } catch (error) {
      for (const c of [...(sendApi.components ?? [])].reverse()) await c.stop();
      throw error;
    }
    return {
      checks: [...(sendApi.checks ?? []), ...(rest.checks ?? [])],
      components: [...(sendApi.components ?? []), ...(rest.components ?? [])],
    };
  };
}
