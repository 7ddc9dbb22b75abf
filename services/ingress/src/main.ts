import { config, telemetry } from "./instrument.js";
import { configSchema } from "./config.js";
import { createCatalog } from "@parley/contracts";
import { createEventProducer, createRegistry, registryOptionsOf, createSerde } from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import {
  apiAuthenticatorOf,
  jwtSettingsOf,
  mongoSecurityOf,
  runStandardService,
  tlsFilesOf,
  type Component,
  type ReadinessCheck,
} from "@parley/runtime";
import { createRateLimiter } from "./admission/rate-limit.js";
import { createAllowList } from "./adapters/http/allow-list.js";
import { startSendApi } from "./adapters/http/send-server.js";
import { startWebhookServer } from "./adapters/http/webhook-server.js";
import { createRawWebhookAppender } from "./adapters/kafka/raw-appender.js";
import { createWebhookMetrics } from "./metrics.js";

// Composition root. The chassis gives ingress its logger, metrics, Kafka and registry readiness,
// ops endpoints and graceful shutdown; ingress adds the public webhook endpoint (signed POSTs
// appended to the raw topic) and, when API keys are configured, the authenticated HTTP send
// API on its own port (docs/send-api.md). Both share the Kafka client, serde and catalog.
await runStandardService({
  name: "ingress",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: false },
  start: async ({ logger, metrics, kafka }) => {
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry(registryOptionsOf(config)) });
    const checks: ReadinessCheck[] = [];
    // Stopped in reverse order: listeners drain first, then producers flush, then MongoDB.
    const components: Component[] = [];
    const stopAll = async () => {
      for (const c of [...components].reverse()) await c.stop().catch(() => undefined);
    };
    try {
      const keys = config.SEND_API_KEYS;
      const tls = tlsFilesOf(config, (error) => {
        if (error === undefined) logger.info({}, "ingress: TLS certificate reloaded");
        else logger.error({ err: error }, "ingress: the new TLS certificate did not load");
      });
      if (keys.length === 0 && jwtSettingsOf(config) === undefined) {
        logger.info(
          {},
          "ingress: SEND_API_KEYS (or SEND_API_KEYS_FILE) names no API key and no bearer JWT issuer is set; the HTTP send API is off",
        );
      } else {
        // The send API's idempotency keys. MongoDB is not a readiness check of ingress: the
        // webhook does not need it, and the send API answers 503 while it is down.
        const mongo = createMongo({
          url: config.MONGO_URL,
          database: config.MONGO_DB,
          appName: "parley-ingress",
          ...mongoSecurityOf(config),
        });
        components.push({ name: "send API mongodb", stop: () => mongo.close() });
        const producer = createEventProducer({ kafka, serde, name: "send-requests producer" });
        await producer.connect();
        components.push({ name: "send-requests producer", stop: () => producer.disconnect() });
        const server = await startSendApi(config, {
          db: mongo.db,
          producer,
          catalog,
          logger,
          metrics,
          tls,
          // SEND_API_KEYS_FILE and API_JWT_JWKS_FILE re-read on change, each change audited.
          authenticator: apiAuthenticatorOf(config, {
            api: "messages",
            keys,
            logger,
            reload: {
              variable: "SEND_API_KEYS",
              schema: configSchema.shape.SEND_API_KEYS,
              audit: { producer, catalog, service: "ingress" },
            },
          }),
        });
        checks.push(server.check);
        components.push(server);
      }

      const { WA_VERIFY_TOKEN: verifyToken, WA_APP_SECRET: appSecret } = config;
      if (verifyToken === undefined || appSecret === undefined) {
        logger.warn(
          {},
          "ingress: WA_VERIFY_TOKEN and WA_APP_SECRET are not set; the webhook endpoint is off",
        );
        return { checks, components };
      }
      // Several producers keep several produce requests in flight (one each: idempotent).
      const producers = Array.from({ length: config.WEBHOOK_APPEND_PRODUCERS }, (_, i) =>
        createEventProducer({ kafka, serde, name: `raw-webhooks producer ${String(i + 1)}` }),
      );
      components.push({
        name: "raw-webhooks producers",
        stop: async () => {
          await Promise.all(producers.map((p) => p.disconnect()));
        },
      });
      await Promise.all(producers.map((p) => p.connect()));
      const webhook = await startWebhookServer({
        tls,
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
          topics: {
            webhooks: catalog.topic("raw-webhooks"),
            statuses: catalog.topic("raw-status-webhooks"),
          },
          statusLane: config.WEBHOOK_STATUS_LANE,
          timeoutMs: config.WEBHOOK_APPEND_TIMEOUT_MS,
        }),
        metrics: createWebhookMetrics(metrics),
        logger,
      });
      checks.push(webhook.check);
      components.push(webhook);
      return { checks, components };
    } catch (error) {
      await stopAll();
      throw error;
    }
  },
});
