import { createCatalog, createEvent, type AnyEvent } from "@parley/contracts";
import type { EncodedEvent, EventProducer } from "./producer.js";
import { describe, expect, it } from "vitest";
import { createCatalogPublisher } from "./publish-events.js";

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
  it("sends nothing of a contact's events when the layer refuses one of them", async () => {
    const refused = Object.assign(new Error("record of 1100900 bytes is over the limit"), {
      name: "RecordTooLargeError",
      retry: "never",
    });
    const { fake, sent } = producer();
    const publish = createCatalogPublisher(
      {
        ...fake,
        encode: (topic, record) =>
          JSON.stringify(record.event).length > 1_000_000
            ? Promise.reject(refused)
            : fake.encode(topic, record),
      },
      catalog,
    );
    const attempt = publish([text("w.1", "hi"), window("w.1"), text("w.2", "x".repeat(1_100_000))]);
    await expect(attempt).rejects.toBe(refused);
    expect(sent).toEqual([]);
  });

  it("publishes each topic's records in the given order, keyed as the topic declares", async () => {
    const { fake, sent } = producer();
    const publish = createCatalogPublisher(fake, catalog);
    await publish([text("w.1", "a"), window("w.1"), text("w.2", "b"), text("w.3", "c")]);
    expect(sent.filter((s) => s.topic === "inbound-messages")).toEqual([
      { topic: "inbound-messages", wamids: ["w.1", "w.2", "w.3"] },
    ]);
    expect(sent.filter((s) => s.topic === "conversation-windows")).toEqual([
      { topic: "conversation-windows", wamids: ["w.1"] },
    ]);
  });

  it("passes the layer's failure and its retry decision through", async () => {
    const outage = Object.assign(new Error("broker unavailable"), { retry: "outage" });
    const down = createCatalogPublisher(producer(() => outage).fake, catalog);
    await expect(down([text("w.1", "hi")])).rejects.toBe(outage);
  });
});
