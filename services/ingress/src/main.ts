import { config, telemetry } from "./instrument.js";
import { createCatalog } from "@parley/contracts";
import { createEventProducer, createRegistry, createSerde } from "@parley/kafka";
import { runStandardService } from "@parley/runtime";
import { createAllowList } from "./adapters/http/allow-list.js";
import { startWebhookServer } from "./adapters/http/webhook-server.js";
import { createRawWebhookAppender } from "./adapters/kafka/raw-appender.js";
import { createRateLimiter } from "./domain/rate-limit.js";
import { createWebhookMetrics } from "./metrics.js";
import { withSendApi } from "./send-api/server.js";

// Composition root: the chassis (logger, metrics, Kafka and registry readiness, ops endpoints,
// graceful shutdown) plus the public webhook endpoint that appends signed POSTs to the raw topic.
await runStandardService({
  name: "ingress",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: false },
  // The authenticated HTTP send API runs beside the webhook on its own port (docs/send-api.md).
  start: withSendApi(config, async ({ logger, metrics, kafka }) => {
    const { WA_VERIFY_TOKEN: verifyToken, WA_APP_SECRET: appSecret } = config;
    if (verifyToken === undefined || appSecret === undefined) {
      logger.warn(
        {},
        "ingress: WA_VERIFY_TOKEN and WA_APP_SECRET are not set; the webhook endpoint is off",
      );
      return {};
    }
    if (kafka === undefined) throw new Error("ingress needs its Kafka connection");
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry({ url: config.SCHEMA_REGISTRY_URL }) });
    // Several producers keep several produce requests in flight (one each: idempotent).
    const producers = Array.from({ length: config.WEBHOOK_APPEND_PRODUCERS }, (_, i) =>
      createEventProducer({ kafka, serde, name: `raw-webhooks producer ${String(i + 1)}` }),
    );
    const disconnectAll = async () => {
      await Promise.all(producers.map((p) => p.disconnect()));
    };
    await Promise.all(producers.map((p) => p.connect()));
    const webhook = await startWebhookServer({
      host: config.WEBHOOK_HOST ?? config.HTTP_HOST,
      port: config.WEBHOOK_PORT,
      verifyToken,
      appSecrets:
        config.WA_APP_SECRET_PREVIOUS === undefined
          ? [appSecret]
          : [appSecret, config.WA_APP_SECRET_PREVIOUS],
      bodyLimitBytes: config.WEBHOOK_BODY_LIMIT_BYTES,
      trustProxy: config.WEBHOOK_TRUST_PROXY,
      rateLimiter: createRateLimiter({
        ratePerSecond: config.WEBHOOK_RATE_PER_SECOND,
        burst: config.WEBHOOK_RATE_BURST,
      }),
      allowList: createAllowList(config.WEBHOOK_ALLOWED_CIDRS),
      appender: createRawWebhookAppender({
        producer: producers,
        topic: catalog.topic("raw-webhooks"),
        timeoutMs: config.WEBHOOK_APPEND_TIMEOUT_MS,
      }),
      metrics: createWebhookMetrics(metrics),
      logger,
    }).catch(async (error: unknown) => {
      await disconnectAll();
      throw error;
    });
    return {
      checks: [webhook.check],
      // Stopped in reverse: the listener drains its appends first, then the producer flushes.
      components: [{ name: "raw-webhooks producers", stop: () => disconnectAll() }, webhook],
    };
  }),
});
