import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createCatalog, DEFAULT_PARTITIONS, topicIds } from "./catalog.js";
import { eventNames, events } from "./events.js";
import { exampleEvent } from "./examples.js";
import { headerNames } from "./headers.js";
import { registeredSchema } from "./registered.js";

describe("topic catalog", () => {
  const catalog = createCatalog();

  it("co-partitions every contact-keyed topic", () => {
    const contact = catalog.topics.filter((t) => t.key === "contact");
    expect(contact.map((t) => t.id).sort()).toEqual([
      "consent",
      "conversation-windows",
      "inbound-messages",
      "media",
      "send-outcomes",
      "send-requests",
      "statuses",
    ]);
    expect(new Set(contact.map((t) => t.partitions))).toEqual(
      new Set([DEFAULT_PARTITIONS.contact]),
    );
    const custom = createCatalog({ partitions: { contact: 3, business: 2, raw: 1 } });
    for (const t of custom.topics)
      expect(t.partitions).toBe({ contact: 3, business: 2, raw: 1 }[t.key]);
  });

  it("keys dispatch by business number and raw webhooks as raw", () => {
    expect(catalog.topic("dispatch").key).toBe("business");
    expect(catalog.topic("raw-webhooks").key).toBe("raw");
  });

  it("derives every name and subject from the prefix and the id", () => {
    const prefixed = createCatalog({ prefix: "t-1a2b." });
    expect(prefixed.prefix).toBe("t-1a2b.");
    for (const t of [...catalog.topics, ...prefixed.topics]) {
      const prefix = t.name.startsWith("t-1a2b.") ? "t-1a2b." : "";
      expect(t.name).toBe(`${prefix}parley.${t.id}`);
      expect(t.subject).toBe(`${t.name}-value`);
    }
    expect(new Set(catalog.topics.map((t) => t.name)).size).toBe(catalog.topics.length);
    expect(catalog.topics.map((t) => t.id)).toEqual(topicIds);
  });

  it("carries every event on exactly one topic, with a discriminated value schema", () => {
    const carried = catalog.topics.flatMap((t) => t.events);
    expect([...carried].sort()).toEqual([...eventNames].sort());
    for (const name of eventNames) {
      const topic = catalog.topicOf(name);
      expect(topic.events).toContain(name);
      expect(topic.schema.safeParse(exampleEvent(name)).success).toBe(true);
      for (const other of catalog.topics.filter((t) => t !== topic)) {
        expect(other.schema.safeParse(exampleEvent(name)).success).toBe(false);
      }
    }
  });

  it("derives each record key from the event", () => {
    const key = (name: (typeof eventNames)[number]) =>
      catalog.topicOf(name).keyOf(exampleEvent(name));
    expect(key("InboundMessageReceived")).toBe("16505551234");
    expect(key("SendRequested")).toBe("16505551234");
    expect(key("DispatchMessage")).toBe("106540352242922");
    expect(key("TemplateStatusUpdated")).toBe("102290129340398");
    expect(key("RawWebhookReceived")).toBe("106540352242922");
    expect(() => catalog.topic("dispatch").keyOf(exampleEvent("SendRequested"))).toThrow(
      /does not carry SendRequested/,
    );
    for (const t of catalog.topics)
      for (const e of t.events) expect(t.keyOf(exampleEvent(e))).not.toBe("");
  });

  it("declares configs: retention everywhere, the read models' inputs kept forever (ADR 0011), replication only when asked", () => {
    for (const t of catalog.topics) {
      expect(t.config["cleanup.policy"]).toBe("delete");
      expect(Number(t.config["retention.ms"])).not.toBeNaN();
      expect(t.config).not.toHaveProperty("min.insync.replicas");
      expect(t.replicationFactor).toBeUndefined();
    }
    // What the projection rebuilds from keeps everything; the raw webhooks keep 90 days.
    for (const t of catalog.topics.filter((t) => t.consumers.includes("projection")))
      expect(t.config["retention.ms"], t.id).toBe("-1");
    expect(catalog.topic("raw-webhooks").config["retention.ms"]).toBe(
      String(90 * 24 * 3600 * 1000),
    );
    const prod = createCatalog({ replication: { factor: 3, minInsyncReplicas: 2 } });
    for (const t of prod.topics) {
      expect(t.replicationFactor).toBe(3);
      expect(t.config["min.insync.replicas"]).toBe("2");
    }
  });

  it("names per-consumer dead-letter and retry topics", () => {
    const prefixed = createCatalog({ prefix: "x." });
    const dlq = prefixed.deadLetterTopic("router-inbound");
    expect(dlq).toMatchObject({ name: "x.parley.dlq.router-inbound", key: "raw", events: [] });
    expect(Number(dlq.config["retention.ms"])).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
    expect(prefixed.retryTopic("router-inbound").name).toBe("x.parley.retry.router-inbound");
    expect(() => prefixed.deadLetterTopic("Router Inbound")).toThrow(/must match/);
    expect(() => registeredSchema(dlq)).toThrow(/raw bytes/);
  });

  it("fails early on impossible options", () => {
    expect(() => createCatalog({ partitions: { contact: 0 } })).toThrow(/partitions.contact/);
    expect(() => createCatalog({ prefix: "bad prefix/" })).toThrow(/prefix/);
    expect(() => createCatalog({ replication: { factor: 1, minInsyncReplicas: 2 } })).toThrow(
      /acks=all/,
    );
    expect(() => catalog.topic("nope" as never)).toThrow(/unknown topic id/);
  });

  it("registers draft-07 JSON Schema generated from the zod schema", () => {
    for (const t of catalog.topics) {
      const { schemaType, schema } = registeredSchema(t);
      expect(schemaType).toBe("JSON");
      const parsed = JSON.parse(schema) as Record<string, unknown>;
      expect(parsed["$schema"]).toBe("http://json-schema.org/draft-07/schema#");
      expect(Array.isArray(parsed["oneOf"])).toBe(true);
    }
    expect(Object.keys(events)).toEqual(eventNames);
  });
});

describe("header names", () => {
  it("are unique, lowercase, and keep the W3C names for trace context", () => {
    const all: string[] = [];
    const walk = (o: object) => {
      for (const v of Object.values(o)) {
        if (typeof v === "string") all.push(v);
        else walk(v as object);
      }
    };
    walk(headerNames);
    expect(new Set(all).size).toBe(all.length);
    for (const h of all) expect(h).toMatch(/^[a-z0-9-]+$/);
    expect(headerNames.traceparent).toBe("traceparent");
    expect(headerNames.tracestate).toBe("tracestate");
  });
});

describe("README", () => {
  it("lists every event and every topic", () => {
    const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
    for (const name of eventNames) expect(readme).toContain(`\`${name}\``);
    for (const t of createCatalog().topics) expect(readme).toContain(`\`${t.name}\``);
  });
});
