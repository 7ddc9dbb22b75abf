import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCatalog } from "@parley/contracts";
import {
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import { startStack, waitFor } from "@parley/testkit";
import { ensureIndexes } from "./adapters/store/plan-store.js";

type Catalog = ReturnType<typeof createCatalog>;
type Topic = Parameters<typeof provisionTopics>[0]["topics"][number];

/** Undone in reverse order by the spec's afterAll. */
export type Cleanups = (() => Promise<unknown>)[];

/**
 * What every campaigns int spec starts from: the real servers (testkit's stack), a namespace of
 * its own (topic prefix and database), the topics `topicsOf` names provisioned, MongoDB with the
 * campaigns' indexes, a connected producer and an audience directory. Each resource's cleanup is
 * pushed onto `cleanups`.
 */
export async function startCampaignsInt(
  name: string,
  topicsOf: (catalog: Catalog) => readonly Topic[],
  cleanups: Cleanups,
) {
  const stack = await startStack();
  cleanups.push(() => stack.stop());
  const ns = stack.namespace(name);
  const catalog = createCatalog({
    prefix: `${ns.id}.`,
    partitions: { contact: 2, business: 1, raw: 1 },
  });
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await waitFor(
    () => provisionTopics({ kafka, serde, topics: [...topicsOf(catalog)] }).then(() => true),
    { timeoutMs: 120_000, intervalMs: 500, description: "topics provisioned" },
  );
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  cleanups.push(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });
  await ensureIndexes(mongo.db);
  const producer = createEventProducer({ kafka, serde, name: `${name} producer` });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { stack, ns, catalog, kafka, serde, mongo, producer, dir };
}
