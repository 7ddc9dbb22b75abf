#!/usr/bin/env node
// parley-kafka: operate Parley's topics from the catalog.
//   parley-kafka provision [--check]     create missing topics (and dead-letter topics), register schemas, report drift
//   parley-kafka redrive --consumer NAME --actor WHO [--original-topic T] [--limit N] [--dry-run]
import { parseArgs } from "node:util";
import { createCatalog, type TopicSpec } from "@parley/contracts";
import {
  env,
  infraFields,
  kafkaSecurityFields,
  loadConfigOrExit,
  registrySecurityFields,
} from "@parley/config";
import { z } from "zod";
import { publishAuditFact } from "./audit-publisher.js";
import { createKafka } from "./connection.js";
import { createEventProducer } from "./producer.js";
import { provisionTopics } from "./provision.js";
import { redrive } from "./redrive.js";
import { createRegistry } from "./registry.js";
import { kafkaSecurityOf, registryOptionsOf } from "./security-config.js";
import { createSerde } from "./serde.js";

const config = loadConfigOrExit(
  z.object({
    KAFKA_BROKERS: infraFields.KAFKA_BROKERS,
    SCHEMA_REGISTRY_URL: infraFields.SCHEMA_REGISTRY_URL,
    ...kafkaSecurityFields,
    ...registrySecurityFields,
    PARLEY_TOPIC_PREFIX: z.string().default(""),
    KAFKA_REPLICATION_FACTOR: env.int(1, { min: 1, max: 7 }),
    PARLEY_ACTOR: z.string().trim().min(1).max(256).optional(),
  }),
  { service: "parley-kafka" },
);

const usage = `usage:
  parley-kafka provision [--check]
  parley-kafka redrive --consumer NAME --actor WHO [--original-topic TOPIC] [--limit N] [--dry-run]
    (every re-drive, dry runs too, is recorded on the audit topic as AuditRecorded dlq.redriven by WHO;
     --actor or PARLEY_ACTOR is required)
environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL, PARLEY_TOPIC_PREFIX (default none), KAFKA_REPLICATION_FACTOR (default 1), PARLEY_ACTOR,
  and the services' KAFKA_TLS*, KAFKA_SASL_* and SCHEMA_REGISTRY_* security variables (docs/security.md)`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    check: { type: "boolean", default: false },
    consumer: { type: "string" },
    actor: { type: "string" },
    "original-topic": { type: "string" },
    limit: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
const kafka = createKafka({
  brokers: config.KAFKA_BROKERS,
  clientId: "parley-kafka-cli",
  security: kafkaSecurityOf(config),
});
const consumerNames = [...new Set(catalog.topics.flatMap((t) => t.consumers))].filter((c) =>
  /^[a-z0-9][a-z0-9._-]*$/.test(c),
);

async function provision(checkOnly: boolean): Promise<number> {
  const topics: TopicSpec[] = [
    ...catalog.topics,
    ...consumerNames.map((c) => catalog.deadLetterTopic(c)),
  ];
  const serde = createSerde({ registry: createRegistry(registryOptionsOf(config)) });
  const report = await provisionTopics({
    kafka,
    topics,
    serde,
    checkOnly,
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
  });
  for (const t of report.created) console.log(`created   ${t}`);
  for (const t of report.verified) console.log(`ok        ${t}`);
  for (const d of report.drift) console.log(`DRIFT     ${d.topic}: ${d.problem}`);
  for (const s of report.schemas)
    console.log(`schema    ${s.subject} (id ${s.id}, BACKWARD_TRANSITIVE)`);
  console.log(
    `${topics.length} topics: ${report.created.length} created, ${report.verified.length} verified, ${report.drift.length} drift`,
  );
  if (report.drift.length > 0)
    console.log("Drift is not fixed automatically; see docs/runbooks/kafka-topics.md.");
  return report.drift.length > 0 ? 1 : 0;
}

async function redriveCommand(): Promise<number> {
  const consumer = values.consumer;
  if (consumer === undefined) {
    console.error(`redrive needs --consumer NAME (one of: ${consumerNames.join(", ")})\n${usage}`);
    return 2;
  }
  const actor = values.actor?.trim() ?? config.PARLEY_ACTOR;
  if (actor === undefined || actor === "" || actor.length > 256) {
    console.error(
      `redrive needs --actor WHO (or PARLEY_ACTOR): the re-drive is recorded on the audit topic under that name\n${usage}`,
    );
    return 2;
  }
  const originalTopic = values["original-topic"];
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    console.error("--limit must be a positive integer");
    return 2;
  }
  const producer = createEventProducer({
    kafka,
    serde: createSerde({ registry: createRegistry(registryOptionsOf(config)) }),
    name: "parley-kafka audit",
  });
  await producer.connect();
  let report;
  try {
    report = await redrive({
      kafka,
      deadLetterTopic: catalog.deadLetterTopic(consumer).name,
      dryRun: values["dry-run"],
      ...(limit === undefined ? {} : { limit }),
      ...(originalTopic === undefined
        ? {}
        : { filter: (r: { originalTopic: string }) => r.originalTopic === originalTopic }),
      audit: {
        actor,
        method: "cli",
        ...(originalTopic === undefined ? {} : { filter: `originalTopic=${originalTopic}` }),
        publish: (fact) =>
          publishAuditFact({ producer, catalog, service: "parley-kafka" }, fact).catch(
            (error: unknown) => {
              throw new Error(
                `the re-drive ran but its audit record (AuditRecorded dlq.redriven) was not written: ${error instanceof Error ? error.message : String(error)}; record it by hand (docs/runbooks/dead-letters.md)`,
              );
            },
          ),
      },
    });
  } finally {
    await producer.disconnect();
  }
  console.log(
    `${values["dry-run"] ? "would re-drive" : "re-drove"} ${report.redriven} dead letter(s), skipped ${report.skipped}`,
  );
  for (const [topic, n] of Object.entries(report.byTopic)) console.log(`  ${topic}: ${n}`);
  console.log(`recorded on the audit topic as dlq.redriven by ${actor}`);
  return 0;
}

async function main(): Promise<number> {
  if (values.help) {
    console.log(usage);
    return 0;
  }
  switch (positionals[0]) {
    case "provision":
      return provision(values.check);
    case "redrive":
      return redriveCommand();
    default:
      console.error(usage);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`parley-kafka: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
