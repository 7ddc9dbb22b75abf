import { config, telemetry } from "./instrument.js";
import { createCatalog } from "@parley/contracts";
import { createEventProducer, createRegistry, createSerde } from "@parley/kafka";
import { loadNumberDirectory } from "@parley/numbers";
import { runStandardService } from "@parley/runtime";
import { createSender } from "./sending/sender.js";

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
    const serde = createSerde({ registry: createRegistry({ url: config.SCHEMA_REGISTRY_URL }) });
    const producer = createEventProducer({ kafka, serde, name: "sender producer" });
    await producer.connect();
    const sender = createSender({
      settings: config,
      directory,
      kafka,
      serde,
      catalog,
      producer,
      db: mongo.db,
      metrics,
      logger,
    });
    await sender.start().catch(async (error: unknown) => {
      await producer.disconnect();
      throw error;
    });
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
      components: [
        { name: "sender producer", stop: () => producer.disconnect() },
        { name: "sender consumers", stop: () => sender.stop() },
      ],
    };
  },
});
