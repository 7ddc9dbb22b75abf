import { createHash } from "node:crypto";
import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import { partitionOfKey } from "@parley/kafka";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTACTS_COLLECTION } from "../store/contact-store.js";
import { parseWebhook, type ParseInput, type ParsedWebhook } from "../../inbound/parse.js";
import {
  startInboundHarness,
  textWebhook,
  type InboundHarness,
} from "./inbound-harness.int-helpers.js";

// Hostile webhooks through the real raw-webhook consumer, broker, registry and MongoDB (issue 32):
// an event larger than its topic, nesting deeper than MongoDB takes, a store write that can never
// succeed, an event no fitting saved, invalid contact ids and a webhook far larger than Meta sends.
// Each ends parsed (with what was cut and why) or dead-lettered with a reason, and nothing behind
// it (the contact's later webhooks, its batch neighbours, the partition's committed offset) waits.

const PN1 = "106540352242922";
const PN2 = "106540352242933";

let h: InboundHarness;

beforeAll(async () => {
  h = await startInboundHarness("router-hostile");
});

afterAll(async () => {
  await h.stop();
});

const truncatedOf = (event: AnyEvent | undefined) =>
  ((event?.data ?? {}) as { truncated?: Record<string, unknown>[] }).truncated ?? [];

const recordsOfWamid = (wamid: string) =>
  h.seen.filter((s) => s.event.type === "InboundMessageReceived" && s.event.data.wamid === wamid);

/** Waits until every wamid is on inbound-messages, then checks each is there exactly once. */
async function expectExactlyOnce(wamids: readonly string[], timeoutMs = 60_000) {
  await waitFor(() => wamids.every((w) => recordsOfWamid(w).length > 0), {
    timeoutMs,
    description: `${String(wamids.length)} messages on inbound-messages`,
  });
  for (const wamid of wamids) expect(recordsOfWamid(wamid), wamid).toHaveLength(1);
}

/** Waits until the router group's committed offset is the end of every raw partition. */
async function expectNothingStuck() {
  await waitFor(async () => (await h.rawProgress()).every((p) => p.committed === p.end), {
    timeoutMs: 30_000,
    description: "every raw partition committed to its end",
  });
}

/** Contacts on the same inbound-messages partition as `contact` (co-partitioned topics). */
function partitionMates(contact: string, count: number, from: number): string[] {
  const partitions = h.catalog.topic("inbound-messages").partitions;
  const target = partitionOfKey(contact, partitions);
  const mates: string[] = [];
  for (let n = from; mates.length < count; n++) {
    const candidate = String(16505550000 + n);
    if (partitionOfKey(candidate, partitions) === target) mates.push(candidate);
  }
  return mates;
}

/** Wraps the real parser (whichever shape it returns) and lets a test add or swap events. */
function parserWith(change: (events: AnyEvent[], input: ParseInput) => AnyEvent[]) {
  return (input: ParseInput): ParsedWebhook => {
    const out = parseWebhook(input) as ParsedWebhook | AnyEvent[];
    if (Array.isArray(out)) return change(out, input) as unknown as ParsedWebhook;
    return { ...out, events: change([...out.events], input) };
  };
}

function nested(levels: number): unknown {
  let value: unknown = { leaf: true };
  for (let i = 0; i < levels; i++) value = { next: value };
  return value;
}

/** The JSON text of `nested(levels)`, written out (JSON.stringify overflows the stack on it). */
const nestedJson = (levels: number) =>
  `${'{"next":'.repeat(levels)}{"leaf":true}${"}".repeat(levels)}`;

