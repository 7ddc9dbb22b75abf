import type { Catalog } from "@parley/contracts";
import {
  createEventProducer,
  type KafkaClient,
  type Serde,
  createCatalogPublisher,
} from "@parley/kafka";
import type { MongoConnection } from "@parley/mongo";
import { loadNumberDirectory } from "@parley/numbers";
import type { Component } from "@parley/runtime";
import type { Config } from "../../config.js";
import { contentDigest, eventIdOf } from "../../inbound/event-id.js";
import { createTemplateCatalogs } from "../../outbound/catalog.js";
import { createOutboundHandler } from "../../outbound/handler.js";
import { createTemplateSource } from "../graph/template-source.js";
import { createInboundWindowReader } from "../store/inbound-windows.js";
import { createOutboundStore } from "../store/outbound-store.js";
import { createMongoCatalogStore } from "../store/template-catalog-store.js";
import { createOutboundConsumer } from "./outbound-consumer.js";
import { createTemplateEventsConsumer } from "./template-events-consumer.js";

// The router's outbound side on the real broker, registry and MongoDB, composed as main.ts
// composes it (minus the periodic sync and the metrics), for the integration specs.

export interface OutboundSideDependencies {
  readonly config: Config;
  readonly kafka: KafkaClient;
  readonly mongo: MongoConnection;
  readonly serde: Serde;
  readonly catalog: Catalog;
}

/** Starts the outbound side's two consumers; returns its components in start order. */
export async function startOutboundSide({
  config,
  kafka,
  mongo,
  serde,
  catalog,
}: OutboundSideDependencies): Promise<Component[]> {
  const clock = () => new Date();
  const directory = loadNumberDirectory(config);
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
  });
  const producer = createEventProducer({ kafka, serde, name: "router-outbound producer" });
  await producer.connect();
  const started: Component[] = [
    { name: "router-outbound producer", stop: () => producer.disconnect() },
    { name: "graph template client", stop: () => source.close() },
  ];
  try {
    const templateEvents = createTemplateEventsConsumer({
      kafka,
      serde,
      catalog,
      catalogs,
      wabaOf: (phoneNumberId) => directory.get(phoneNumberId)?.wabaId,
    });
    await templateEvents.start();
    started.push({ name: templateEvents.name, stop: () => templateEvents.stop() });
    const requests = createOutboundConsumer({
      kafka,
      serde,
      catalog,
      handler: createOutboundHandler({
        store: createOutboundStore({ db: mongo.db, clock }),
        publish: createCatalogPublisher(producer, catalog),
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
      }),
      tuning: { maxInFlight: config.ROUTER_SEND_MAX_IN_FLIGHT },
    });
    await requests.start();
    started.push({ name: requests.name, stop: () => requests.stop() });
  } catch (error) {
    for (const c of [...started].reverse()) await c.stop().catch(() => undefined);
    throw error;
  }
  return started;
}
