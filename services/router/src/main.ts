import { config, telemetry } from "./instrument.js";
import { createCatalog } from "@parley/contracts";
import { errorMessage } from "@parley/errors";
import {
  createEventProducer,
  createRegistry,
  registryOptionsOf,
  createSerde,
  createCatalogPublisher,
} from "@parley/kafka";
import { loadNumberDirectory } from "@parley/numbers";
import { runStandardService, type Component } from "@parley/runtime";
import { createTemplateSource } from "./adapters/graph/template-source.js";
import { createOutboundConsumer } from "./adapters/kafka/outbound-consumer.js";
import { createRawWebhookConsumer } from "./adapters/kafka/raw-webhook-consumer.js";
import { createTemplateEventsConsumer } from "./adapters/kafka/template-events-consumer.js";
import { createContactStore } from "./adapters/store/contact-store.js";
import { createInboundWindowReader } from "./adapters/store/inbound-windows.js";
import { createOutboundStore } from "./adapters/store/outbound-store.js";
import { createMongoCatalogStore } from "./adapters/store/template-catalog-store.js";
import { contentDigest, eventIdOf } from "./inbound/event-id.js";
import { createInboundHandler } from "./inbound/handler.js";
import { createLaneGate, firstLane, receiptLane } from "./lanes.js";
import { createKeywordMatcher } from "./inbound/keywords.js";
import { displayNumberResolver } from "./inbound/parse-business.js";
import {
  createInboundMetrics,
  createOutboundMetrics,
  createSendOutcomeMetrics,
} from "./metrics.js";
import { createTemplateCatalogs } from "./outbound/catalog.js";
import { createOutboundHandler } from "./outbound/handler.js";

