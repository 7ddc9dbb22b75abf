#!/usr/bin/env node
// parley-media: operators' commands against the media service's records and store.
//
//   parley-media rewrap --from <key id>   re-wrap data keys under <key id> with the newest key
//   parley-media sweep                    run the retention sweep once
//
// It reads the same environment as the service (MEDIA_KEYS, MONGO_*, KAFKA_*, MEDIA_STORE...).
import { parseArgs } from "node:util";
import { loadConfigOrExit } from "@parley/config";
import { createCatalog } from "@parley/contracts";
import { createCommandHandler } from "@parley/decider";
import { errorMessage } from "@parley/errors";
import {
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  createCatalogPublisher,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import { createLogger } from "@parley/telemetry";
import { eventIdOf } from "./adapters/kafka/event-id.js";
import { createMediaQueries, createMediaStateStore } from "./adapters/store/media-store.js";
import { createObjectStore } from "./adapters/store/object-store.js";
import { configSchema } from "./config.js";
import { createKeyRing, parseKeyEncryptionKeys } from "./crypto/keyring.js";
import { mediaObject } from "./domain/media-object.js";
import { createMediaObjects } from "./media/objects.js";

const usage = `usage: parley-media rewrap --from <key id> | sweep`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { from: { type: "string" } },
});
const command = positionals[0];
if (command !== "rewrap" && command !== "sweep") {
  process.stderr.write(`${usage}\n`);
  process.exit(64);
}
if (command === "rewrap" && values.from === undefined) {
  process.stderr.write(`rewrap needs --from <key id>\n${usage}\n`);
  process.exit(64);
}

const config = loadConfigOrExit(configSchema, { service: "media-cli" });
const logger = createLogger({ service: "parley-media", level: config.LOG_LEVEL });
const keys = createKeyRing(parseKeyEncryptionKeys(config.MEDIA_KEYS));
const kafka = createKafka({
  brokers: config.KAFKA_BROKERS,
  clientId: config.KAFKA_CLIENT_ID ?? "parley-media-cli",
  logger,
});
const mongo = createMongo({
  url: config.MONGO_URL,
  database: config.MONGO_DB,
  appName: "parley-media-cli",
});
const serde = createSerde({ registry: createRegistry({ url: config.SCHEMA_REGISTRY_URL }) });
// A record left with an unpublished outbox (a crash) is published before its re-wrap is saved.
const producer = createEventProducer({ kafka, serde, name: "parley-media cli" });
let code = 0;
try {
  await producer.connect();
  const store = await createObjectStore(config);
  const queries = createMediaQueries(mongo.db);
  const commands = createCommandHandler({
    decider: mediaObject,
    store: createMediaStateStore(mongo.db),
    publish: createCatalogPublisher(
      producer,
      createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX }),
    ),
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
  });
  const objects = createMediaObjects({
    commands,
    queries,
    store,
    keys,
    maxBytes: config.MEDIA_MAX_BYTES,
  });
  if (command === "rewrap") {
    const moved = await objects.rewrap(values.from ?? "");
    process.stdout.write(
      `re-wrapped ${String(moved)} data keys from ${values.from ?? ""} to ${keys.currentId}\n`,
    );
  } else {
    process.stdout.write(`retention sweep deleted ${String(await objects.sweep())} objects\n`);
  }
  await store.close();
} catch (error) {
  process.stderr.write(`parley-media ${command}: ${errorMessage(error)}\n`);
  code = 1;
} finally {
  await producer.disconnect().catch(() => undefined);
  await mongo.close().catch(() => undefined);
}
process.exit(code);
