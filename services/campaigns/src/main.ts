import { config, telemetry } from "./instrument.js";
import { configSchema } from "./config.js";
import { createCatalog } from "@parley/contracts";
import { createCommandHandler } from "@parley/decider";
import {
  createAuditPublisher,
  createEventProducer,
  createRegistry,
  createSerde,
} from "@parley/kafka";
import { loadNumberDirectory } from "@parley/numbers";
import {
  apiAccessOf,
  jwtSettingsOf,
  runStandardService,
  type Component,
  type ReadinessCheck,
} from "@parley/runtime";
import { createAudienceFiles } from "./adapters/file/audience-files.js";
import { createProjectionAudience } from "./adapters/projection/audience-client.js";
import { startCampaignsApiServer } from "./adapters/http/server.js";
import { createContactsConsumer } from "./adapters/kafka/contacts-consumer.js";
import { createSendPublisher } from "./adapters/kafka/publish-sends.js";
import { createSignalsConsumer } from "./adapters/kafka/signals-consumer.js";
import { createProgressConsumer } from "./adapters/kafka/progress-consumer.js";
import { createMongoDeliveries, ensureProgressIndexes } from "./adapters/store/progress-store.js";
import { loadRateCard } from "@parley/pricing";
import { createCampaignReader, createCampaignStateStore } from "./adapters/store/campaign-store.js";
import {
  createMongoFactsReader,
  createMongoPlanStore,
  createMongoSendQueue,
  ensureIndexes,
  noteReached,
  plannedGroupsOf,
  reachedLast24h,
  skipsOf,
} from "./adapters/store/plan-store.js";
import { createCampaigns } from "./control/campaigns.js";
import { campaignDecider } from "./domain/lifecycle.js";
import { uuidV5Of } from "./planning/ids.js";
import { ParleyError } from "@parley/errors";

/** A campaign names a number the directory does not know: refused when it is planned. */
class UnknownNumberError extends ParleyError {
  override readonly name = "UnknownNumberError";
  constructor(id: string) {
    super(`campaign number ${id} is not in the number directory (PARLEY_NUMBERS)`, {
      retry: "never",
    });
  }
}

