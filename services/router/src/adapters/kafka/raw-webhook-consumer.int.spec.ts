import { headerNames, type EventOf } from "@parley/contracts";
import { redrive, type RawRecord } from "@parley/kafka";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseWebhook,
  UnparseableWebhookError,
  type ParsedWebhook,
  type ParseInput,
} from "../../inbound/parse.js";
import {
  startInboundHarness,
  textWebhook,
  type InboundHarness,
  type Seen,
} from "./inbound-harness.int-helpers.js";
import { ROUTER_INBOUND_CONSUMER } from "./raw-webhook-consumer.js";

// The router's inbound side on the real broker, registry and MongoDB (the inbound harness, as
// main.ts composes it): raw webhooks in, contact-keyed events out in per-contact order, Meta's
// duplicates dropped, unparseable payloads dead-lettered with their coordinates and re-driven
// after a fix, dedupe state surviving a restart.

const PN1 = "106540352242922";
const PN2 = "106540352242933";

let h: InboundHarness;

const startRouter = (parse?: (input: ParseInput) => ParsedWebhook) =>
  h.startRouter(parse ? { parse } : {});
const deliver = async (pnid: string, body: string | object): Promise<void> => {
  await h.deliver(pnid, body);
};
const nowSec = () => Math.floor(Date.now() / 1000);
/** A contact's InboundMessageReceived records (topic, partition, key), in arrival order. */
const inboundOf = (contactId: string) =>
  h.seen.filter(
    (s): s is Seen & { event: EventOf<"InboundMessageReceived"> } =>
      s.event.type === "InboundMessageReceived" && s.event.data.contactId === contactId,
  );
const wamidsOf = (contactId: string) => h.inboundOf(contactId).map((e) => e.data.wamid);
const hasWamid = (contactId: string, wamid: string) => wamidsOf(contactId).includes(wamid);

beforeAll(async () => {
  h = await startInboundHarness("router-inbound");
});

afterAll(async () => {
  await h.stop();
});