describe("router inbound: hostile webhooks", () => {
  it("an inbound text of 2.5 MB becomes an event that fits, and the next 100 webhooks of that contact and of its partition mates each reach inbound-messages once, none dead-lettered", async () => {
    const router = await h.startRouter();
    try {
      const big = "ü".repeat(1_250_000); // 2.5 MB of UTF-8
      const a = "16505550100";
      const mates = partitionMates(a, 3, 101);
      const others = ["16505550190", "16505550191"];
      const first = await h.deliver(
        PN1,
        textWebhook(PN1, [
          { from: a, id: "wamid.big.a", body: big },
          { from: mates[0] ?? "", id: "wamid.big.neighbour", body: "hello" },
        ]),
      );
      const after: string[] = [];
      const deliveries: string[] = [first];
      const everyone = [a, ...mates, ...others];
      for (let i = 0; i < 100; i++) {
        const from = everyone[i % everyone.length] ?? a;
        const id = `wamid.after.${String(i)}`;
        after.push(id);
        deliveries.push(
          await h.deliver(
            i % 5 === 4 ? PN2 : PN1,
            textWebhook(i % 5 === 4 ? PN2 : PN1, [{ from, id, body: `m${String(i)}` }]),
          ),
        );
      }
      await expectExactlyOnce(["wamid.big.a", "wamid.big.neighbour", ...after]);
      for (const id of deliveries) expect(h.deadLetterOf(id), id).toBeUndefined();

      const event = recordsOfWamid("wamid.big.a")[0]?.event as EventOf<"InboundMessageReceived">;
      const body = event.data.message.type === "text" ? event.data.message.text.body : "";
      expect(big.startsWith(body)).toBe(true);
      expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThanOrEqual(
        h.catalog.topic("inbound-messages").maxRecordBytes,
      );
      expect(truncatedOf(event)).toEqual([
        expect.objectContaining({
          path: "/message/text/body",
          reason: "too_large",
          originalBytes: 2_500_000,
          keptBytes: Buffer.byteLength(body),
          sha256: createHash("sha256").update(big).digest("hex"),
        }),
      ]);
      expect(event.data.origin.deliveryId).toBe(first);
      await expectNothingStuck();
    } finally {
      await router.stop();
    }
  });

  it("a webhook whose unknown message type nests 10,000 levels is kept, cut with the reason, and nothing behind it waits", async () => {
    const router = await h.startRouter();
    try {
      const a = "16505550200";
      const deep = textWebhook(PN1, [{ from: a, id: "wamid.deep.a", body: "x" }]);
      const value = deep.entry[0]?.changes[0]?.value as { messages: Record<string, unknown>[] };
      value.messages[0] = {
        from: a,
        id: "wamid.deep.a",
        timestamp: String(Math.floor(Date.now() / 1000)),
        type: "hologram",
        hologram: "DEEP_PAYLOAD",
      };
      const deepId = await h.deliver(
        PN1,
        JSON.stringify(deep).replace('"DEEP_PAYLOAD"', nestedJson(10_000)),
      );
      const later: string[] = [];
      for (let i = 0; i < 10; i++) {
        const id = `wamid.deep.later.${String(i)}`;
        later.push(id);
        await h.deliver(
          PN1,
          textWebhook(PN1, [{ from: i % 2 === 0 ? a : "16505550201", id, body: "hi" }]),
        );
      }
      await expectExactlyOnce(["wamid.deep.a", ...later]);
      expect(h.deadLetterOf(deepId)).toBeUndefined();
      const event = recordsOfWamid("wamid.deep.a")[0]?.event as EventOf<"InboundMessageReceived">;
      expect(event.data.message.type).toBe("unknown");
      expect(truncatedOf(event)).toEqual([
        expect.objectContaining({
          reason: "too_deep",
          path: expect.stringMatching(/^\/message\/payload\//) as unknown,
        }),
      ]);
      await expectNothingStuck();
    } finally {
      await router.stop();
    }
  });

  it("a contact-state write the store can never take (a parser bug let a 10,000-level payload through) dead-letters that webhook alone, and its neighbours, later webhooks and partition go on", async () => {
    const a = "16505550300";
    const b = "16505550301";
    const router = await h.startRouter({
      parse: parserWith((events, input) => {
        if (!input.body.includes("POISON")) return events;
        return events.map((e) =>
          e.type === "InboundMessageReceived" && e.data.contactId === a
            ? createEvent(
                "InboundMessageReceived",
                {
                  ...e.data,
                  message: {
                    type: "unknown",
                    originalType: "hologram",
                    payload: nested(10_000) as Record<string, unknown>,
                  },
                },
                {
                  eventId: e.eventId,
                  correlationId: e.correlationId,
                  ...(e.causationId ? { causationId: e.causationId } : {}),
                  occurredAt: e.occurredAt,
                  businessNumber: PN1,
                  now: new Date(),
                },
              )
            : e,
        );
      }),
    });
    try {
      const poison = await h.deliver(
        PN1,
        textWebhook(PN1, [
          { from: a, id: "wamid.poison.a", body: "POISON" },
          { from: b, id: "wamid.poison.b", body: "fine" },
        ]),
      );
      const later: string[] = [];
      const laterDeliveries: string[] = [];
      for (let i = 0; i < 10; i++) {
        const id = `wamid.poison.later.${String(i)}`;
        later.push(id);
        laterDeliveries.push(
          await h.deliver(PN1, textWebhook(PN1, [{ from: i % 2 === 0 ? a : b, id, body: "hi" }])),
        );
      }
      await expectExactlyOnce(["wamid.poison.b", ...later]);
      await waitFor(() => h.deadLetterOf(poison) !== undefined, {
        timeoutMs: 30_000,
        description: "the poison webhook dead-lettered",
      });
      // The runtime's store refuses the document before the driver sees it (ADR 0010).
      expect(h.deadLetterOf(poison)).toEqual({
        errorClass: "UnstorableStateError",
        reason: expect.stringMatching(
          /cannot be stored: .*nests deeper than MongoDB's 100 levels/,
        ) as unknown,
      });
      for (const id of laterDeliveries) expect(h.deadLetterOf(id)).toBeUndefined();
      expect(recordsOfWamid("wamid.poison.a")).toHaveLength(0);
      await expectNothingStuck();
    } finally {
      await router.stop();
    }
  });

  it("an event that cannot fit its topic (a parser bug skipped the fitting) is dead-lettered with the reason and leaves the outbox; the contact's later webhooks and its batch neighbours are published", async () => {
    const a = "16505550400";
    const b = "16505550401";
    const router = await h.startRouter({
      parse: parserWith((events, input) => {
        if (!input.body.includes("OVERSIZE")) return events;
        return events.map((e) =>
          e.type === "InboundMessageReceived" && e.data.contactId === a
            ? createEvent(
                "InboundMessageReceived",
                { ...e.data, message: { type: "text", text: { body: "o".repeat(1_500_000) } } },
                {
                  eventId: e.eventId,
                  correlationId: e.correlationId,
                  ...(e.causationId ? { causationId: e.causationId } : {}),
                  occurredAt: e.occurredAt,
                  businessNumber: PN1,
                  now: new Date(),
                },
              )
            : e,
        );
      }),
    });
    try {
      const oversize = await h.deliver(
        PN1,
        textWebhook(PN1, [
          { from: a, id: "wamid.oversize.a", body: "OVERSIZE" },
          { from: b, id: "wamid.oversize.b", body: "fine" },
        ]),
      );
      const later: string[] = [];
      const laterDeliveries: string[] = [];
      for (let i = 0; i < 10; i++) {
        const id = `wamid.oversize.later.${String(i)}`;
        later.push(id);
        laterDeliveries.push(
          await h.deliver(PN1, textWebhook(PN1, [{ from: i % 2 === 0 ? a : b, id, body: "hi" }])),
        );
      }
      await expectExactlyOnce(["wamid.oversize.b", ...later]);
      await waitFor(() => h.deadLetterOf(oversize) !== undefined, {
        timeoutMs: 30_000,
        description: "the oversize webhook dead-lettered",
      });
      expect(h.deadLetterOf(oversize)?.reason).toMatch(
        /InboundMessageReceived .* record of \d+ bytes .* over the 1048588-byte limit of \S*parley\.inbound-messages/,
      );
      for (const id of laterDeliveries) expect(h.deadLetterOf(id)).toBeUndefined();
      // Dropped from the outbox: nothing of it is left to publish.
      const doc = await h.mongo.db
        .collection<{ _id: string; version: number; publishedVersion?: number; outbox: unknown[] }>(
          CONTACTS_COLLECTION,
        )
        .findOne({ _id: a });
      expect(doc?.publishedVersion === doc?.version || doc?.outbox.length === 0).toBe(true);
      await expectNothingStuck();
    } finally {
      await router.stop();
    }
  });

  it("items whose contact id is not a wa_id or a BSUID are never a key or a state document: the valid items are published and the webhook is dead-lettered naming the rejected ones", async () => {
    const router = await h.startRouter();
    try {
      const good = "16505550500";
      const webhook = textWebhook(PN1, [
        { from: good, id: "wamid.ids.good", body: "hi" },
        { from: "1650555abc", id: "wamid.ids.letters", body: "hi" },
        { from: "INVALID_UTF8", id: "wamid.ids.utf8", body: "hi" },
      ]);
      const text = JSON.stringify(webhook);
      const at = text.indexOf("INVALID_UTF8");
      const body = Buffer.concat([
        Buffer.from(text.slice(0, at), "utf8"),
        Buffer.from([0x31, 0x36, 0xff, 0xfe, 0x35]),
        Buffer.from(text.slice(at + "INVALID_UTF8".length), "utf8"),
      ]);
      const delivery = await h.deliver(PN1, body);
      await expectExactlyOnce(["wamid.ids.good"]);
      await waitFor(() => h.deadLetterOf(delivery) !== undefined, {
        timeoutMs: 30_000,
        description: "the webhook dead-lettered",
      });
      const reason = h.deadLetterOf(delivery)?.reason ?? "";
      expect(reason).toMatch(/2 of 3 items rejected/);
      expect(reason).toContain("/entry/0/changes/0/value/messages/1");
      expect(reason).toContain("/entry/0/changes/0/value/messages/2");
      expect(reason).not.toContain("1650555abc");
      await expectNothingStuck();
      const keys = new Set(h.seen.map((s) => s.key));
      expect(
        [...keys].filter((k) => k !== null && !/^(\d{6,15}|[A-Z]{2}(\.[A-Z]+)?\.\d+)$/.test(k)),
      ).toEqual([]);
      const docs = await h.mongo.db
        .collection<{ _id: string }>(CONTACTS_COLLECTION)
        .find({}, { projection: { _id: 1 } })
        .toArray();
      expect(
        docs.map((d) => d._id).filter((id) => !/^(\d+|waba:.*|[A-Z]{2}\..*)$/.test(id)),
      ).toEqual([]);
    } finally {
      await router.stop();
    }
  });

  it("a webhook with 200,000 entries (600 KB) is dead-lettered for its size before any fact is built", async () => {
    const router = await h.startRouter();
    try {
      const entries = Array.from({ length: 200_000 }, () => ({}));
      const body = JSON.stringify({ object: "whatsapp_business_account", entry: entries });
      const delivery = await h.deliver(PN2, body);
      const sentinel = await h.deliver(
        PN2,
        textWebhook(PN2, [{ from: "16505550600", id: "wamid.limits.after", body: "hi" }]),
      );
      await expectExactlyOnce(["wamid.limits.after"]);
      await waitFor(() => h.deadLetterOf(delivery) !== undefined, {
        timeoutMs: 30_000,
        description: "the webhook dead-lettered",
      });
      expect(h.deadLetterOf(delivery)?.reason).toMatch(/200003 JSON values; at most 60000/);
      expect(h.deadLetterOf(sentinel)).toBeUndefined();
      expect(h.seen.filter((s) => s.event.correlationId === delivery)).toEqual([]);
      await expectNothingStuck();
    } finally {
      await router.stop();
    }
  });

  it("an outage is waited out past the runner's bounded attempts, never dead-lettered, and the contact's later webhook waits behind it while other contacts go on", async () => {
    const a = "16505550700";
    const b = "16505550701";
    let failures = 0;
    const router = await h.startRouter({
      wrapHandler: (handler) => ({
        flush: () => handler.flush(),
        async handle(events) {
          const first = events.some(
            (e) => e.type === "InboundMessageReceived" && e.data.wamid === "wamid.outage.a1",
          );
          // MongoDB "down" for this webhook's first 6 tries (the runner's bounded limit is 3).
          if (first && failures < 6) {
            failures++;
            throw new ParleyError("contact store load failed: connection refused", {
              retry: "outage",
            });
          }
          await handler.handle(events);
        },
      }),
    });
    try {
      const deliveries = [
        await h.deliver(PN1, textWebhook(PN1, [{ from: a, id: "wamid.outage.a1", body: "1" }])),
        await h.deliver(PN1, textWebhook(PN1, [{ from: a, id: "wamid.outage.a2", body: "2" }])),
        await h.deliver(PN1, textWebhook(PN1, [{ from: b, id: "wamid.outage.b1", body: "x" }])),
      ];
      await expectExactlyOnce(["wamid.outage.b1"]);
      expect(recordsOfWamid("wamid.outage.a2")).toHaveLength(0);
      await expectExactlyOnce(["wamid.outage.a1", "wamid.outage.a2"]);
      expect(failures).toBe(6);
      const order = h.inboundOf(a).map((e) => e.data.wamid);
      expect(order.indexOf("wamid.outage.a1")).toBeLessThan(order.indexOf("wamid.outage.a2"));
      for (const id of deliveries) expect(h.deadLetterOf(id)).toBeUndefined();
      await expectNothingStuck();
    } finally {
      await router.stop();
    }
  });
});
