import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { DecisionConflictError } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import { describe, expect, it } from "vitest";
import { eventIdOf } from "./event-id.js";
import { createInboundHandler } from "./handler.js";
import { createKeywordMatcher, defaultKeywords } from "./keywords.js";
import { memoryStore } from "./memory-store.unit-helpers.js";
import { parseWebhook } from "./parse.js";

const NOW = new Date("2026-03-01T10:30:00.000Z");
const WABA = "waba-1";
const PN = "106540352242922";

function setup(failPublishes = 0, memory = memoryStore()) {
  const published: AnyEvent[] = [];
  const observed: string[] = [];
  let failures = failPublishes;
  const handler = createInboundHandler({
    store: memory.store,
    publish: (events) => {
      if (events.length > 0 && failures > 0) {
        failures--;
        // The publisher says what the broker's failure means: here, it is unavailable.
        return Promise.reject(
          new ParleyError("broker gone (the process dies here)", { retry: "outage" }),
        );
      }
      published.push(...events);
      return Promise.resolve();
    },
    clock: () => NOW,
    decideWith: {
      windowMs: 24 * 3_600_000,
      matchKeyword: createKeywordMatcher(defaultKeywords),
      eventIdOf,
    },
    limits: { maxIds: 100, ttlMs: 8 * 24 * 3_600_000 },
    observer: {
      decided: (fact, emitted) =>
        observed.push(`${fact.type}:${emitted.length === 0 ? "dup" : "new"}`),
      conflict: () => observed.push("conflict"),
    },
  });
  return { handler, published, observed, ...memory };
}

const raw = createEvent(
  "RawWebhookReceived",
  {
    deliveryId: "d-1",
    bodyBase64: "",
    signature: "s",
    sizeBytes: 0,
    phoneNumberIds: [PN],
    wabaIds: [WABA],
  },
  { correlationId: "d-1", now: NOW },
);

const webhook = (changes: unknown[]) =>
  parseWebhook({
    raw,
    body: JSON.stringify({
      object: "whatsapp_business_account",
      entry: [{ id: WABA, time: 1772359200, changes }],
    }),
    now: NOW,
  }).events;

/** Contact `n` as a wa_id (contact ids are validated: digits as Meta sends them). */
const c = (n: string) => `1650555${n.padStart(4, "0")}`;

const messages = (items: { from: string; id: string; body: string }[]) => ({
  field: "messages",
  value: {
    metadata: { display_phone_number: "1555", phone_number_id: PN },
    messages: items.map((m) => ({
      ...m,
      from: c(m.from),
      timestamp: "1772359200",
      type: "text",
      text: { body: m.body },
    })),
  },
});

const types = (events: readonly AnyEvent[]) => events.map((e) => e.type);
const wamids = (events: readonly AnyEvent[]) =>
  events
    .filter((e): e is EventOf<"InboundMessageReceived"> => e.type === "InboundMessageReceived")
    .map((e) => e.data.wamid);

