import { createEvent, type AnyEvent } from "@parley/contracts";
import { createMemoryStateStore, type MemoryStateStore } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import { describe, expect, it } from "vitest";
import { contentDigest, eventIdOf } from "../inbound/event-id.js";
import type { OutboundOutput, OutboundState } from "./evolve.js";
import { createOutboundHandler } from "./handler.js";

const CONTACT = "16505551234";
const BN = "106540352242922";

/** The runtime's in-memory StateStore (its contract is run in @parley/testkit). */
const memoryStore = (): MemoryStateStore<OutboundState, OutboundOutput> => createMemoryStateStore();

/** A contact's outbox as a load sees it (empty once marked published). */
const outboxOf = (store: MemoryStateStore<OutboundState, OutboundOutput>, id: string) => {
  const record = store.peek(id);
  return record === undefined || record.publishedVersion >= record.version ? [] : record.outbox;
};

const request = createEvent(
  "SendRequested",
  {
    contactId: CONTACT,
    idempotencyKey: "k-1",
    recipient: { phone: "+16505551234" },
    sender: { kind: "businessNumber", phoneNumberId: BN },
    content: { type: "text", text: { body: "hi" } },
    category: "service",
  },
  { correlationId: "req-1", now: new Date() },
);

function setup(
  failFirstPublish: boolean,
  store = memoryStore(),
  published: AnyEvent[] = [],
  cacheSize?: number,
) {
  let failures = failFirstPublish ? 1 : 0;
  const handler = createOutboundHandler({
    store,
    publish: (events) => {
      if (failures-- > 0) {
        return Promise.reject(new ParleyError("broker down", { retry: "outage" }));
      }
      published.push(...events);
      return Promise.resolve();
    },
    clock: () => new Date(),
    resolveSender: () => ({ phoneNumberId: BN, wabaId: "waba-1" }),
    catalogs: {
      get: () => Promise.reject(new Error("no catalog needed")),
      refreshIfOlder: () => Promise.resolve(false),
    },
    windows: {
      windowsOf: (ids) =>
        Promise.resolve(
          new Map(
            ids.map((id) => [
              id,
              [{ businessNumber: BN, expiresAt: new Date(Date.now() + 3_600_000).toISOString() }],
            ]),
          ),
        ),
    },
    marketingCap: { count: 1, periodMs: 86_400_000 },
    retention: { maxRequests: 100, requestTtlMs: 86_400_000 },
    eventIdOf,
    digest: contentDigest,
    ...(cacheSize === undefined ? {} : { cacheSize }),
  });
  return { store, published, handler };
}

describe("outbound handler: exactly one output per request", () => {
  it("decides once and publishes once, however often the request is delivered", async () => {
    const { handler, published } = setup(false);
    await handler.handle(request);
    await handler.handle(request);
    await Promise.all([handler.handle(request), handler.handle(request)]);
    expect(published.map((e) => e.type)).toEqual(["DispatchMessage"]);
  });

  it("a crash after the state is saved loses nothing: the redelivery publishes the outbox, nothing new", async () => {
    const { handler, published, store } = setup(true);
    await expect(handler.handle(request)).rejects.toThrow("broker down");
    expect(published).toEqual([]);
    expect(outboxOf(store, CONTACT)).toHaveLength(1);
    await handler.handle(request);
    expect(published.map((e) => e.type)).toEqual(["DispatchMessage"]);
    expect(outboxOf(store, CONTACT)).toEqual([]);
    await handler.handle(request);
    expect(published).toHaveLength(1);
  });

  it("a stale cached state (another instance wrote since) decides nothing twice: its write loses the version race", async () => {
    const store = memoryStore();
    const published: AnyEvent[] = [];
    const a = setup(false, store, published).handler;
    const b = setup(false, store, published).handler;
    const second = createEvent(
      "SendRequested",
      { ...request.data, idempotencyKey: "k-2" },
      { correlationId: "req-2", now: new Date() },
    );
    await a.handle(request); // a caches the contact at version 1
    await b.handle(request); // b reads MongoDB: already decided
    await b.handle(second); // version 2, unknown to a's cache
    await a.handle(second); // stale cache: decided again, the write is refused, re-read: nothing
    expect(published.map((e) => e.correlationId)).toEqual(["req-1", "req-2"]);
    expect(store.peek(CONTACT)?.version).toBe(2);
    await a.handle(request);
    expect(published).toHaveLength(2);
  });

  it("rejects a cache size that is not a whole number", () => {
    expect(() => setup(false, memoryStore(), [], -1)).toThrow(RangeError);
  });
});
