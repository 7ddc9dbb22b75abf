import { config, telemetry } from "./instrument.js";
import { createCatalog } from "@parley/contracts";
import { createEventProducer, createRegistry, createSerde } from "@parley/kafka";
import { loadNumberDirectory } from "@parley/numbers";
import { runStandardService } from "@parley/runtime";
import { createCatalogPublisher } from "./adapters/kafka/publisher.js";
import { createRawWebhookConsumer } from "./adapters/kafka/raw-webhook-consumer.js";
import { createMongoContactStore } from "./adapters/store/contact-store.js";
import { startOutbound } from "./outbound/start.js";
import { eventIdOf } from "./inbound/event-id.js";
import { createInboundHandler } from "./inbound/handler.js";
import { createKeywordMatcher } from "./inbound/keywords.js";
import { createInboundMetrics } from "./inbound/metrics.js";
import { displayNumberResolver } from "./inbound/parse-business.js";

// Composition root. The chassis gives router its logger, metrics, connections with readiness
// checks, ops endpoints and graceful shutdown; the inbound side consumes raw webhooks and
// publishes contact-keyed events; the outbound side (outbound/start.ts) turns send requests into
// dispatch commands or terminal outcomes.
await runStandardService({
  name: "router",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: true },
  start: async ({ logger, metrics, kafka, mongo }) => {
    if (kafka === undefined || mongo === undefined) {
      throw new Error("router needs its Kafka and MongoDB connections");
    }
    const clock = () => new Date();
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry({ url: config.SCHEMA_REGISTRY_URL }) });
    const producer = createEventProducer({ kafka, serde, name: "router-inbound producer" });
    await producer.connect();
    const handler = createInboundHandler({
      store: createMongoContactStore({ db: mongo.db, clock }),
      publish: createCatalogPublisher(producer, catalog),
      clock,
      decideWith: {
        windowMs: config.ROUTER_WINDOW_MS,
        matchKeyword: createKeywordMatcher({
          stop: config.ROUTER_STOP_KEYWORDS,
          start: config.ROUTER_START_KEYWORDS,
        }),
        eventIdOf,
      },
      limits: { maxIds: config.ROUTER_DEDUPE_MAX_IDS, ttlMs: config.ROUTER_DEDUPE_TTL_MS },
      cacheSize: config.ROUTER_STATE_CACHE_SIZE,
      observer: createInboundMetrics(metrics, logger),
    });
    // Meta names a number in quality webhooks by its display number only; the directory (when
    // configured) gives its phone_number_id.
    const numbers = config.PARLEY_NUMBERS === undefined ? [] : loadNumberDirectory(config).numbers;
    const consumer = createRawWebhookConsumer({
      kafka,
      serde,
      catalog,
      handler,
      clock,
      logger,
      limits: {
        maxEntries: config.ROUTER_WEBHOOK_MAX_ENTRIES,
        maxChanges: config.ROUTER_WEBHOOK_MAX_CHANGES,
        maxItems: config.ROUTER_WEBHOOK_MAX_ITEMS,
        maxValues: config.ROUTER_WEBHOOK_MAX_VALUES,
      },
      phoneNumberIdOf: displayNumberResolver(numbers),
      tuning: { maxInFlight: config.ROUTER_MAX_IN_FLIGHT },
    });
    await consumer.start().catch(async (error: unknown) => {
      await producer.disconnect();
      throw error;
    });
    const outbound = await startOutbound({ config, kafka, mongo, serde, catalog, logger, metrics });
    return {
      // Stopped in reverse: the consumer drains its handlers first, then the producer flushes.
      components: [
        { name: "router-inbound producer", stop: () => producer.disconnect() },
        { name: consumer.name, stop: () => consumer.stop() },
        ...outbound,
      ],
    };
  },
});
