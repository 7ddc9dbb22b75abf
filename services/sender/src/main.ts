import { config, telemetry } from "./instrument.js";
import { createCatalog } from "@parley/contracts";
import { createEventProducer, createRegistry, createSerde } from "@parley/kafka";
import { loadNumberDirectory } from "@parley/numbers";
import { runStandardService } from "@parley/runtime";
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
    const serde = createSerde({ registry: createRegistry({ url: config.SCHEMA_REGISTRY_URL }) });
    // Encodes outcomes for the consumers' transactions; it sends nothing itself (not connected).
    const producer = createEventProducer({ kafka, serde, name: "sender outputs" });
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
      ...(config.SENDER_KILL_BEFORE_COMMIT > 0
        ? { beforeDispatchCommit: killBeforeCommit(config.SENDER_KILL_BEFORE_COMMIT) }
        : {}),
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
