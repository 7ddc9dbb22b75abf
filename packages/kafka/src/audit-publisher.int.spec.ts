import { createCatalog, type AnyEvent, type Catalog } from "@parley/contracts";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import type { Consumer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditPublisher, type AuditInput } from "./audit-publisher.js";
import { createKafka, type KafkaClient } from "./connection.js";
import { createEventProducer, type EventProducer } from "./producer.js";
import { provisionTopics } from "./provision.js";
import { createRegistry } from "./registry.js";
import { createSerde, type Serde } from "./serde.js";

let stack: Stack;
let catalog: Catalog;
let kafka: KafkaClient;
let serde: Serde;
let producer: EventProducer;
let reader: Consumer;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("audit");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 1, business: 1, raw: 1 } });
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await provisionTopics({ kafka, topics: [catalog.topic("audit")], serde });
  producer = createEventProducer({ kafka, serde, name: "audit test" });
  await producer.connect();
  reader = kafka.consumer({ groupId: `${ns.id}.reader` });
});

afterAll(async () => {
  await reader.disconnect();
  await producer.disconnect();
  await stack.stop();
});

describe("createAuditPublisher", () => {
  it("puts each audited operation on the audit topic as AuditRecorded, keyed by the actor", async () => {
    const errors: unknown[] = [];
    const audit = createAuditPublisher({
      producer,
      catalog,
      service: "consent",
      onError: (error) => errors.push(error),
    });
    const entry = (id: string, actor: string): AuditInput => ({
      action: "consent.erased",
      principal: { id: actor, method: actor === "crm" ? "jwt" : "api-key", role: "admin" },
      method: "POST",
      route: "/v1/contacts/{contactId}/erasure",
      params: { contactId: id },
      status: 200,
      at: new Date("2026-12-06T12:00:00Z"),
    });
    audit(entry("16505550001", "crm"));
    audit(entry("16505550002", "privacy-desk"));

    const seen: { key: string; event: AnyEvent }[] = [];
    await reader.connect();
    await reader.subscribe({ topics: [catalog.topic("audit").name], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        if (message.value === null) return;
        const event = (await serde.decode(catalog.topic("audit"), message.value)) as AnyEvent;
        seen.push({ key: message.key?.toString() ?? "", event });
      },
    });
    await waitFor(() => seen.length >= 2, { description: "2 AuditRecorded", timeoutMs: 30_000 });
    expect(errors).toEqual([]);
    expect(
      seen.map((s) => [s.key, s.event.type, (s.event.data as { target: unknown }).target]).sort(),
    ).toEqual([
      ["crm", "AuditRecorded", { contactId: "16505550001" }],
      ["privacy-desk", "AuditRecorded", { contactId: "16505550002" }],
    ]);
    expect(seen.find((s) => s.key === "crm")?.event.data).toMatchObject({
      action: "consent.erased",
      service: "consent",
      actorId: "crm",
      authMethod: "jwt",
      status: 200,
    });
  });
});
