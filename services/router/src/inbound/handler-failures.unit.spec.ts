import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import { describe, expect, it } from "vitest";
import { eventIdOf } from "./event-id.js";
import { createInboundHandler, EventNotPublishedError } from "./handler.js";
import { createKeywordMatcher, defaultKeywords } from "./keywords.js";
import { memoryStore } from "./memory-store.unit-helpers.js";
import { parseWebhook } from "./parse.js";

// One contact's poison (an event no topic takes, a document no store takes) fails that contact's
// webhook alone; its batch neighbours and its own later webhooks go on (issue 32).

const NOW = new Date("2026-03-01T10:30:00.000Z");
const WABA = "102290129340398";
const PN = "106540352242922";
const c = (n: string) => `1650555${n.padStart(4, "0")}`;

/** The publisher's answers: `never` for an event it can never produce, `outage` while down. */
function setup(memory = memoryStore()) {
  const published: AnyEvent[] = [];
  const calls: number[] = [];
  const dropped: string[] = [];
  const broker = { refuse: (_e: AnyEvent) => false, down: new Set<string>() };
  const handler = createInboundHandler({
    store: memory.store,
    publish: (events) => {
      calls.push(events.length);
      // The runtime publishes a batch's outboxes in one call: the partitions of any contact
      // that is down fail it as an outage.
      const contacts = events.map((e) => ("contactId" in e.data ? e.data.contactId : ""));
      if (contacts.some((contact) => broker.down.has(contact))) {
        return Promise.reject(new ParleyError("broker unavailable", { retry: "outage" }));
      }
      const refused = events.find((e) => broker.refuse(e));
      if (refused !== undefined) {
        return Promise.reject(
          new ParleyError(`${refused.type} ${refused.eventId} is 2000000 bytes; too large`, {
            retry: "never",
          }),
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
      decided: () => undefined,
      conflict: () => undefined,
      dropped: (event) => dropped.push(event.type),
    },
  });
  return { handler, published, calls, broker, dropped, ...memory };
}

let deliveries = 0;
const webhook = (items: { from: string; id: string; body: string }[]) => {
  const deliveryId = `d-${String(++deliveries)}`;
  const raw = createEvent(
    "RawWebhookReceived",
    {
      deliveryId,
      bodyBase64: "",
      signature: "s",
      sizeBytes: 0,
      phoneNumberIds: [PN],
      wabaIds: [WABA],
    },
    { correlationId: deliveryId, now: NOW },
  );
  return parseWebhook({
    raw,
    now: NOW,
    body: JSON.stringify({
      entry: [
        {
          id: WABA,
          changes: [
            {
              field: "messages",
              value: {
                metadata: { display_phone_number: "1555", phone_number_id: PN },
                messages: items.map((m) => ({
                  from: m.from,
                  id: m.id,
                  timestamp: "1772359200",
                  type: "text",
                  text: { body: m.body },
                })),
              },
            },
          ],
        },
      ],
    }),
  }).events;
};

const wamids = (events: readonly AnyEvent[]) =>
  events
    .filter((e): e is EventOf<"InboundMessageReceived"> => e.type === "InboundMessageReceived")
    .map((e) => e.data.wamid);
const refuseWamid = (wamid: string) => (e: AnyEvent) =>
  e.type === "InboundMessageReceived" && e.data.wamid === wamid;

describe("inbound handler: a poison contact fails its own webhook only", () => {
  it("an event no topic takes is dropped from the outbox and forgotten; its batch neighbours and the contact's later webhooks are published", async () => {
    const { handler, published, broker, docs } = setup();
    broker.refuse = refuseWamid("w.poison");
    const [poison, neighbour] = await Promise.allSettled([
      handler.handle(webhook([{ from: c("1"), id: "w.poison", body: "big" }])),
      handler.handle(webhook([{ from: c("2"), id: "w.n", body: "hi" }])),
    ]);
    expect(neighbour.status).toBe("fulfilled");
    expect(poison.status).toBe("rejected");
    const error = (poison as PromiseRejectedResult).reason as EventNotPublishedError;
    expect(error).toBeInstanceOf(EventNotPublishedError);
    expect(error.retry).toBe("never");
    expect(error.message).toMatch(
      /^1 event of this webhook could not be produced .*: InboundMessageReceived \S+ \(wamid w\.poison\): InboundMessageReceived \S+ is 2000000 bytes; too large$/,
    );
    // The window it opened still went out; the message itself never did.
    expect(published.map((e) => e.type)).toEqual(
      expect.arrayContaining(["ConversationWindowOpened", "InboundMessageReceived"]),
    );
    expect(wamids(published)).toEqual(["w.n"]);
    // Nothing of it is left to publish, and its identity is forgotten.
    expect(docs.get(c("1"))?.outbox).toEqual([]);
    expect(docs.get(c("1"))?.state.messages).toEqual([]);

    // The contact's next webhooks are not poisoned by it.
    await handler.handle(webhook([{ from: c("1"), id: "w.after", body: "hi" }]));
    expect(wamids(published)).toEqual(["w.n", "w.after"]);

    // After a fix (the topic takes it now), a re-drive of the dead letter publishes it.
    broker.refuse = () => false;
    await handler.handle(webhook([{ from: c("1"), id: "w.poison", body: "big" }]));
    expect(wamids(published)).toEqual(["w.n", "w.after", "w.poison"]);
  });

  it("only the refused events of a contact's outbox are dropped: the others go out in order", async () => {
    const { handler, published, broker } = setup();
    broker.refuse = refuseWamid("w.2");
    await expect(
      handler.handle(
        webhook([
          { from: c("1"), id: "w.1", body: "a" },
          { from: c("1"), id: "w.2", body: "b" },
          { from: c("1"), id: "w.3", body: "c" },
        ]),
      ),
    ).rejects.toBeInstanceOf(EventNotPublishedError);
    expect(wamids(published)).toEqual(["w.1", "w.3"]);
  });

  it("a broker outage for one contact fails its batch as an outage and keeps every outbox; once it passes, each event is published once", async () => {
    const { handler, published, broker, docs } = setup();
    broker.down.add(c("1"));
    // An outage fails the whole batch (ADR 0010): the webhook batched with it is tried again too.
    const [down, batched] = await Promise.allSettled([
      handler.handle(webhook([{ from: c("1"), id: "w.1", body: "a" }])),
      handler.handle(webhook([{ from: c("2"), id: "w.2", body: "b" }])),
    ]);
    expect((down as PromiseRejectedResult).reason).toMatchObject({ retry: "outage" });
    expect((batched as PromiseRejectedResult).reason).toMatchObject({ retry: "outage" });
    expect(published).toEqual([]);
    expect(docs.get(c("1"))?.outbox.map((e) => e.type)).toEqual([
      "InboundMessageReceived",
      "ConversationWindowOpened",
    ]);
    expect(wamids(docs.get(c("2"))?.outbox ?? [])).toEqual(["w.2"]);
    // The runner retries both; the other contact's webhook is published even while one is down.
    await handler.handle(webhook([{ from: c("2"), id: "w.2", body: "b" }]));
    expect(wamids(published)).toEqual(["w.2"]);
    broker.down.clear();
    await handler.handle(webhook([{ from: c("1"), id: "w.1", body: "a" }]));
    expect(wamids(published)).toEqual(["w.2", "w.1"]);
  });

  it("a refused event an earlier attempt left (a crash) is dropped and reported, its fact forgotten; the contact's next webhook, innocent of it, is not dead-lettered", async () => {
    const memory = memoryStore();
    const crashed = setup(memory);
    crashed.broker.down.add(c("1"));
    await expect(
      crashed.handler.handle(webhook([{ from: c("1"), id: "w.left", body: "a" }])),
    ).rejects.toMatchObject({ retry: "outage" });
    // A new process; by now the broker refuses the event the crash left in the outbox.
    const next = setup(memory);
    next.broker.refuse = refuseWamid("w.left");
    await next.handler.handle(webhook([{ from: c("1"), id: "w.next", body: "b" }]));
    expect(wamids(next.published)).toEqual(["w.next"]);
    expect(next.published.map((e) => e.type)).toContain("ConversationWindowOpened");
    expect(next.dropped).toEqual(["InboundMessageReceived"]);
    expect(memory.docs.get(c("1"))?.outbox).toEqual([]);
    expect(memory.docs.get(c("1"))?.state.messages.map((m) => m.id)).toEqual(["inbound:w.next"]);
  });

  it("a document the store can never take fails its own webhook; the batch is saved contact by contact", async () => {
    const { handler, published, faults } = setup();
    faults.poison.add(c("1"));
    const [poison, fine] = await Promise.allSettled([
      handler.handle(webhook([{ from: c("1"), id: "w.1", body: "a" }])),
      handler.handle(webhook([{ from: c("2"), id: "w.2", body: "b" }])),
    ]);
    expect(fine.status).toBe("fulfilled");
    expect((poison as PromiseRejectedResult).reason).toMatchObject({ retry: "never" });
    expect(wamids(published)).toEqual(["w.2"]);
  });

  it("a store outage fails every webhook of the batch as an outage (waited out, never dead-lettered)", async () => {
    const { handler, faults } = setup();
    faults.down = true;
    const results = await Promise.allSettled([
      handler.handle(webhook([{ from: c("1"), id: "w.1", body: "a" }])),
      handler.handle(webhook([{ from: c("2"), id: "w.2", body: "b" }])),
    ]);
    for (const r of results) {
      expect((r as PromiseRejectedResult).reason).toMatchObject({ retry: "outage" });
    }
  });

  it("a webhook whose contacts fail differently fails with the outage first (it is tried again), never with the dead letter", async () => {
    const { handler, broker } = setup();
    broker.refuse = refuseWamid("w.1");
    broker.down.add(c("2"));
    await expect(
      handler.handle(
        webhook([
          { from: c("1"), id: "w.1", body: "a" },
          { from: c("2"), id: "w.2", body: "b" },
        ]),
      ),
    ).rejects.toMatchObject({ retry: "outage" });
  });

  it("keys consent and windows by the canonical contact: a STOP from Mexico's 521 form revokes 52", async () => {
    const { handler, published } = setup();
    await handler.handle(webhook([{ from: "5215512345678", id: "w.stop", body: "STOP" }]));
    expect(published.map((e) => [e.type, (e.data as { contactId: string }).contactId])).toEqual([
      ["InboundMessageReceived", "525512345678"],
      ["ConversationWindowOpened", "525512345678"],
      ["ConsentRevoked", "525512345678"],
    ]);
  });
});
