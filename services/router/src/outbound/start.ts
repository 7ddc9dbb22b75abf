import type { Catalog } from "@parley/contracts";
import { createEventProducer, type KafkaClient, type Serde } from "@parley/kafka";
import type { MongoConnection } from "@parley/mongo";
import { loadNumberDirectory, type NumberDirectory } from "@parley/numbers";
import type { Component } from "@parley/runtime";
import type { Logger, Metrics } from "@parley/telemetry";
import { createTemplateSource } from "../adapters/graph/template-source.js";
import { createOutboundConsumer } from "../adapters/kafka/outbound-consumer.js";
import { createBatchedPublisher } from "../adapters/kafka/outbound-publisher.js";
import { createTemplateEventsConsumer } from "../adapters/kafka/template-events-consumer.js";
import { createInboundWindowReader } from "../adapters/store/inbound-windows.js";
import { createMongoOutboundStore } from "../adapters/store/outbound-store.js";
import { createMongoCatalogStore } from "../adapters/store/template-catalog-store.js";
import type { Config } from "../config.js";
import { contentDigest, eventIdOf } from "../inbound/event-id.js";
import { createTemplateCatalogs } from "./catalog.js";
import { createOutboundHandler } from "./handler.js";
import { createOutboundMetrics } from "./metrics.js";

export interface OutboundDependencies {
  readonly config: Config;
  readonly kafka: KafkaClient;
  readonly mongo: MongoConnection;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock?: () => Date;
}

/**
 * Composes and starts the outbound side (part of the composition root): the number directory,
 * template catalogs (Graph, MongoDB, memory, periodic sync), the per-contact handler and its two
 * consumers. Returns its components in start order (the chassis stops them in reverse). Without
 * a configured number directory it starts nothing and says so.
 */
export async function startOutbound({
  config,
  kafka,
  mongo,
  serde,
  catalog,
  logger,
  metrics,
  clock = () => new Date(),
}: OutboundDependencies): Promise<Component[]> {
  if (config.PARLEY_NUMBERS === undefined) {
    logger.warn(
      {},
      "router outbound side off: no business numbers configured (set PARLEY_NUMBERS_FILE)",
    );
    return [];
  }
  const directory: NumberDirectory = loadNumberDirectory(config);
  const source = createTemplateSource({
    directory,
    baseUrl: config.WA_GRAPH_BASE_URL,
    graphVersion: config.WA_GRAPH_VERSION,
  });
  const catalogs = createTemplateCatalogs({
    source,
    store: createMongoCatalogStore({ db: mongo.db }),
    clock,
    memoryTtlMs: config.ROUTER_TEMPLATE_CACHE_MS,
    onError: (wabaId, error) => {
      logger.warn(
        { wabaId, err: error instanceof Error ? error.message : String(error) },
        "router outbound: template catalog sync failed; the last synced catalog stays in use",
      );
    },
  });
  const observer = createOutboundMetrics(metrics);
  const producer = createEventProducer({ kafka, serde, name: "router-outbound producer" });
  await producer.connect();
  const handler = createOutboundHandler({
    store: createMongoOutboundStore({ db: mongo.db, clock }),
    publish: createBatchedPublisher(producer, catalog),
    clock,
    resolveSender: (sender) => directory.resolve(sender),
    catalogs,
    windows: createInboundWindowReader({ db: mongo.db }),
    marketingCap: {
      count: config.ROUTER_MARKETING_CAP_COUNT,
      periodMs: config.ROUTER_MARKETING_PERIOD_MS,
    },
    retention: {
      maxRequests: config.ROUTER_IDEMPOTENCY_MAX_KEYS,
      requestTtlMs: config.ROUTER_IDEMPOTENCY_TTL_MS,
    },
    eventIdOf,
    digest: contentDigest,
    missRefreshMs: config.ROUTER_TEMPLATE_RESYNC_MS,
    cacheSize: config.ROUTER_OUTBOUND_CACHE_SIZE,
    observer,
  });
  const requests = createOutboundConsumer({
    kafka,
    serde,
    catalog,
    handler,
    logger,
    tuning: { maxInFlight: config.ROUTER_SEND_MAX_IN_FLIGHT },
    observeQueued: (ms) => observer.stage?.("queued", ms),
  });
  const templateEvents = createTemplateEventsConsumer({
    kafka,
    serde,
    catalog,
    catalogs,
    wabaOf: (phoneNumberId) => directory.get(phoneNumberId)?.wabaId,
    logger,
  });

  // Every WABA synced now and then periodically, one after another, in the background: a
  // decision uses what is stored and never waits for this.
  let syncing: Promise<void> = Promise.resolve();
  const syncAll = () => {
    syncing = (async () => {
      for (const wabaId of directory.wabaIds()) {
        await catalogs.refresh(wabaId).catch((error: unknown) => {
          logger.warn(
            { wabaId, err: error instanceof Error ? error.message : String(error) },
            "router outbound: periodic template sync failed",
          );
        });
      }
    })();
  };
  syncAll();
  const timer =
    config.ROUTER_TEMPLATE_REFRESH_MS > 0
      ? setInterval(syncAll, config.ROUTER_TEMPLATE_REFRESH_MS)
      : undefined;
  timer?.unref();

  const started: Component[] = [
    { name: "router-outbound producer", stop: () => producer.disconnect() },
    { name: "graph template client", stop: () => source.close() },
    {
      name: "template sync",
      stop: async () => {
        clearInterval(timer);
        await syncing;
      },
    },
  ];
  try {
    await templateEvents.start();
    started.push({ name: templateEvents.name, stop: () => templateEvents.stop() });
    await requests.start();
    started.push({ name: requests.name, stop: () => requests.stop() });
  } catch (error) {
    for (const c of started.reverse()) await c.stop().catch(() => undefined);
    throw error;
  }
  logger.info(
    { numbers: directory.numbers.length, wabas: directory.wabaIds().length },
    "router outbound side started",
  );
  return started;
}
