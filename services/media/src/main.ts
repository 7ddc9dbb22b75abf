import { config, telemetry } from "./instrument.js";
import { configSchema } from "./config.js";
import { createCatalog } from "@parley/contracts";
import { createCommandHandler } from "@parley/decider";
import { errorMessage } from "@parley/errors";
import {
  createEventProducer,
  createRegistry,
  registryOptionsOf,
  createSerde,
  createCatalogPublisher,
  createAuditPublisher,
} from "@parley/kafka";
import { loadNumberDirectory } from "@parley/numbers";
import {
  apiAccessOf,
  jwtSettingsOf,
  runStandardService,
  type Component,
  type ReadinessCheck,
} from "@parley/runtime";
import { createGraphMediaSource } from "./adapters/graph/media-source.js";
import { startMediaApiServer } from "./adapters/http/server.js";
import { createErasureConsumer } from "./adapters/kafka/erasure-consumer.js";
import { createInboundConsumer } from "./adapters/kafka/inbound-consumer.js";
import {
  createGraphIdCache,
  createMediaQueries,
  createMediaStateStore,
} from "./adapters/store/media-store.js";
import { createObjectStore } from "./adapters/store/object-store.js";
import { eventIdOf } from "./adapters/kafka/event-id.js";
import { createKeyRing, parseKeyEncryptionKeys } from "./crypto/keyring.js";
import { mediaObject } from "./domain/media-object.js";
import { createIngest } from "./ingest/ingest.js";
import { createInboundMedia } from "./media/inbound.js";
import { createMediaObjects } from "./media/objects.js";
import { createMediaMetrics } from "./metrics.js";
import { createGraphIds } from "./outbound/graph-ids.js";

