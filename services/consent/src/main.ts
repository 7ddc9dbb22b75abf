import { config, telemetry } from "./instrument.js";
import { createCatalog } from "@parley/contracts";
import {
  createAuditPublisher,
  createEventProducer,
  createRegistry,
  registryOptionsOf,
  createSerde,
} from "@parley/kafka";
import {
  apiAccessOf,
  jwtSettingsOf,
  runStandardService,
  type Component,
  type ReadinessCheck,
} from "@parley/runtime";
import { startConsentApiServer } from "./adapters/http/server.js";
import { consentApiKeyList } from "./config.js";
import { createConsentConsumer } from "./adapters/kafka/consumer.js";
import { createKeyStore } from "./adapters/store/key-store.js";
import {
  createLedgerReader,
  createLedgerStore,
  migrateLedgers,
} from "./adapters/store/ledger-store.js";
import { createSendLog } from "./adapters/store/send-log.js";
import { createKeyWrapper } from "./crypto/keys.js";
import { createConsentLedger } from "./ledger/ledger.js";
import { createConsentMetrics } from "./metrics.js";

// Composition root. The chassis gives consent its logger, metrics, connections with readiness
// checks, ops endpoints and graceful shutdown. The service decides every consent input (keyword
// replies, user_preferences, 131050 failures, API calls, imports, erasures) on its ledger
// decider (ADR 0012) and serves the authenticated consent API when keys are configured.
await runStandardService({
  name: "consent",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: true },
  start: async ({ logger, metrics, kafka, mongo }) => {
    const clock = () => new Date();
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry(registryOptionsOf(config)) });
    const series = createConsentMetrics(metrics);
    const checks: ReadinessCheck[] = [];
    const components: Component[] = [];
    const stopAll = async () => {
      for (const c of [...components].reverse()) await c.stop().catch(() => undefined);
    };
    try {
      // Ledgers stored before ADR 0012's amendment (entries inside the head) move out first.
      const migrated = await migrateLedgers({ db: mongo.db });
      if (migrated > 0) logger.info({ migrated }, "consent: ledgers moved to consent_entries");
      const producer = createEventProducer({ kafka, serde, name: "consent producer" });
      await producer.connect();
      components.push({ name: "consent producer", stop: () => producer.disconnect() });
      const ledger = createConsentLedger({
        store: createLedgerStore({ db: mongo.db, clock }),
        reader: createLedgerReader({ db: mongo.db }),
        keys:
          config.CONSENT_MASTER_KEYS.length === 0
            ? undefined
            : createKeyStore({
                db: mongo.db,
                wrapper: createKeyWrapper(
                  config.CONSENT_MASTER_KEYS.map((k) => ({
                    id: k.id,
                    key: Buffer.from(k.key, "base64"),
                  })),
                ),
                clock,
              }),
        publish: async (entries) => {
          const topic = catalog.topic("consent");
          await producer.publishEncoded(
            topic,
            await Promise.all(
              entries.map((event) => producer.encode(topic, { key: topic.keyOf(event), event })),
            ),
          );
        },
        sends: createSendLog({ db: mongo.db }),
        clock,
        cacheSize: config.CONSENT_CACHE_SIZE,
        markDelayMs:
          config.CONSENT_IMPORT_MARK_DELAY_MS === 0
            ? undefined
            : config.CONSENT_IMPORT_MARK_DELAY_MS,
        observer: series.observer,
      });
      // Stopped after the API and the consumer (components stop in reverse): the held marks
      // are written before the producer disconnects.
      components.push({ name: "consent ledger marks", stop: () => ledger.flush() });
      if (config.CONSENT_MASTER_KEYS.length === 0) {
        logger.warn(
          {},
          "consent: CONSENT_MASTER_KEYS names no key; evidence is not kept (opt-outs are recorded without it, API inputs with evidence are refused)",
        );
      }
      const consumer = createConsentConsumer({
        kafka,
        serde,
        catalog,
        ledger,
        logger,
        tuning: { maxInFlight: config.CONSENT_MAX_IN_FLIGHT },
        observeDecided: series.decidedAfter,
      });
      await consumer.start();
      components.push({ name: consumer.name, stop: () => consumer.stop() });

      if (
        config.CONSENT_API_KEYS.length === 0 &&
        config.CONSENT_API_KEYS_PATH === undefined &&
        jwtSettingsOf(config) === undefined
      ) {
        logger.info({}, "consent: no API key and no bearer JWT issuer; the consent API is off");
        return { checks, components };
      }
      const server = await startConsentApiServer({
        host: config.CONSENT_API_HOST ?? config.HTTP_HOST,
        port: config.CONSENT_API_PORT,
        ledger,
        onAudit: createAuditPublisher({
          producer,
          catalog,
          service: "consent",
          onError: (error, entry) => {
            logger.error(
              { err: error, action: entry.action, actor: entry.principal.id },
              "consent API: an audited operation was done but its AuditRecorded was not published",
            );
          },
        }),
        ...apiAccessOf(config, {
          api: "consent",
          keys: config.CONSENT_API_KEYS,
          logger,
          // CONSENT_API_KEYS_PATH (or CONSENT_API_KEYS_FILE) and API_JWT_JWKS_FILE re-read on
          // change (rotation without a restart), each change audited.
          reload: {
            variable: "CONSENT_API_KEYS",
            file: config.CONSENT_API_KEYS_PATH,
            schema: consentApiKeyList,
            audit: { producer, catalog, service: "consent" },
          },
        }),
        clock,
        maxBodyBytes: config.CONSENT_API_MAX_BODY_BYTES,
        importBatchesInFlight: config.CONSENT_IMPORT_BATCHES_IN_FLIGHT,
        logger,
        observe: series.answered,
      });
      logger.info(
        { port: server.port, keys: config.CONSENT_API_KEYS.length },
        "consent API listening",
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
