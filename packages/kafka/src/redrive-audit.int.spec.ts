import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createCatalog, headerNames, type AnyEvent, type Catalog } from "@parley/contracts";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import type { Consumer, Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishAuditFact } from "./audit-publisher.js";
import { createKafka, type KafkaClient } from "./connection.js";
import { createEventProducer, type EventProducer } from "./producer.js";
import { provisionTopics } from "./provision.js";
import { redrive } from "./redrive.js";
import { createRegistry } from "./registry.js";
import { createSerde, type Serde } from "./serde.js";

// Re-drive audited (issue 28): every re-drive of a dead-letter topic, dry runs and failures too,
// is an AuditRecorded `dlq.redriven` on the audit topic naming who, which topic, the filter and
// the counts; `parley-kafka redrive` refuses to run without an actor. Real broker and registry.

const CLI = join(dirname(fileURLToPath(import.meta.url)), "../dist/cli.js");

let stack: Stack;
let catalog: Catalog;
let kafka: KafkaClient;
let serde: Serde;
let producer: EventProducer;
let raw: Producer;
let reader: Consumer;
const audits: AnyEvent[] = [];

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("redrive-audit");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 1, business: 1, raw: 1 } });
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await provisionTopics({
    kafka,
    serde,
    topics: [
      catalog.topic("audit"),
      catalog.topic("statuses"),
      catalog.topic("dispatch"),
      catalog.deadLetterTopic("projection"),
    ],
  });
  producer = createEventProducer({ kafka, serde, name: "redrive audit test" });
  await producer.connect();
  raw = kafka.producer();
  await raw.connect();
  reader = kafka.consumer({ groupId: `${ns.id}.audit-reader` });
  await reader.connect();
  await reader.subscribe({ topics: [catalog.topic("audit").name], fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      if (message.value === null) return;
      audits.push((await serde.decode(catalog.topic("audit"), message.value)) as AnyEvent);
    },
  });
  // Three dead letters: two from statuses, one from dispatch.
  const letter = (topic: string, n: number) => ({
    key: `k${String(n)}`,
    value: Buffer.from(`letter ${String(n)}`),
    headers: {
      [headerNames.dlq.originalTopic]: catalog.topic(topic as "statuses").name,
      [headerNames.dlq.errorClass]: "PoisonRecordError",
    },
  });
  await raw.send({
    topic: catalog.deadLetterTopic("projection").name,
    acks: -1,
    messages: [letter("statuses", 1), letter("statuses", 2), letter("dispatch", 3)],
  });
}, 180_000);

afterAll(async () => {
  await reader.disconnect();
  await raw.disconnect();
  await producer.disconnect();
  await stack.stop();
});

function cli(args: readonly string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        PATH: process.env["PATH"] ?? "",
        KAFKA_BROKERS: stack.kafkaBrokers.join(","),
        SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
        PARLEY_TOPIC_PREFIX: catalog.prefix,
        ...env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const redriven = () =>
  audits.filter((e) => e.type === "AuditRecorded" && e.data.action === "dlq.redriven");

describe("re-drive, audited", () => {
  it("parley-kafka redrive refuses to run without an actor, and re-drives nothing", async () => {
    const result = await cli(["redrive", "--consumer", "projection", "--dry-run"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--actor");
    expect(result.stderr).toContain("PARLEY_ACTOR");
  });

  it("a dry run at the command line is recorded: who, which topic, filter, counts", async () => {
    const result = await cli(
      [
        "redrive",
        "--consumer",
        "projection",
        "--original-topic",
        catalog.topic("statuses").name,
        "--dry-run",
      ],
      { PARLEY_ACTOR: "oncall-ana" },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("would re-drive 2 dead letter(s), skipped 1");
    await waitFor(() => redriven().length >= 1, {
      timeoutMs: 30_000,
      description: "audit of the dry run",
    });
    const [dry] = redriven();
    expect(dry?.data).toMatchObject({
      action: "dlq.redriven",
      service: "parley-kafka",
      actorId: "oncall-ana",
      authMethod: "cli",
      target: { deadLetterTopic: catalog.deadLetterTopic("projection").name },
      details: {
        dryRun: true,
        outcome: "done",
        filter: `originalTopic=${catalog.topic("statuses").name}`,
        limit: "none",
        redriven: 2,
        skipped: 1,
        byTopic: [`${catalog.topic("statuses").name}=2`],
      },
    });
  });

  it("a re-drive is recorded with its counts, --actor winning over PARLEY_ACTOR", async () => {
    const result = await cli(
      ["redrive", "--consumer", "projection", "--actor", "oncall-bo", "--limit", "5"],
      { PARLEY_ACTOR: "someone-else" },
    );
    expect(result.code).toBe(0);
    await waitFor(() => redriven().length >= 2, {
      timeoutMs: 30_000,
      description: "audit of the re-drive",
    });
    expect(redriven()[1]?.data).toMatchObject({
      actorId: "oncall-bo",
      details: {
        dryRun: false,
        outcome: "done",
        limit: "5",
        filter: "none",
        redriven: 3,
        skipped: 0,
      },
    });
  });

  it("a re-drive that fails is recorded as failed, and the failure still reaches the caller", async () => {
    const facts: unknown[] = [];
    await expect(
      redrive({
        kafka,
        deadLetterTopic: `${catalog.prefix}no-such-dead-letter-topic`,
        timeoutMs: 5_000,
        audit: {
          actor: "oncall-cy",
          publish: async (fact) => {
            facts.push(fact);
            await publishAuditFact({ producer, catalog, service: "test" }, fact);
          },
        },
      }),
    ).rejects.toThrow();
    expect(facts).toMatchObject([
      { action: "dlq.redriven", actor: { id: "oncall-cy" }, details: { outcome: "failed" } },
    ]);
  });
});
