import { createCatalog, createEvent, type AnyEvent } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import type { EncodedEvent, EventProducer } from "@parley/kafka";
import { describe, expect, it } from "vitest";
import { createCatalogPublisher, publishRetryOf } from "./publisher.js";

// The publisher adapter translates only: a record that can never be produced is refused before
// anything is sent, and a failure says whether to wait (the broker) or to give up (the record).

const NOW = new Date("2026-03-01T12:00:00.000Z");
const catalog = createCatalog();

const text = (wamid: string, body: string) =>
  createEvent(
    "InboundMessageReceived",
    {
      contactId: "16505551234",
      wamid,
      contact: {},
      origin: { deliveryId: "d", wabaId: "w" },
      message: { type: "text", text: { body } },
    },
    { correlationId: "d", now: NOW, businessNumber: "1" },
  );
const window = (wamid: string) =>
  createEvent(
    "ConversationWindowOpened",
    {
      contactId: "16505551234",
      openedBy: wamid,
      expiresAt: "2026-03-02T12:00:00.000Z",
      freeEntryPoint: false,
    },
    { correlationId: "d", now: NOW, businessNumber: "1" },
  );

/** An EventProducer that encodes as JSON and records the calls; `fail` makes sends fail. */
function producer(fail?: () => Error) {
  const sent: { topic: string; wamids: string[] }[] = [];
  const fake: EventProducer = {
    name: "fake",
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    publish: () => Promise.reject(new Error("not used")),
    output: () => Promise.reject(new Error("not used")),
    generation: 1,
    encode: (topic, record) =>
      Promise.resolve({
        topic: topic.name,
        key: record.key,
        value: Buffer.from(JSON.stringify(record.event)),
        event: record.event,
      }),
    publishEncoded: (topic, records: readonly EncodedEvent[]) => {
      if (fail) return Promise.reject(fail());
      sent.push({
        topic: topic.id,
        wamids: records.map((r) => {
          const data = (r.event as AnyEvent).data as { wamid?: string; openedBy?: string };
          return data.wamid ?? data.openedBy ?? "";
        }),
      });
      return Promise.resolve();
    },
  };
  return { fake, sent };
}

describe("catalog publisher", () => {
  it("sends nothing of a contact's events when one of them is larger than its topic takes", async () => {
    const { fake, sent } = producer();
    const publish = createCatalogPublisher(fake, catalog);
    const attempt = publish([text("w.1", "hi"), window("w.1"), text("w.2", "x".repeat(1_100_000))]);
    await expect(attempt).rejects.toMatchObject({
      retry: "never",
      message: expect.stringMatching(
        /^InboundMessageReceived \S+ is \d+ bytes; parley\.inbound-messages takes at most 1048588 per record$/,
      ) as unknown,
    });
    expect(sent).toEqual([]);
  });

  it("sends a topic's records in calls that each fit one record batch, in order", async () => {
    const { fake, sent } = producer();
    const publish = createCatalogPublisher(fake, catalog);
    const big = (n: number) => text(`w.${String(n)}`, "x".repeat(400_000));
    await publish([big(1), window("w.1"), big(2), big(3), big(4)]);
    expect(sent.filter((s) => s.topic === "inbound-messages")).toEqual([
      { topic: "inbound-messages", wamids: ["w.1", "w.2"] },
      { topic: "inbound-messages", wamids: ["w.3", "w.4"] },
    ]);
    expect(sent.filter((s) => s.topic === "conversation-windows")).toEqual([
      { topic: "conversation-windows", wamids: ["w.1"] },
    ]);
  });

  it("calls a broker that does not answer an outage, and a record it refuses never", async () => {
    const down = createCatalogPublisher(
      producer(() =>
        Object.assign(new Error("Connection timeout"), {
          name: "KafkaJSConnectionError",
          retriable: true,
        }),
      ).fake,
      catalog,
    );
    await expect(down([text("w.1", "hi")])).rejects.toMatchObject({ retry: "outage" });
    const refused = createCatalogPublisher(
      producer(() =>
        Object.assign(
          new Error("The request included a message larger than the max message size"),
          {
            name: "KafkaJSProtocolError",
            type: "MESSAGE_TOO_LARGE",
            retriable: false,
          },
        ),
      ).fake,
      catalog,
    );
    await expect(refused([text("w.1", "hi")])).rejects.toMatchObject({ retry: "never" });
  });
});

describe("publishRetryOf", () => {
  it("never for a record refused for good, wherever it sits in the cause chain", () => {
    expect(publishRetryOf(Object.assign(new Error("x"), { name: "RecordTooLargeError" }))).toBe(
      "never",
    );
    expect(publishRetryOf(Object.assign(new Error("x"), { name: "InvalidEventError" }))).toBe(
      "never",
    );
    expect(publishRetryOf(new ParleyError("bad record", { retry: "never" }))).toBe("never");
    const wrapped = Object.assign(new Error("failed after retries"), {
      name: "KafkaJSNonRetriableError",
      cause: Object.assign(new Error("too large"), { type: "MESSAGE_TOO_LARGE" }),
    });
    expect(publishRetryOf(wrapped)).toBe("never");
  });

  it("an outage for anything else the broker answers, kafkajs's 'not retriable' after its own retries included", () => {
    const exhausted = Object.assign(new Error("Connection error: ECONNREFUSED"), {
      name: "KafkaJSNonRetriableError",
      retriable: false,
      originalError: Object.assign(new Error("ECONNREFUSED"), { name: "KafkaJSConnectionError" }),
    });
    expect(publishRetryOf(exhausted)).toBe("outage");
    expect(publishRetryOf(new Error("socket hang up"))).toBe("outage");
    expect(publishRetryOf(new ParleyError("leader not available", { retry: "bounded" }))).toBe(
      "outage",
    );
  });
});
