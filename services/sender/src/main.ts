import { config, telemetry } from "./instrument.js";
import { secretFileOf } from "@parley/config";
import { appTokenParser } from "./config.js";
import { createCatalog } from "@parley/contracts";
import {
  createEventProducer,
  createRegistry,
  registryOptionsOf,
  createSerde,
  KeyedQueue,
  partitionOfKey,
} from "@parley/kafka";
import { loadNumberDirectory } from "@parley/numbers";
import { runStandardService } from "@parley/runtime";
import { linkActiveSpan } from "@parley/telemetry";
import { createGraph } from "./adapters/graph/graph.js";
import { createTokenFiles } from "./adapters/secrets/token-files.js";
import { createMediaClient } from "./adapters/media/media-client.js";
import { createSenderConsumers } from "./adapters/kafka/consumers.js";
import { createDispatchTopicAdmin } from "./adapters/kafka/dispatch-topic.js";
import { createMongoAttemptStore } from "./adapters/store/attempt-store.js";
import { createMongoGateStore } from "./adapters/store/gate-store.js";
import { createMongoParkStore } from "./adapters/store/park-store.js";
import { createMongoThroughputStore } from "./adapters/store/throughput-store.js";
import { createSenderMetrics } from "./metrics.js";
import { createSender } from "./sending/sender.js";

/**
 * SENDER_KILL_BEFORE_COMMIT (tests only): SIGKILL once `records` dispatch records have gone
 * into transactions, between sending a transaction's outputs and committing it. The line goes to
 * stderr synchronously (a pipe), so the test sees it before the process dies.
 */
function killBeforeCommit(records: number) {
  let sent = 0;
  return (pending: { readonly offsets: readonly string[]; readonly outputs: number }) => {
    sent += pending.offsets.length;
    if (sent >= records) {
      process.stderr.write(
        `fault injection: killing the sender before its transaction commits (${String(pending.outputs)} outputs of ${String(pending.offsets.length)} records)\n`,
      );
      process.kill(process.pid, "SIGKILL");
    }
    return Promise.resolve();
  };
}

// Composition root. The chassis gives sender its logger, metrics, connections with readiness
// checks, ops endpoints and graceful shutdown; sender consumes dispatch commands and is the
// only caller of the Graph messages endpoint.
await runStandardService({
  name: "sender",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: true },
  start: async ({ logger, metrics, kafka, mongo }) => {
    const directory = loadNumberDirectory(config);
    const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
    const serde = createSerde({ registry: createRegistry(registryOptionsOf(config)) });
    // Encodes outcomes for the consumers' transactions; it sends nothing itself (not connected).
    const producer = createEventProducer({ kafka, serde, name: "sender outputs" });
    const dispatchTopic = catalog.topic("dispatch");
    // The numbers' token files and GRAPH_APP_TOKEN_FILE, re-read on change (no restart).
    const tokens = createTokenFiles(directory, {
      token: config.GRAPH_APP_TOKEN,
      file: secretFileOf("GRAPH_APP_TOKEN"),
      parse: appTokenParser,
    });
    const sender = createSender({
      settings: config,
      directory,
      stores: {
        attempts: createMongoAttemptStore(mongo.db),
        gates: createMongoGateStore(mongo.db),
        parks: createMongoParkStore(mongo.db),
        throughput: createMongoThroughputStore(mongo.db),
      },
      graph: createGraph({
        directory,
        baseUrl: config.WA_GRAPH_BASE_URL,
        graphVersion: config.WA_GRAPH_VERSION,
        timeoutMs: config.SENDER_GRAPH_TIMEOUT_MS,
        connections: config.SENDER_GRAPH_CONNECTIONS,
        tokenOf: (number) => tokens.token(number),
        appToken: () => tokens.appToken?.(),
      }),
      tokens,
      media:
        config.MEDIA_API_URL === undefined || config.MEDIA_API_KEY === undefined
          ? undefined
          : createMediaClient({
              url: config.MEDIA_API_URL,
              key: config.MEDIA_API_KEY,
              timeoutMs: config.MEDIA_API_TIMEOUT_MS,
            }),
      dispatchTopic: {
        name: dispatchTopic.name,
        partitions: dispatchTopic.partitions,
        admin: createDispatchTopicAdmin(kafka, dispatchTopic.name),
        partitionOf: partitionOfKey,
      },
      consumers: (handlers) =>
        createSenderConsumers({
          kafka,
          serde,
          catalog,
          logger,
          handlers,
          producer,
          tuning: { maxInFlight: config.SENDER_MAX_IN_FLIGHT },
          beforeDispatchCommit:
            config.SENDER_KILL_BEFORE_COMMIT > 0
              ? killBeforeCommit(config.SENDER_KILL_BEFORE_COMMIT)
              : undefined,
        }),
      keyedRunner: () => new KeyedQueue(),
      observer: createSenderMetrics(metrics),
      logger,
      linkToSend: (traceparent, requestId) => {
        linkActiveSpan(traceparent, { "parley.link": "send", "parley.request_id": requestId });
      },
    });
    await sender.start();
    logger.info({ numbers: directory.numbers.map((n) => n.phoneNumberId) }, "sender started");
    return {
      checks: [
        {
          // Readiness names a paused number (token refused) so the alert has its detail here too.
          name: "business numbers",
          check: () => {
            const paused = sender.paused();
            return paused.length === 0
              ? Promise.resolve()
              : Promise.reject(
                  new Error(
                    `paused (token refused): ${paused.map((p) => `${p.number} (#${p.code} since ${new Date(p.since).toISOString()}, ${p.parked} dispatches parked)`).join(", ")}`,
                  ),
                );
          },
        },
      ],
      components: [{ name: "sender consumers", stop: () => sender.stop() }],
    };
  },
});