// Composition root. The chassis gives router its logger, metrics, connections with readiness
// checks, ops endpoints and graceful shutdown. The inbound side consumes raw webhooks and
// publishes contact-keyed events; the outbound side (when a number directory is configured)
// turns send requests into dispatch commands or terminal outcomes. Both run their deciders on
// the shared runtime (@parley/decider) over MongoDB state stores.
await runStandardService({
  name: "router",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: true },
  start: async ({ logger, metrics, kafka, mongo }) => {
    const clock = () => new Date();
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry(registryOptionsOf(config)) });
    // Loaded once: quality webhooks name a number by its display number only (inbound), and the
    // outbound side resolves senders, WABAs and tokens from it.
    const directory = config.PARLEY_NUMBERS === undefined ? undefined : loadNumberDirectory(config);
    // Stopped in reverse: consumers drain their handlers first, then producers flush.
    const components: Component[] = [];
    const stopAll = async () => {
      for (const c of [...components].reverse()) await c.stop().catch(() => undefined);
    };
    try {
      // Inbound: raw-webhooks -> parsed facts -> the contact decider -> contact-keyed topics.
      const inboundProducer = createEventProducer({
        kafka,
        serde,
        name: "router-inbound producer",
      });
      await inboundProducer.connect();
      components.push({
        name: "router-inbound producer",
        stop: () => inboundProducer.disconnect(),
      });
      const markDelayMs = config.ROUTER_MARK_DELAY_MS < 0 ? undefined : config.ROUTER_MARK_DELAY_MS;
      const inboundHandler = createInboundHandler({
        store: createContactStore({
          db: mongo.db,
          clock,
          rememberKeys: config.ROUTER_STATE_CACHE_SIZE,
        }),
        publish: createCatalogPublisher(inboundProducer, catalog),
        clock,
        decideWith: {
          windowMs: config.ROUTER_WINDOW_MS,
          consentDecider: config.ROUTER_CONSENT_DECIDER,
          matchKeyword: createKeywordMatcher({
            stop: config.ROUTER_STOP_KEYWORDS,
            start: config.ROUTER_START_KEYWORDS,
          }),
          eventIdOf,
        },
        limits: { maxIds: config.ROUTER_DEDUPE_MAX_IDS, ttlMs: config.ROUTER_DEDUPE_TTL_MS },
        cacheSize: config.ROUTER_STATE_CACHE_SIZE,
        ...(markDelayMs === undefined ? {} : { markDelayMs }),
        observer: createInboundMetrics(metrics, logger),
      });
      // Stopped after the consumers (components stop in reverse): the last marks are written.
      components.push({ name: "router-inbound marks", stop: () => inboundHandler.flush() });
      // Two raw lanes (ADR 0004): messages and sends first, receipts when they leave CPU over.
      const lanes = createLaneGate({
        maxWaitMs: config.ROUTER_STATUS_MAX_WAIT_MS,
        spareBelow: config.ROUTER_STATUS_SPARE_BELOW_PERCENT / 100,
      });
      const rawConsumerOptions = {
        kafka,
        serde,
        catalog,
        clock,
        logger,
        limits: {
          maxEntries: config.ROUTER_WEBHOOK_MAX_ENTRIES,
          maxChanges: config.ROUTER_WEBHOOK_MAX_CHANGES,
          maxItems: config.ROUTER_WEBHOOK_MAX_ITEMS,
          maxValues: config.ROUTER_WEBHOOK_MAX_VALUES,
        },
        phoneNumberIdOf: displayNumberResolver(directory?.numbers ?? []),
      };
      const inbound = createRawWebhookConsumer({
        ...rawConsumerOptions,
        handler: firstLane(lanes, inboundHandler),
        tuning: { maxInFlight: config.ROUTER_MAX_IN_FLIGHT },
      });
      await inbound.start();
      components.push({ name: inbound.name, stop: () => inbound.stop() });
      const receipts = createRawWebhookConsumer({
        ...rawConsumerOptions,
        lane: "statuses",
        handler: receiptLane(lanes, inboundHandler),
        tuning: { maxInFlight: config.ROUTER_STATUS_MAX_IN_FLIGHT },
      });
      await receipts.start();
      components.push({ name: receipts.name, stop: () => receipts.stop() });

      if (directory === undefined) {
        logger.warn(
          {},
          "router outbound side off: no business numbers configured (set PARLEY_NUMBERS_FILE)",
        );
        return { components };
      }

      // Outbound: template catalogs (Graph -> MongoDB -> memory), kept current by template
      // webhooks, 132001 failures and a periodic sync.
      const source = createTemplateSource({
        directory,
        baseUrl: config.WA_GRAPH_BASE_URL,
        graphVersion: config.WA_GRAPH_VERSION,
      });
      components.push({ name: "graph template client", stop: () => source.close() });
      const catalogs = createTemplateCatalogs({
        source,
        store: createMongoCatalogStore({ db: mongo.db }),
        clock,
        memoryTtlMs: config.ROUTER_TEMPLATE_CACHE_MS,
        onError: (wabaId, error) => {
          logger.warn(
            { wabaId, err: errorMessage(error) },
            "router outbound: template catalog sync failed; the last synced catalog stays in use",
          );
        },
      });
      // Every WABA synced now and then periodically, one after another, in the background: a
      // decision uses what is stored and never waits for this.
      let syncing: Promise<void> = Promise.resolve();
      const syncAll = () => {
        syncing = (async () => {
          for (const wabaId of directory.wabaIds()) {
            await catalogs.refresh(wabaId).catch((error: unknown) => {
              logger.warn(
                { wabaId, err: errorMessage(error) },
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
      components.push({
        name: "template sync",
        stop: async () => {
          clearInterval(timer);
          await syncing;
        },
      });

      // Outbound: send-requests, consent and windows -> the send decider -> dispatch / outcomes.
      const outboundProducer = createEventProducer({
        kafka,
        serde,
        name: "router-outbound producer",
      });
      await outboundProducer.connect();
      components.push({
        name: "router-outbound producer",
        stop: () => outboundProducer.disconnect(),
      });
      const outboundMetrics = createOutboundMetrics(metrics);
      const templateEvents = createTemplateEventsConsumer({
        kafka,
        serde,
        catalog,
        catalogs,
        wabaOf: (phoneNumberId) => directory.get(phoneNumberId)?.wabaId,
        logger,
        onOutcome: createSendOutcomeMetrics(metrics),
      });
      await templateEvents.start();
      components.push({ name: templateEvents.name, stop: () => templateEvents.stop() });
      const outboundHandler = createOutboundHandler({
        store: createOutboundStore({
          db: mongo.db,
          clock,
          rememberKeys: config.ROUTER_OUTBOUND_CACHE_SIZE,
        }),
        publish: createCatalogPublisher(outboundProducer, catalog),
        clock,
        resolveSender: (sender) => directory.resolve(sender),
        catalogs,
        windows: createInboundWindowReader({ db: mongo.db }),
        marketingCap: {
          count: config.ROUTER_MARKETING_CAP_COUNT,
          periodMs: config.ROUTER_MARKETING_PERIOD_MS,
        },
        authenticationExempt: config.PARLEY_AUTHENTICATION_EXEMPT,
        retention: {
          maxRequests: config.ROUTER_IDEMPOTENCY_MAX_KEYS,
          requestTtlMs: config.ROUTER_IDEMPOTENCY_TTL_MS,
        },
        eventIdOf,
        digest: contentDigest,
        missRefreshMs: config.ROUTER_TEMPLATE_RESYNC_MS,
        cacheSize: config.ROUTER_OUTBOUND_CACHE_SIZE,
        ...(markDelayMs === undefined ? {} : { markDelayMs }),
        observer: outboundMetrics,
      });
      components.push({ name: "router-outbound marks", stop: () => outboundHandler.flush() });
      const outboundFirst = firstLane(lanes, outboundHandler);
      // Gates apart (ADR 0005): consent and windows are applied however long the request queue.
      const gates = createOutboundConsumer({
        kafka,
        serde,
        catalog,
        part: "gates",
        handler: outboundFirst,
        logger,
      });
      await gates.start();
      components.push({ name: gates.name, stop: () => gates.stop() });
      const requests = createOutboundConsumer({
        kafka,
        serde,
        catalog,
        part: "requests",
        handler: outboundFirst,
        logger,
        tuning: { maxInFlight: config.ROUTER_SEND_MAX_IN_FLIGHT },
        observeQueued: (ms) => outboundMetrics.stage?.("queued", ms),
      });
      await requests.start();
      components.push({ name: requests.name, stop: () => requests.stop() });
      logger.info(
        { numbers: directory.numbers.length, wabas: directory.wabaIds().length },
        "router outbound side started",
      );
      return { components };
    } catch (error) {
      await stopAll();
      throw error;
    }
  },
});