// Composition root. The chassis gives media its logger, metrics, connections with readiness
// checks, ops endpoints and graceful shutdown. Inbound media is consumed from inbound-messages,
// downloaded from Graph, sealed and stored; the media objects run on the shared decider runtime
// over MongoDB; the media API serves uploads and decrypting downloads; a sweeper applies retention.
await runStandardService({
  name: "media",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: true },
  start: async ({ logger, metrics, kafka, mongo }) => {
    const clock = () => new Date();
    const series = createMediaMetrics(metrics);
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry(registryOptionsOf(config)) });
    const keys = createKeyRing(parseKeyEncryptionKeys(config.MEDIA_KEYS));
    // Without business numbers there is no token to download with: the inbound side is off and
    // the API and the sweeper still run.
    const directory = config.PARLEY_NUMBERS === undefined ? undefined : loadNumberDirectory(config);
    const components: Component[] = [];
    const checks: ReadinessCheck[] = [];
    const stopAll = async () => {
      for (const c of [...components].reverse()) await c.stop().catch(() => undefined);
    };
    try {
      const store = await createObjectStore(config);
      components.push({ name: "object store", stop: () => store.close() });
      const producer = createEventProducer({ kafka, serde, name: "media producer" });
      await producer.connect();
      components.push({ name: "media producer", stop: () => producer.disconnect() });
      const stateStore = createMediaStateStore(mongo.db);
      const queries = createMediaQueries(mongo.db);
      await queries.ensureIndexes();
      const commands = createCommandHandler({
        decider: mediaObject,
        store: stateStore,
        publish: createCatalogPublisher(producer, catalog),
        context: (batch, now) =>
          batch.map(() => ({
            now,
            eventIdOf,
            retention: {
              defaultDays: config.MEDIA_RETENTION_DAYS,
              byKind: config.MEDIA_RETENTION_BY_KIND,
              byNumber: config.MEDIA_RETENTION_BY_NUMBER,
            },
          })),
        clock,
        observer: {
          dropped: (key, event, error) => {
            logger.error(
              { mediaId: key, type: event.type, err: errorMessage(error) },
              "media: an event the broker refuses for good was dropped from the outbox",
            );
          },
        },
      });
      const source =
        directory === undefined
          ? undefined
          : createGraphMediaSource({
              directory,
              baseUrl: config.WA_GRAPH_BASE_URL,
              graphVersion: config.WA_GRAPH_VERSION,
              mediaHosts: config.MEDIA_GRAPH_MEDIA_HOSTS,
              timeoutMs: config.MEDIA_GRAPH_TIMEOUT_MS,
            });
      if (source !== undefined)
        components.push({ name: "graph media client", stop: () => source.close() });
      const ingest =
        source === undefined
          ? undefined
          : createIngest({
              source,
              store,
              keys,
              maxBytes: config.MEDIA_MAX_BYTES,
              attempts: config.MEDIA_DOWNLOAD_ATTEMPTS,
              backoffMs: config.MEDIA_DOWNLOAD_BACKOFF_MS,
              observer: {
                ...series.ingest,
                stored: (bytes, ms) => {
                  series.ingest.stored?.(bytes, ms);
                  logger.info({ bytes, ms }, "media: stored");
                },
              },
            });
      const objects = createMediaObjects({
        commands,
        queries,
        store,
        keys,
        maxBytes: config.MEDIA_MAX_BYTES,
        clock,
        observer: series.objects,
      });

      if (config.MEDIA_API_KEYS.length > 0 || jwtSettingsOf(config) !== undefined) {
        const api = await startMediaApiServer({
          objects,
          queries,
          ...(source === undefined
            ? {}
            : {
                resolveGraphId: createGraphIds({
                  objects,
                  uploader: source,
                  cache: createGraphIdCache(mongo.db),
                  clock,
                }),
              }),
          onAudit: createAuditPublisher({
            producer,
            catalog,
            service: "media",
            onError: (error, entry) => {
              logger.error(
                { err: error, action: entry.action, actor: entry.principal.id },
                "media API: an audited operation was done but its AuditRecorded was not published",
              );
            },
          }),
          ...apiAccessOf(config, {
            api: "media",
            keys: config.MEDIA_API_KEYS,
            logger,
            // MEDIA_API_KEYS_FILE and API_JWT_JWKS_FILE re-read on change, each change audited.
            reload: {
              variable: "MEDIA_API_KEYS",
              schema: configSchema.shape.MEDIA_API_KEYS,
              audit: { producer, catalog, service: "media" },
            },
          }),
          maxBytes: config.MEDIA_MAX_BYTES,
          host: config.MEDIA_API_HOST ?? config.HTTP_HOST,
          port: config.MEDIA_API_PORT,
          onError: (error) => {
            logger.warn({ err: errorMessage(error) }, "media API: request failed");
          },
        });
        components.push(api);
        checks.push(api.check);
        logger.info({ port: api.port }, "media API listening");
      } else {
        logger.warn({}, "media API off: no key configured (MEDIA_API_KEYS_FILE)");
      }

      if (ingest === undefined) {
        logger.warn(
          {},
          "media inbound side off: no business numbers configured (set PARLEY_NUMBERS_FILE)",
        );
      } else {
        const inbound = createInboundConsumer({
          kafka,
          serde,
          catalog,
          handleMedia: createInboundMedia({ commands, store: stateStore, ingest, objects: store }),
          logger,
          tuning: {
            maxInFlight: config.MEDIA_MAX_IN_FLIGHT,
            ...(config.KAFKA_GROUP_INSTANCE_ID === undefined
              ? {}
              : { groupInstanceId: config.KAFKA_GROUP_INSTANCE_ID }),
            sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
            heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS,
          },
        });
        await inbound.start();
        components.push({ name: inbound.name, stop: () => inbound.stop() });
      }

      // A contact erased by the consent service (ContactErased) loses their media here.
      const erasure = createErasureConsumer({
        kafka,
        serde,
        catalog,
        erase: async (contactId) => {
          const deleted = await objects.erase(contactId);
          if (deleted > 0) logger.info({ deleted }, "media: a contact's media erased");
          return deleted;
        },
        logger,
      });
      await erasure.start();
      components.push({ name: erasure.name, stop: () => erasure.stop() });

      if (config.MEDIA_SWEEP_INTERVAL_MS > 0) {
        let sweeping: Promise<void> = Promise.resolve();
        const timer = setInterval(() => {
          sweeping = sweeping
            .then(async () => {
              const deleted = await objects.sweep();
              if (deleted > 0) logger.info({ deleted }, "media: retention sweep deleted objects");
            })
            .catch((error: unknown) => {
              logger.warn(
                { err: errorMessage(error) },
                "media: retention sweep failed; next run retries",
              );
            });
        }, config.MEDIA_SWEEP_INTERVAL_MS);
        timer.unref();
        components.push({
          name: "retention sweeper",
          stop: async () => {
            clearInterval(timer);
            await sweeping;
          },
        });
      }
      logger.info(
        { store: store.name, keyId: keys.currentId, numbers: directory?.numbers.length ?? 0 },
        "media started",
      );
      return { checks, components };
    } catch (error) {
      await stopAll();
      throw error;
    }
  },
});
