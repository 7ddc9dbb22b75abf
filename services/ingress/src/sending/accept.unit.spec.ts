import { describe, expect, it } from "vitest";
import type { EventOf } from "@parley/contracts";
import { createMetrics } from "@parley/telemetry";
import { createAcceptSend, type PublishSendRequested } from "./accept.js";
import { createMemorySendRecordStore } from "./memory-store.js";
import { createSendApiMetrics } from "../metrics.js";
import { mapSendRequest } from "../adapters/http/send-body.js";
import type { SendRequestData } from "./request.js";
import { StoreUnavailableError, type SendRecordStore } from "./store.js";

const data = (over: Record<string, unknown> = {}, key = "orders:42:shipped"): SendRequestData => {
  const mapped = mapSendRequest(
    {
      contactId: "16505551234",
      recipient: { phone: "16505551234" },
      sender: { kind: "alias", alias: "orders" },
      content: { type: "text", text: { body: "shipped" } },
      category: "utility",
      ...over,
    },
    { idempotencyKey: key, requester: "orders" },
  );
  if (!mapped.ok) throw new Error(JSON.stringify(mapped.errors));
  return mapped.data;
};

function harness(publish?: PublishSendRequested, store?: SendRecordStore) {
  const published: EventOf<"SendRequested">[] = [];
  const memory = createMemorySendRecordStore({ retentionMs: 7 * 24 * 60 * 60 * 1000 });
  let ids = 0;
  const accept = createAcceptSend({
    store: store ?? memory,
    publish:
      publish ??
      ((event) => {
        published.push(event);
        return Promise.resolve();
      }),
    metrics: createSendApiMetrics(createMetrics({ service: "t", collectDefaults: false })),
    publishTimeoutMs: 50,
    now: () => new Date("2026-03-01T10:00:00.000Z"),
    newId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`,
  });
  return { accept, published, memory };
}

describe("acceptSend", () => {
  it("stores, then publishes one SendRequested whose correlation id is the request id", async () => {
    const { accept, published, memory } = harness();
    const result = await accept({ principal: "orders", data: data() });
    expect(result.kind).toBe("accepted");
    if (result.kind !== "accepted") return;
    expect(published).toHaveLength(1);
    expect(published[0]?.correlationId).toBe(result.record.requestId);
    expect(published[0]?.eventId).toBe(result.record.eventId);
    expect(published[0]?.data.requester).toBe("orders");
    expect([...memory.records.values()][0]?.publishedAt).toBeDefined();
  });

  it("answers a repeated key with the original request and publishes nothing new", async () => {
    const { accept, published } = harness();
    const first = await accept({ principal: "orders", data: data() });
    const again = await accept({
      principal: "orders",
      data: data({ recipient: { phone: "16505551234" } }),
    });
    expect(again.kind).toBe("replayed");
    if (first.kind !== "accepted" || again.kind !== "replayed") return;
    expect(again.record.requestId).toBe(first.record.requestId);
    expect(published).toHaveLength(1);
  });

  it("keeps keys apart per principal", async () => {
    const { accept, published } = harness();
    await accept({ principal: "orders", data: data() });
    expect((await accept({ principal: "payments", data: data() })).kind).toBe("accepted");
    expect(published).toHaveLength(2);
  });

  it("is a conflict when the key comes back with a different request, naming the original", async () => {
    const { accept, published } = harness();
    const first = await accept({ principal: "orders", data: data() });
    const other = await accept({ principal: "orders", data: data({ category: "marketing" }) });
    expect(other).toEqual({
      kind: "conflict",
      requestId: first.kind === "accepted" ? first.record.requestId : "?",
    });
    expect(published).toHaveLength(1);
  });

  it("after a failed publish, a retry re-publishes the same event (same eventId and requestId)", async () => {
    const attempts: EventOf<"SendRequested">[] = [];
    let kafkaUp = false;
    const { accept, memory } = harness((event) => {
      attempts.push(event);
      return kafkaUp ? Promise.resolve() : Promise.reject(new Error("broker down"));
    });
    const failed = await accept({ principal: "orders", data: data() });
    expect(failed).toMatchObject({ kind: "unavailable", dependency: "kafka" });
    expect([...memory.records.values()][0]?.publishedAt).toBeUndefined();
    kafkaUp = true;
    const retried = await accept({ principal: "orders", data: data() });
    expect(retried.kind).toBe("replayed");
    expect(attempts).toHaveLength(2);
    expect(attempts[1]).toEqual(attempts[0]);
    expect([...memory.records.values()][0]?.publishedAt).toBeDefined();
    // Now acknowledged: a third call publishes nothing.
    await accept({ principal: "orders", data: data() });
    expect(attempts).toHaveLength(2);
  });

  it("gives up waiting after the timeout (503) but records a publish that lands later", async () => {
    let land: () => void = () => undefined;
    const { accept, memory } = harness(
      () =>
        new Promise<void>((resolve) => {
          land = resolve;
        }),
    );
    const result = await accept({ principal: "orders", data: data() });
    expect(result).toMatchObject({ kind: "unavailable", dependency: "kafka" });
    land();
    await new Promise((r) => setImmediate(r));
    expect([...memory.records.values()][0]?.publishedAt).toBeDefined();
  });

  it("a retry while the first publish is still in flight joins it instead of publishing a copy", async () => {
    let calls = 0;
    let land: () => void = () => undefined;
    const { accept } = harness(() => {
      calls++;
      return new Promise<void>((resolve) => {
        land = resolve;
      });
    });
    expect((await accept({ principal: "orders", data: data() })).kind).toBe("unavailable");
    const retry = accept({ principal: "orders", data: data() });
    land();
    expect((await retry).kind).toBe("replayed");
    expect(calls).toBe(1);
  });

  it("a repeat whose store answer predates the first publish's acknowledgement publishes nothing more", async () => {
    let calls = 0;
    let land: () => void = () => undefined;
    const memory = createMemorySendRecordStore({
      retentionMs: 7 * 24 * 60 * 60 * 1000,
      clock: () => new Date("2026-03-01T10:00:01.000Z"),
    });
    // The repeat's claim reads the record while it is unpublished, and its answer arrives only
    // after the first publish was acknowledged and recorded (a slow store round trip).
    let claims = 0;
    let release: () => void = () => undefined;
    const slowRepeat: SendRecordStore = {
      claim: async (record) => {
        const answer = await memory.claim(record);
        if (++claims === 2) await new Promise<void>((resolve) => (release = resolve));
        return answer;
      },
      markPublished: (principal, key, at) => memory.markPublished(principal, key, at),
      findByRequestId: (principal, id) => memory.findByRequestId(principal, id),
    };
    const { accept } = harness(() => {
      calls++;
      return new Promise<void>((resolve) => {
        land = resolve;
      });
    }, slowRepeat);
    const first = accept({ principal: "orders", data: data() });
    await new Promise((r) => setImmediate(r));
    const repeat = accept({ principal: "orders", data: data() });
    await new Promise((r) => setImmediate(r));
    land();
    expect((await first).kind).toBe("accepted");
    await new Promise((r) => setImmediate(r));
    release();
    expect((await repeat).kind).toBe("replayed");
    expect(calls).toBe(1);
  });

  it("publishes nothing when the store cannot take the key (503 from the store)", async () => {
    const down: SendRecordStore = {
      claim: () => Promise.reject(new StoreUnavailableError("mongo down")),
      markPublished: () => Promise.resolve(),
      findByRequestId: () => Promise.resolve(undefined),
    };
    const { accept, published } = harness(undefined, down);
    expect(await accept({ principal: "orders", data: data() })).toMatchObject({
      kind: "unavailable",
      dependency: "store",
    });
    expect(published).toHaveLength(0);
  });
});
