import { describe, expect, it } from "vitest";
import { createCatalog, type TopicSpec } from "@parley/contracts";
import type { OutgoingEvent } from "@parley/kafka";
import { UNROUTED_KEY } from "../../domain/routing.js";
import {
  AppendFailedError,
  createRawWebhookAppender,
  rawWebhookEvent,
  type RawWebhookReceipt,
} from "./raw-appender.js";

const catalog = createCatalog();
const raw = catalog.topic("raw-webhooks");
const receipt = (routing: RawWebhookReceipt["routing"]): RawWebhookReceipt => ({
  deliveryId: "d-1",
  body: Buffer.from('{"entry":[]}'),
  signature: "sha256=abc",
  receivedAt: new Date("2026-03-01T10:15:00.000Z"),
  contentType: "application/json",
  sourceIp: "173.252.95.1",
  routing,
});

describe("rawWebhookEvent", () => {
  it("keeps the bytes, the signature and the receipt metadata, and validates against the topic", () => {
    const event = rawWebhookEvent(receipt({ phoneNumberIds: ["p1", "p2"], wabaIds: ["w1"] }));
    expect(event.type).toBe("RawWebhookReceived");
    expect(event.correlationId).toBe("d-1");
    expect(event.businessNumber).toBe("p1");
    expect(event.recordedAt).toBe("2026-03-01T10:15:00.000Z");
    expect(Buffer.from(event.data.bodyBase64, "base64").toString()).toBe('{"entry":[]}');
    expect(event.data).toMatchObject({
      deliveryId: "d-1",
      signature: "sha256=abc",
      sizeBytes: 12,
      contentType: "application/json",
      sourceIp: "173.252.95.1",
      phoneNumberIds: ["p1", "p2"],
      wabaIds: ["w1"],
    });
    expect(event.data.userAgent).toBeUndefined();
    expect(raw.schema.safeParse(event).success).toBe(true);
  });
});

describe("createRawWebhookAppender", () => {
  const capture = () => {
    const sent: { topic: TopicSpec; records: readonly OutgoingEvent[] }[] = [];
    return {
      sent,
      producer: {
        publish: (topic: TopicSpec, records: readonly OutgoingEvent[]) => {
          sent.push({ topic, records });
          return Promise.resolve();
        },
      },
    };
  };

  it("keys by the first business number, else the WABA, else a constant", async () => {
    const { sent, producer } = capture();
    const appender = createRawWebhookAppender({ producer, topic: raw });
    await appender.append(receipt({ phoneNumberIds: ["p1", "p2"], wabaIds: ["w1"] }));
    await appender.append(receipt({ phoneNumberIds: [], wabaIds: ["w1"] }));
    await appender.append(receipt({ phoneNumberIds: [], wabaIds: [] }));
    expect(sent.map((s) => s.records[0]?.key)).toEqual(["p1", "w1", UNROUTED_KEY]);
    expect(sent.every((s) => s.topic === raw && s.records.length === 1)).toBe(true);
  });

  it("turns a refusal into a retriable AppendFailedError", async () => {
    const appender = createRawWebhookAppender({
      producer: { publish: () => Promise.reject(new Error("NOT_ENOUGH_REPLICAS")) },
      topic: raw,
    });
    const error: unknown = await appender
      .append(receipt({ phoneNumberIds: [], wabaIds: [] }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppendFailedError);
    expect(error).toMatchObject({ reason: "rejected", retriable: true });
  });

  it("times out an append that is never acknowledged, and swallows its late failure", async () => {
    let fail: (e: Error) => void = () => undefined;
    const appender = createRawWebhookAppender({
      producer: {
        publish: () =>
          new Promise<void>((_, reject) => {
            fail = reject;
          }),
      },
      topic: raw,
      timeoutMs: 20,
    });
    await expect(
      appender.append(receipt({ phoneNumberIds: [], wabaIds: [] })),
    ).rejects.toMatchObject({
      reason: "timeout",
    });
    fail(new Error("late"));
    await new Promise((r) => setTimeout(r, 10));
  });

  it("refuses a topic that does not carry raw webhooks, and a bad timeout", () => {
    const { producer } = capture();
    expect(() => createRawWebhookAppender({ producer, topic: catalog.topic("statuses") })).toThrow(
      /raw-webhooks/,
    );
    expect(() => createRawWebhookAppender({ producer, topic: raw, timeoutMs: 0 })).toThrow(
      /timeoutMs/,
    );
  });
});
