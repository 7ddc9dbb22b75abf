import { config, telemetry } from "./instrument.js";
import { configSchema } from "./config.js";
import { createCatalog } from "@parley/contracts";
import { errorMessage } from "@parley/errors";
import { createEventProducer, createRegistry, registryOptionsOf, createSerde } from "@parley/kafka";
import {
  apiAccessOf,
  jwtSettingsOf,
  runStandardService,
  type Component,
  type ReadinessCheck,
} from "@parley/runtime";
import { createRateLimiter } from "./adapters/http/rate-limit.js";
import { startQueryApiServer } from "./adapters/http/server.js";
import { loadRateCard } from "@parley/pricing";
import { createMongoGenerationStore } from "./adapters/store/generation-store.js";
import { createMongoReader } from "./adapters/store/reader.js";
import { createLiveProjection } from "./generations/live.js";
import { createProjectionMetrics } from "./metrics.js";
import { startGeneration } from "./generation-runtime.js";
import { createQueries } from "./queries/queries.js";
import { createMongoAuditLog } from "./adapters/store/audit-store.js";
import { createAuditQueries } from "./audit/queries.js";
import { createAudienceQueries } from "./audience/audience.js";
import { createMongoAudienceStore } from "./adapters/store/audience-store.js";

// Composition root. The chassis gives projection its logger, metrics, connections with readiness
// checks, ops endpoints and graceful shutdown. The service keeps the active generation of read
// models current from the log (and follows a rebuild's switch), recomputes the analytics buckets
// whose facts changed, and serves the authenticated query API when keys are configured.
await runStandardService({
  name: "projection",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: true },
  start: async ({ logger, metrics, kafka, mongo }) => {
    const clock = () => new Date();
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry(registryOptionsOf(config)) });
    const prefix = config.PROJECTION_COLLECTION_PREFIX;
    const series = createProjectionMetrics(metrics);
    const rateCard =
      config.PARLEY_RATE_CARD_FILE === undefined
        ? undefined
        : await loadRateCard(config.PARLEY_RATE_CARD_FILE);
    const generations = createMongoGenerationStore(mongo.db, prefix);
    const runtime = {
      kafka,
      serde,
      catalog,
      db: mongo.db,
      collectionPrefix: prefix,
      maxInFlight: config.PROJECTION_MAX_IN_FLIGHT,
      cacheSize: config.PROJECTION_CACHE_SIZE,
      maxBatchKeys: config.PROJECTION_BATCH_KEYS,
      applyBatch: config.PROJECTION_APPLY_BATCH,
      markOnNextSave: config.PROJECTION_MARK_ON_NEXT_SAVE,
      ...(config.PROJECTION_MARK_DELAY_MS < 0
        ? {}
        : { markDelayMs: config.PROJECTION_MARK_DELAY_MS }),
      rollupMsPerFact: config.PROJECTION_ROLLUP_MS_PER_FACT,
      logger,
      observer: series.observer,
      onRecord: series.record,
      clock,
    };
    const checks: ReadinessCheck[] = [];
    const components: Component[] = [];
    const stopAll = async () => {
      for (const c of [...components].reverse()) await c.stop().catch(() => undefined);
    };
    try {
      const live = createLiveProjection({
        generations,
        consume: config.PROJECTION_ROLE !== "api",
        pollMs: config.PROJECTION_GENERATION_POLL_MS,
        rollupMs: config.PROJECTION_ROLLUP_INTERVAL_MS,
        clock,
        run: async (generation) => {
          const filling = await startGeneration(runtime, generation);
          series.generation(generation);
          logger.info({ generation }, "projection: keeping this generation current");
          return {
            generation,
            rollup: {
              runOnce: async (limit) => {
                const n = await filling.rollup.runOnce(limit);
                series.recomputed(n);
                return n;
              },
              drain: () => filling.rollup.drain(),
            },
            stop: () => filling.stop(),
          };
        },
        onError: (what, error) => {
          logger.warn(
            { err: errorMessage(error) },
            `projection: ${what} round failed; the next round tries again`,
          );
        },
        onSwitch: (from, to) => {
          logger.info(
            { from, to },
            "projection: a rebuild switched the active generation; following it",
          );
        },
      });
      await live.start();
      components.push({ name: "projection consumer", stop: () => live.stop() });

      if (config.PROJECTION_ROLE === "projector") return { checks, components };
      if (config.PROJECTION_API_KEYS.length === 0 && jwtSettingsOf(config) === undefined) {
        logger.info({}, "projection: no API key and no bearer JWT issuer; the query API is off");
        return { checks, components };
      }
      // Publishes AuditRecorded keys.changed when the query API's key or JWKS file changes.
      const producer = createEventProducer({ kafka, serde, name: "projection audit producer" });
      await producer.connect();
      components.push({ name: "projection audit producer", stop: () => producer.disconnect() });
      const server = await startQueryApiServer({
        host: config.PROJECTION_API_HOST ?? config.HTTP_HOST,
        port: config.PROJECTION_API_PORT,
        queries: createQueries({
          reader: createMongoReader(mongo.db, prefix),
          generations,
          active: () => live.active(),
          ...(rateCard === undefined ? {} : { rateCard }),
        }),
        audit: createAuditQueries({
          log: createMongoAuditLog(mongo.db, prefix),
          generations,
          active: () => live.active(),
        }),
        audience: createAudienceQueries({
          store: createMongoAudienceStore(mongo.db, prefix),
          active: () => live.active(),
          exists: async (g) => (await generations.get(g)) !== undefined,
        }),
        ...apiAccessOf(config, {
          api: "query",
          keys: config.PROJECTION_API_KEYS,
          logger,
          // PROJECTION_API_KEYS_FILE and API_JWT_JWKS_FILE re-read on change, each change audited.
          reload: {
            variable: "PROJECTION_API_KEYS",
            schema: configSchema.shape.PROJECTION_API_KEYS,
            audit: { producer, catalog, service: "projection" },
          },
        }),
        rateLimiter: createRateLimiter({
          ratePerSecond: config.PROJECTION_API_RATE_PER_SECOND,
          burst: config.PROJECTION_API_RATE_BURST,
        }),
        logger,
        observe: series.api.answered,
      });
      logger.info(
        { port: server.port, keys: config.PROJECTION_API_KEYS.length },
        "query API listening",
      );
      checks.push(server.check);
      components.push(server);
      return { checks, components };
    } catch (error) {
      await stopAll();
      throw error;
    }
  },
});