describe("router inbound on Kafka", () => {
  it("publishes inbound events on contact-keyed topics in per-contact order, with windows and consent", async () => {
    const router = await startRouter();
    try {
      const contacts = ["16505550001", "16505550002", "16505550003"];
      // Each contact writes to one business number, one message per POST, interleaved.
      for (let i = 0; i < 10; i++) {
        for (const [c, contact] of contacts.entries()) {
          await deliver(
            c === 2 ? PN2 : PN1,
            textWebhook(c === 2 ? PN2 : PN1, [
              {
                from: contact,
                id: `wamid.order.${contact}.${i}`,
                body: i === 9 && c === 0 ? "STOP" : `m${i}`,
              },
            ]),
          );
        }
      }
      await waitFor(() => contacts.every((c) => inboundOf(c).length === 10), { timeoutMs: 30_000 });
      for (const contact of contacts) {
        const records = inboundOf(contact);
        expect(records.map((r) => r.event.data.wamid)).toEqual(
          Array.from({ length: 10 }, (_, i) => `wamid.order.${contact}.${i}`),
        );
        expect(new Set(records.map((r) => r.key))).toEqual(new Set([contact]));
        expect(new Set(records.map((r) => r.partition)).size).toBe(1);
      }
      await waitFor(
        () =>
          h.seen.some(
            (s) => s.event.type === "ConsentRevoked" && s.event.data.contactId === contacts[0],
          ),
        { timeoutMs: 10_000 },
      );
      const windowTypesOf = (contact: string) =>
        h.seen
          .filter(
            (s) => s.key === contact && s.topic === h.catalog.topic("conversation-windows").name,
          )
          .map((s) => s.event.type);
      await waitFor(() => windowTypesOf(contacts[1] ?? "").length > 0, { timeoutMs: 10_000 });
      const windowTypes = windowTypesOf(contacts[1] ?? "");
      expect(windowTypes[0]).toBe("ConversationWindowOpened");
      expect(windowTypes.slice(1).every((t) => t === "ConversationWindowExtended")).toBe(true);
    } finally {
      await router.stop();
    }
  });

  it("drops Meta's duplicate deliveries: the same webhook twice yields its events once", async () => {
    const router = await startRouter();
    try {
      const contact = "16505550010";
      const batch = textWebhook(PN1, [
        { from: contact, id: "wamid.dup.1", body: "one" },
        { from: contact, id: "wamid.dup.2", body: "two" },
      ]);
      await deliver(PN1, batch);
      await deliver(PN1, batch);
      await deliver(
        PN1,
        textWebhook(PN1, [{ from: contact, id: "wamid.dup.sentinel", body: "s" }]),
      );
      await waitFor(() => hasWamid(contact, "wamid.dup.sentinel"), { timeoutMs: 20_000 });
      expect(wamidsOf(contact)).toEqual(["wamid.dup.1", "wamid.dup.2", "wamid.dup.sentinel"]);
      const ids = h.seen.filter((s) => s.key === contact).map((s) => s.event.eventId);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await router.stop();
    }
  });

  it("dead-letters an unparseable payload with its raw coordinates; after the fix a re-drive adds only what is missing", async () => {
    const a = "16505550020";
    const b = "16505550021";
    // The deployed parser has a bug: it cannot read order messages.
    const buggy = (input: ParseInput) => {
      if (input.body.includes('"type":"order"')) {
        throw new UnparseableWebhookError(
          "order messages not supported",
          input.raw.data.deliveryId,
        );
      }
      return parseWebhook(input);
    };
    let router = await startRouter(buggy);
    const before = h.deadLetters.length;
    try {
      await deliver(PN1, textWebhook(PN1, [{ from: a, id: "wamid.fix.a1", body: "hello" }]));
      await waitFor(() => hasWamid(a, "wamid.fix.a1"), { timeoutMs: 20_000 });
      // A Meta retry of a1, batched with an order from b: the buggy parser fails the whole POST.
      const mixed = textWebhook(PN1, [{ from: a, id: "wamid.fix.a1", body: "hello" }]);
      const value = mixed.entry[0]?.changes[0]?.value as { messages: object[]; contacts: object[] };
      value.contacts.push({ profile: { name: "b" }, wa_id: b });
      value.messages.push({
        from: b,
        id: "wamid.fix.b1",
        timestamp: String(nowSec()),
        type: "order",
        order: {
          catalog_id: "cat",
          product_items: [
            { product_retailer_id: "sku", quantity: 1, item_price: 5, currency: "EUR" },
          ],
        },
      });
      await deliver(PN1, mixed);
      await deliver(PN1, "{this is not json");
      await waitFor(() => h.deadLetters.length >= before + 2, { timeoutMs: 30_000 });
      const header = (r: RawRecord, name: string) => r.headers[name]?.toString();
      const rawTopic = h.catalog.topic("raw-webhooks").name;
      for (const letter of h.deadLetters.slice(before)) {
        expect(header(letter, headerNames.dlq.originalTopic)).toBe(rawTopic);
        expect(header(letter, headerNames.dlq.originalPartition)).toMatch(/^\d+$/);
        expect(header(letter, headerNames.dlq.originalOffset)).toMatch(/^\d+$/);
        expect(header(letter, headerNames.dlq.errorClass)).toBe("UnparseableWebhookError");
      }
      expect(hasWamid(b, "wamid.fix.b1")).toBe(false);
    } finally {
      await router.stop();
    }

    // The fix is deployed; the dead letters go back to the raw topic.
    router = await startRouter();
    try {
      const report = await redrive({
        kafka: h.kafka,
        deadLetterTopic: h.catalog.deadLetterTopic(ROUTER_INBOUND_CONSUMER).name,
      });
      expect(report.redriven).toBeGreaterThanOrEqual(2);
      await waitFor(() => hasWamid(b, "wamid.fix.b1"), { timeoutMs: 30_000 });
      // The still-broken JSON dead-letters again; a1 was already produced and is not repeated.
      await waitFor(() => h.deadLetters.length >= before + 3, { timeoutMs: 30_000 });
      expect(wamidsOf(a)).toEqual(["wamid.fix.a1"]);
      expect(wamidsOf(b)).toEqual(["wamid.fix.b1"]);
    } finally {
      await router.stop();
    }
  });

  it("keeps its dedupe state across a restart: a retry after the restart produces nothing new", async () => {
    const contact = "16505550030";
    const batch = textWebhook(PN2, [{ from: contact, id: "wamid.restart.1", body: "before" }]);
    let router = await startRouter();
    try {
      await deliver(PN2, batch);
      await waitFor(() => hasWamid(contact, "wamid.restart.1"), { timeoutMs: 20_000 });
    } finally {
      await router.stop();
    }
    router = await startRouter();
    try {
      await deliver(PN2, batch);
      await deliver(
        PN2,
        textWebhook(PN2, [{ from: contact, id: "wamid.restart.2", body: "after" }]),
      );
      await waitFor(() => hasWamid(contact, "wamid.restart.2"), { timeoutMs: 20_000 });
      expect(wamidsOf(contact)).toEqual(["wamid.restart.1", "wamid.restart.2"]);
      const windowIds = h.seen
        .filter(
          (s) => s.key === contact && s.topic === h.catalog.topic("conversation-windows").name,
        )
        .map((s) => s.event.eventId);
      expect(new Set(windowIds).size).toBe(windowIds.length);
    } finally {
      await router.stop();
    }
  });

  it("two routers at once, then one leaving: a contact's saves race across both owners (a stale memory loses, never applies), every message once", async () => {
    // A contact writes through four business numbers, which the raw topic's two partitions
    // split between the routers: both save the same contacts' documents while both run, and
    // the one left takes back what the other wrote, its remembered lists stale.
    const numbers = ["106540352242961", "106540352242962", "106540352242963", "106540352242964"];
    const contacts = ["16505550061", "16505550062", "16505550063", "16505550064"];
    const sent = new Map<string, string[]>(contacts.map((c) => [c, []]));
    const round = async (r: number) => {
      for (const pnid of numbers) {
        const messages = contacts.map((from) => ({
          from,
          id: `wamid.race.${String(r)}.${pnid}.${from}`,
          body: "hi",
        }));
        for (const m of messages) sent.get(m.from)?.push(m.id);
        await deliver(pnid, textWebhook(pnid, messages));
      }
      await waitFor(
        () => contacts.every((c) => (sent.get(c) ?? []).every((id) => hasWamid(c, id))),
        { timeoutMs: 60_000, description: `round ${String(r)} published` },
      );
    };
    const first = await startRouter();
    try {
      await round(0);
      const second = await startRouter();
      try {
        await round(1);
        await round(2);
      } finally {
        await second.stop();
      }
      await round(3);
    } finally {
      await first.stop();
    }
    for (const contact of contacts) {
      const records = inboundOf(contact);
      const ids = new Map<string, Set<string>>();
      for (const { event } of records)
        ids.set(event.data.wamid, (ids.get(event.data.wamid) ?? new Set()).add(event.eventId));
      // Every message once by wamid, and anything repeated is the same event.
      expect([...ids.keys()].sort()).toEqual([...(sent.get(contact) ?? [])].sort());
      expect([...ids.values()].every((set) => set.size === 1)).toBe(true);
      // The stored document holds every message's identity once: no save applied to a stale base.
      const doc = await h.mongo.db
        .collection<{ _id: string; messages: { id: string }[] }>("router_inbound_contacts")
        .findOne({ _id: contact });
      const stored = (doc?.messages ?? []).map((m) => m.id);
      expect(new Set(stored).size).toBe(stored.length);
      expect(stored).toHaveLength(sent.get(contact)?.length ?? -1);
    }
  });
});