describe("inbound handler", () => {
  it("groups a webhook's facts per contact and keeps each contact's order", async () => {
    const { handler, published } = setup();
    await handler.handle(
      webhook([
        messages([
          { from: "1", id: "w.1a", body: "a" },
          { from: "2", id: "w.2a", body: "a" },
          { from: "1", id: "w.1b", body: "STOP" },
        ]),
      ]),
    );
    const ofContact = (c: string) =>
      published.filter((e) => "contactId" in e.data && e.data.contactId === c);
    expect(types(ofContact(c("1")))).toEqual([
      "InboundMessageReceived",
      "ConversationWindowOpened",
      "InboundMessageReceived",
      "ConsentRevoked",
    ]);
    expect(wamids(ofContact(c("2")))).toEqual(["w.2a"]);
  });

  it("a crash after the state is saved loses nothing: the retry publishes the outbox with the same ids, once more at most", async () => {
    const { handler, published, docs } = setup(1);
    const facts = webhook([messages([{ from: "1", id: "w.1", body: "hi" }])]);
    await expect(handler.handle(facts)).rejects.toThrow(/broker gone/);
    expect(published).toEqual([]);
    expect(docs.get(c("1"))?.outbox.map((e) => e.type)).toEqual([
      "InboundMessageReceived",
      "ConversationWindowOpened",
    ]);
    // The runner retries (or the next owner redelivers) the same raw record.
    await handler.handle(facts);
    expect(types(published)).toEqual(["InboundMessageReceived", "ConversationWindowOpened"]);
    expect(docs.get(c("1"))?.outbox).toEqual([]);
    // Meta retries later: nothing new.
    await handler.handle(facts);
    expect(published).toHaveLength(2);
  });

  it("retries when another writer saved first, deciding again on the fresh state", async () => {
    const { handler, published, faults, observed } = setup();
    faults.conflictsBeforeSave = 2;
    await handler.handle(webhook([messages([{ from: "1", id: "w.1", body: "hi" }])]));
    expect(wamids(published)).toEqual(["w.1"]);
    expect(observed).toEqual(["conflict", "conflict", "InboundMessageReceived:new"]);
  });

  it("gives up with a retriable error when the conflicts never stop", async () => {
    const { handler, faults } = setup();
    faults.conflictsBeforeSave = 1_000;
    const attempt = handler.handle(webhook([messages([{ from: "1", id: "w.1", body: "hi" }])]));
    await expect(attempt).rejects.toBeInstanceOf(DecisionConflictError);
    await expect(attempt).rejects.toMatchObject({ retriable: true });
  });

  it("dedupes business facts per WABA: a retried template status webhook publishes once", async () => {
    const { handler, published, observed } = setup();
    const status = {
      field: "message_template_status_update",
      value: {
        event: "APPROVED",
        message_template_id: 1,
        message_template_name: "t",
        message_template_language: "en",
      },
    };
    await handler.handle(webhook([status]));
    await handler.handle(webhook([status]));
    expect(types(published)).toEqual(["TemplateStatusUpdated"]);
    expect(observed).toEqual(["TemplateStatusUpdated:new", "TemplateStatusUpdated:dup"]);
  });

  it("handles concurrent webhooks for one contact one at a time", async () => {
    const { handler, published } = setup();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        handler.handle(webhook([messages([{ from: "1", id: `w.${i % 5}`, body: "x" }])])),
      ),
    );
    expect(new Set(wamids(published))).toEqual(new Set(["w.0", "w.1", "w.2", "w.3", "w.4"]));
    expect(wamids(published)).toHaveLength(5);
  });

  it("a stale cached state (another instance took the contact meanwhile) is caught by the version", async () => {
    const shared = memoryStore();
    const a = setup(0, shared);
    const b = setup(0, shared);
    const first = webhook([messages([{ from: "1", id: "w.1", body: "hi" }])]);
    await a.handler.handle(first); // a caches contact 1 at version 1
    await b.handler.handle(webhook([messages([{ from: "1", id: "w.2", body: "hi" }])]));
    // A Meta retry of w.2 reaches a, whose cache has not seen it: the save conflicts, a reloads.
    await a.handler.handle(webhook([messages([{ from: "1", id: "w.2", body: "hi" }])]));
    expect(wamids([...a.published, ...b.published])).toEqual(["w.1", "w.2"]);
  });

  it("group-commits concurrent webhooks: one load, one save, one publish and one mark per batch", async () => {
    const memory = memoryStore();
    const calls: string[] = [];
    const counted = {
      ...memory,
      store: {
        loadMany: (ids: readonly string[]) => {
          calls.push(`load:${String(ids.length)}`);
          return memory.store.loadMany(ids);
        },
        saveMany: (writes: Parameters<typeof memory.store.saveMany>[0]) => {
          calls.push(`save:${String(writes.length)}`);
          return memory.store.saveMany(writes);
        },
        markPublished: (marks: Parameters<typeof memory.store.markPublished>[0]) => {
          calls.push(`mark:${String(marks.length)}`);
          return memory.store.markPublished(marks);
        },
      },
    };
    const { handler, published } = setup(0, counted);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        handler.handle(webhook([messages([{ from: String(i), id: `w.${String(i)}`, body: "x" }])])),
      ),
    );
    expect(calls).toEqual(["load:8", "save:8", "mark:8"]);
    expect(wamids(published).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `w.${String(i)}`));
    // The second webhook of a contact waits for its first, and the cache spares the load.
    calls.length = 0;
    await Promise.all([
      handler.handle(webhook([messages([{ from: "1", id: "w.1b", body: "x" }])])),
      handler.handle(webhook([messages([{ from: "1", id: "w.1c", body: "x" }])])),
    ]);
    expect(calls).toEqual(["save:1", "mark:1", "save:1", "mark:1"]);
    expect(wamids(published).slice(-2)).toEqual(["w.1b", "w.1c"]);
  });

  it("an unreadable contact document fails its own webhook only", async () => {
    const { handler, published, faults } = setup();
    faults.unreadable.add(c("2"));
    const good = handler.handle(webhook([messages([{ from: "1", id: "w.1", body: "x" }])]));
    const bad = handler.handle(webhook([messages([{ from: "2", id: "w.2", body: "x" }])]));
    await expect(bad).rejects.toThrow(/unreadable/);
    await good;
    expect(wamids(published)).toEqual(["w.1"]);
  });

  it("an outbox a crash left behind is published before the contact's next events", async () => {
    const memory = memoryStore();
    const first = setup(1, memory);
    await expect(
      first.handler.handle(webhook([messages([{ from: "1", id: "w.1", body: "hi" }])])),
    ).rejects.toThrow(/broker gone/);
    // A new process (cold cache) handles the contact's next webhook before the redelivery.
    const next = setup(0, memory);
    await next.handler.handle(webhook([messages([{ from: "1", id: "w.2", body: "hi" }])]));
    expect(wamids(next.published)).toEqual(["w.1", "w.2"]);
    expect(memory.docs.get(c("1"))?.outbox).toEqual([]);
  });
});
