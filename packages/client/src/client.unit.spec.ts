import { describe, expect, it } from "vitest";
import { createCatalog, exampleEvent, type TopicSpec } from "@parley/contracts";
import { ParleyKafkaError, type ConsumedRecord, type OutgoingEvent } from "@parley/kafka";
import { createClientFromParts, type SubscriptionSpec } from "./client.js";
import {
  ClientClosedError,
  InvalidSendRequestError,
  MissingIdempotencyKeyError,
  SendNotAcknowledgedError,
  SubscribeError,
} from "./errors.js";
import type { SendOutcome, StatusEvent } from "./events.js";
import type { SendRequest } from "./request.js";

const request: SendRequest = {
  contactId: "16505551234",
  idempotencyKey: "orders:42:shipped",
  recipient: { phone: "16505551234" },
  sender: { kind: "businessNumber", phoneNumberId: "106540352242922" },
  content: { type: "text", text: { body: "Your order 42 has shipped." } },
  category: "utility",
};

/** A controllable producer and subscription layer: records what would reach Kafka. */
function fakeParts({ failPublish }: { failPublish?: Error } = {}) {
  const catalog = createCatalog({ prefix: "unit." });
  const published: { topic: TopicSpec; records: readonly OutgoingEvent[] }[] = [];
  const calls: string[] = [];
  const subscribed: SubscriptionSpec[] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const producer = {
    connect: () => {
      calls.push("connect");
      return Promise.resolve();
    },
    async publish(topic: TopicSpec, records: readonly OutgoingEvent[]) {
      calls.push("publish");
      if (hold) await new Promise<void>((resolve) => (release = resolve));
      if (failPublish !== undefined) throw failPublish;
      published.push({ topic, records });
    },
    disconnect: () => {
      calls.push("disconnect");
      return Promise.resolve();
    },
  };
  let ids = 0;
  const client = createClientFromParts({
    catalog,
    producer,
    subscribe: (spec) => {
      subscribed.push(spec);
      return Promise.resolve({
        stop: () => {
          calls.push(`stop ${spec.consumer}`);
          return Promise.resolve();
        },
      });
    },
    now: () => new Date("2026-03-01T10:15:00.000Z"),
    newId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`,
  });
  return {
    catalog,
    client,
    published,
    calls,
    subscribed,
    holdPublishes: () => (hold = true),
    releasePublish: () => release?.(),
  };
}

const recordOf = (topic: TopicSpec, value: unknown): ConsumedRecord<unknown> => ({
  topic: topic.name,
  partition: 3,
  offset: "17",
  key: "16505551234",
  value,
  headers: {},
  timestamp: "0",
  attempt: 1,
});

describe("requestSend", () => {
  it("publishes one SendRequested on send-requests, keyed by contact, correlated by a new request id", async () => {
    const { client, published, catalog } = fakeParts();
    const { requestId } = await client.requestSend(request);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(published).toHaveLength(1);
    const [{ topic, records }] = published as [(typeof published)[number]];
    expect(topic.name).toBe(catalog.topic("send-requests").name);
    expect(records).toHaveLength(1);
    expect(records[0]?.key).toBe("16505551234");
    expect(records[0]?.event).toMatchObject({
      type: "SendRequested",
      correlationId: requestId,
      causationId: null,
      businessNumber: "106540352242922",
      data: request,
    });
    expect(records[0]?.event.eventId).not.toBe(requestId);
  });

  it("keeps a request id the caller passes, and never puts it in the event data", async () => {
    const { client, published } = fakeParts();
    await expect(
      client.requestSend({ ...request, requestId: "orders-42-shipped-1" }),
    ).resolves.toEqual({
      requestId: "orders-42-shipped-1",
    });
    const event = published[0]?.records[0]?.event;
    expect(event?.correlationId).toBe("orders-42-shipped-1");
    expect(event).toHaveProperty("data.idempotencyKey");
    expect(event).not.toHaveProperty("data.requestId");
  });

  it("publishes nothing, and does not even connect, for a request without an idempotency key", async () => {
    const { client, calls } = fakeParts();
    const { idempotencyKey: _, ...withoutKey } = request;
    await expect(client.requestSend(withoutKey as SendRequest)).rejects.toBeInstanceOf(
      MissingIdempotencyKeyError,
    );
    await expect(client.requestSend({ ...request, idempotencyKey: "" })).rejects.toThrow(
      /idempotencyKey: must not be empty/,
    );
    expect(calls).toEqual([]);
  });

  it("publishes nothing for invalid content, and lists every issue", async () => {
    const { client, calls } = fakeParts();
    const error: unknown = await client
      .requestSend({
        ...request,
        content: { type: "image", image: { link: "ftp://example.com/a.png" } },
        category: "bulk" as never,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidSendRequestError);
    expect((error as InvalidSendRequestError).issues.map((i) => i.at)).toEqual([
      "content.image.link",
      "category",
    ]);
    expect(calls).toEqual([]);
  });

  it("says a failed publish is in doubt and retriable when Kafka's failure is transient", async () => {
    const transient = Object.assign(new Error("retries exceeded"), {
      retriable: false,
      cause: Object.assign(new Error("Connection error"), { retriable: true }),
    });
    const { client } = fakeParts({ failPublish: transient });
    const error: unknown = await client
      .requestSend({ ...request, requestId: "r-1" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendNotAcknowledgedError);
    const notAcked = error as SendNotAcknowledgedError;
    expect(notAcked.retriable).toBe(true);
    expect(notAcked.cause).toBe(transient);
    expect(notAcked.message).toMatch(/retry with the same idempotencyKey and requestId/);
    expect(notAcked.context).toEqual({
      requestId: "r-1",
      idempotencyKey: "orders:42:shipped",
      topic: "unit.parley.send-requests",
    });
  });

  it("says a failed publish is not retriable when the layer below says so (schema not registered)", async () => {
    const fatal = new ParleyKafkaError("schema not registered", { retry: "never" });
    const { client } = fakeParts({ failPublish: fatal });
    await expect(client.requestSend(request)).rejects.toMatchObject({
      name: "SendNotAcknowledgedError",
      retry: "never",
    });
  });
});

describe("close", () => {
  it("waits for in-flight sends, stops subscriptions, then disconnects; later calls are refused", async () => {
    const { client, calls, holdPublishes, releasePublish } = fakeParts();
    await client.onOutcome(() => undefined, { group: "orders-outcomes" });
    holdPublishes();
    const sending = client.requestSend(request);
    await Promise.resolve();
    const closing = client.close();
    await expect(client.requestSend(request)).rejects.toBeInstanceOf(ClientClosedError);
    await expect(
      client.onStatus(() => undefined, { group: "orders-statuses" }),
    ).rejects.toBeInstanceOf(ClientClosedError);
    releasePublish();
    await expect(sending).resolves.toHaveProperty("requestId");
    await closing;
    expect(calls).toEqual(["connect", "publish", "stop orders-outcomes", "disconnect"]);
    await client.close();
    expect(calls.filter((c) => c === "disconnect")).toHaveLength(1);
  });

  it("does not disconnect a producer that never connected", async () => {
    const { client, calls } = fakeParts();
    await client.close();
    expect(calls).toEqual([]);
    await expect(client.connect()).rejects.toBeInstanceOf(ClientClosedError);
  });
});

describe("onOutcome and onStatus", () => {
  it("subscribe to their catalog topics and hand the typed event and its delivery to the handler", async () => {
    const { client, subscribed, catalog } = fakeParts();
    const outcomes: SendOutcome[] = [];
    const statuses: StatusEvent[] = [];
    await client.onOutcome(
      (event, delivery) => {
        if (event.type === "SendAccepted") expect(event.data.wamid).toMatch(/^wamid\./);
        expect(delivery).toMatchObject({
          partition: 3,
          offset: "17",
          key: "16505551234",
          attempt: 1,
        });
        outcomes.push(event);
      },
      { group: "orders-outcomes" },
    );
    await client.onStatus((event) => void statuses.push(event), {
      group: "orders-statuses",
      fromBeginning: false,
      retry: { attempts: 2 },
      maxInFlight: 10,
      ensureDeadLetterTopic: false,
    });
    const [outcomeSpec, statusSpec] = subscribed as [SubscriptionSpec, SubscriptionSpec];
    expect(outcomeSpec).toMatchObject({
      consumer: "orders-outcomes",
      fromBeginning: true,
      ensureDeadLetterTopic: true,
      maxInFlight: undefined,
    });
    expect(outcomeSpec.topic.name).toBe(catalog.topic("send-outcomes").name);
    expect(statusSpec).toMatchObject({
      consumer: "orders-statuses",
      fromBeginning: false,
      retry: { attempts: 2 },
      maxInFlight: 10,
      ensureDeadLetterTopic: false,
    });
    expect(statusSpec.topic.name).toBe(catalog.topic("statuses").name);

    const accepted = exampleEvent("SendAccepted");
    const status = exampleEvent("StatusUpdated");
    const signal = new AbortController().signal;
    await outcomeSpec.handle(recordOf(outcomeSpec.topic, accepted), signal);
    await statusSpec.handle(recordOf(statusSpec.topic, status), signal);
    expect(outcomes).toEqual([accepted]);
    expect(statuses).toEqual([status]);
  });

  it("lets a handler's error through, so the runner retries or dead-letters it by its retriable flag", async () => {
    const { client, subscribed } = fakeParts();
    const failure = Object.assign(new Error("orders db down"), { retriable: true });
    await client.onOutcome(
      () => {
        throw failure;
      },
      { group: "orders-outcomes" },
    );
    const [spec] = subscribed as [SubscriptionSpec];
    await expect(
      spec.handle(recordOf(spec.topic, exampleEvent("SendRejected")), new AbortController().signal),
    ).rejects.toBe(failure);
  });

  it("refuses a bad or reused group, and a bad maxInFlight, before subscribing", async () => {
    const { client, subscribed } = fakeParts();
    await expect(client.onOutcome(() => undefined, { group: "Orders Outcomes" })).rejects.toThrow(
      /group "Orders Outcomes" must match .*e\.g\. "orders-outcomes"/,
    );
    const subscription = await client.onOutcome(() => undefined, { group: "orders" });
    await expect(client.onStatus(() => undefined, { group: "orders" })).rejects.toThrow(
      /already subscribed by this client/,
    );
    await expect(
      client.onStatus(() => undefined, { group: "orders-statuses", maxInFlight: 0 }),
    ).rejects.toBeInstanceOf(SubscribeError);
    expect(subscribed).toHaveLength(1);
    await subscription.stop();
    await client.onStatus(() => undefined, { group: "orders" });
    expect(subscribed).toHaveLength(2);
  });
});