// Composition root. The chassis gives campaigns its logger, metrics, connections with readiness
// checks, ops endpoints and graceful shutdown. The service keeps each campaign's lifecycle on the
// decider runtime, plans audiences into its queue, releases the queue to send-requests at the
// numbers' caps, pauses on Meta's signals and serves the authenticated campaigns API (ADR 0015).
await runStandardService({
  name: "campaigns",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: true },
  start: async ({ logger, kafka, mongo }) => {
    const clock = () => new Date();
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry({ url: config.SCHEMA_REGISTRY_URL }) });
    const directory = loadNumberDirectory(config);
    const checks: ReadinessCheck[] = [];
    const components: Component[] = [];
    const stopAll = async () => {
      for (const c of [...components].reverse()) await c.stop().catch(() => undefined);
    };
    try {
      await ensureIndexes(mongo.db);
      await ensureProgressIndexes(mongo.db);
      const rateCard =
        config.PARLEY_RATE_CARD_FILE === undefined
          ? undefined
          : await loadRateCard(config.PARLEY_RATE_CARD_FILE);
      const deliveries = createMongoDeliveries({ db: mongo.db });
      const producer = createEventProducer({ kafka, serde, name: "campaigns producer" });
      await producer.connect();
      components.push({ name: "campaigns producer", stop: () => producer.disconnect() });
      const handler = createCommandHandler({
        decider: campaignDecider,
        store: createCampaignStateStore({ db: mongo.db }),
        publish: () => Promise.resolve(),
        context: (commands, now) => commands.map(() => ({ now })),
        clock,
        cacheSize: 0,
      });
      const campaigns = createCampaigns({
        handler,
        reader: createCampaignReader({ db: mongo.db }),
        plans: createMongoPlanStore({ db: mongo.db }),
        queue: createMongoSendQueue({ db: mongo.db }),
        facts: createMongoFactsReader({ db: mongo.db }),
        publish: createSendPublisher({ producer, catalog, eventIdOf: uuidV5Of }),
        audiences: createAudienceFiles({
          dir: config.CAMPAIGNS_AUDIENCE_DIR,
          query:
            config.CAMPAIGNS_PROJECTION_URL === undefined ||
            config.CAMPAIGNS_PROJECTION_API_KEY === undefined
              ? undefined
              : createProjectionAudience({
                  url: config.CAMPAIGNS_PROJECTION_URL,
                  token: config.CAMPAIGNS_PROJECTION_API_KEY,
                  pageSize: config.CAMPAIGNS_PROJECTION_PAGE,
                }),
        }),
        numbersOf: (definition) =>
          definition.numbers.map((id) => {
            const n = directory.get(id);
            if (n === undefined) throw new UnknownNumberError(id);
            return { phoneNumberId: id, mps: n.mps };
          }),
        tier: config.CAMPAIGNS_MESSAGING_LIMIT,
        reached: (now) => reachedLast24h(mongo.db, now),
        requestIdOf: uuidV5Of,
        clock,
        chunkSize: config.CAMPAIGNS_PLAN_CHUNK,
        tickMs: config.CAMPAIGNS_TICK_MS,
        releaseLeadMs: config.CAMPAIGNS_RELEASE_LEAD_MS,
        rateCard,
        deliveries,
        plannedGroups: (id) => plannedGroupsOf(mongo.db, id),
        failureRateThreshold: config.CAMPAIGNS_FAILURE_RATE_THRESHOLD,
        onError: (error, campaignId) => {
          logger.warn(
            { err: error, campaignId },
            "campaigns: a campaign's plan or release failed; retried next tick",
          );
        },
      });

      for (const consumer of [
        createContactsConsumer({ kafka, serde, catalog, db: mongo.db, logger }),
        createSignalsConsumer({ kafka, serde, catalog, campaigns, logger }),
        createProgressConsumer({
          kafka,
          serde,
          catalog,
          deliveries,
          onFailure: async (id) => {
            if (await campaigns.noteFailure(id))
              logger.warn({ campaignId: id }, "campaigns: failure rate over the threshold; paused");
          },
          onReached: (contactId, at) => noteReached(mongo.db, contactId, at),
          logger,
        }),
      ]) {
        await consumer.start();
        components.push({ name: consumer.name, stop: () => consumer.stop() });
      }

      let ticking: Promise<void> = Promise.resolve();
      const timer = setInterval(() => {
        ticking = ticking
          .then(() => campaigns.tick())
          .catch((error: unknown) => {
            logger.warn({ err: error }, "campaigns: tick failed");
          });
      }, config.CAMPAIGNS_TICK_MS);
      components.push({
        name: "campaigns ticker",
        stop: async () => {
          clearInterval(timer);
          await ticking;
          await campaigns.settle();
        },
      });

      if (config.CAMPAIGNS_API_KEYS.length === 0 && jwtSettingsOf(config) === undefined) {
        logger.info({}, "campaigns: no API key and no bearer JWT issuer; the campaigns API is off");
        return { checks, components };
      }
      const server = await startCampaignsApiServer({
        host: config.CAMPAIGNS_API_HOST ?? config.HTTP_HOST,
        port: config.CAMPAIGNS_API_PORT,
        campaigns,
        skips: (id, page) => skipsOf(mongo.db, id, page),
        onAudit: createAuditPublisher({
          producer,
          catalog,
          service: "campaigns",
          onError: (error, entry) => {
            logger.error(
              { err: error, action: entry.action, actor: entry.principal.id },
              "campaigns API: a campaign was controlled but its AuditRecorded was not published",
            );
          },
        }),
        ...apiAccessOf(config, {
          api: "campaigns",
          keys: config.CAMPAIGNS_API_KEYS,
          logger,
          // CAMPAIGNS_API_KEYS_FILE and API_JWT_JWKS_FILE re-read on change, each change audited.
          reload: {
            variable: "CAMPAIGNS_API_KEYS",
            schema: configSchema.shape.CAMPAIGNS_API_KEYS,
            audit: { producer, catalog, service: "campaigns" },
          },
        }),
        maxBodyBytes: config.CAMPAIGNS_API_MAX_BODY_BYTES,
        maxAudienceBytes: config.CAMPAIGNS_AUDIENCE_MAX_BYTES,
        logger,
      });
      logger.info(
        { port: server.port, keys: config.CAMPAIGNS_API_KEYS.length },
        "campaigns API listening",
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
