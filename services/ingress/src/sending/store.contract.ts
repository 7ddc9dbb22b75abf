import { describe, expect, it } from "vitest";
import type { SendRecord, SendRecordRetention, SendRecordStore } from "./store.js";

let n = 0;
/** A record with fresh ids; `over` replaces fields. */
export function sampleRecord(over: Partial<SendRecord> = {}): SendRecord {
  n++;
  return {
    principal: "orders",
    idempotencyKey: `orders:${n}:shipped`,
    requestId: `req-${n}-${Math.random().toString(36).slice(2)}`,
    eventId: `evt-${n}`,
    fingerprint: "f".repeat(64),
    contactId: "16505551234",
    requester: "orders",
    eventJson: '{"type":"SendRequested"}',
    acceptedAt: new Date("2026-03-01T10:00:00.000Z"),
    ...over,
  };
}

/**
 * The contract of the idempotency store port (conventions.md, 8), run against the in-memory
 * fake (unit) and MongoDB (int), so the unit tests of the use case can trust the fake.
 */
export function describeSendRecordStore(
  name: string,
  createWith: (retention: SendRecordRetention) => SendRecordStore,
): void {
  const week = 7 * 24 * 60 * 60 * 1000;
  // The samples are accepted on 2026-03-01; lookups happen a minute later.
  const create = () =>
    createWith({ retentionMs: week, clock: () => new Date("2026-03-01T10:01:00.000Z") });
  describe(`SendRecordStore contract: ${name}`, () => {
    it("claims a new key once; a second claim of the key returns the first record unchanged", async () => {
      const store = create();
      const first = sampleRecord();
      expect(await store.claim(first)).toEqual({ claimed: true });
      const again = await store.claim({
        ...first,
        requestId: `${first.requestId}-2`,
        eventId: "e2",
      });
      expect(again).toEqual({ claimed: false, existing: first });
    });

    it("scopes keys per principal", async () => {
      const store = create();
      const orders = sampleRecord({ idempotencyKey: "shared-key" });
      const payments = sampleRecord({ idempotencyKey: "shared-key", principal: "payments" });
      expect(await store.claim(orders)).toEqual({ claimed: true });
      expect(await store.claim(payments)).toEqual({ claimed: true });
    });

    it("gives exactly one winner among concurrent claims of one key", async () => {
      const store = create();
      const base = sampleRecord();
      const results = await Promise.all(
        [1, 2, 3, 4, 5].map((i) => store.claim({ ...base, requestId: `${base.requestId}-${i}` })),
      );
      expect(results.filter((r) => r.claimed)).toHaveLength(1);
    });

    it("marks published once; the first time stays", async () => {
      const store = create();
      const record = sampleRecord();
      await store.claim(record);
      const at = new Date("2026-03-01T10:00:01.000Z");
      await store.markPublished(record.principal, record.idempotencyKey, at);
      await store.markPublished(record.principal, record.idempotencyKey, new Date());
      const found = await store.findByRequestId(record.principal, record.requestId);
      expect(found).toEqual({ ...record, publishedAt: at });
      const claim = await store.claim(record);
      expect(claim).toEqual({ claimed: false, existing: { ...record, publishedAt: at } });
    });

    it("finds a request id only within its principal", async () => {
      const store = create();
      const record = sampleRecord();
      await store.claim(record);
      expect(await store.findByRequestId("orders", record.requestId)).toEqual(record);
      expect(await store.findByRequestId("payments", record.requestId)).toBeUndefined();
      expect(await store.findByRequestId("orders", "no-such-request")).toBeUndefined();
    });

    it("honours a key for the retention from its acceptance, then lets a new request take it", async () => {
      const store = createWith({ retentionMs: 60_000 });
      const first = sampleRecord();
      const at = (ms: number) => new Date(first.acceptedAt.getTime() + ms);
      await store.claim(first);
      const within = sampleRecord({ idempotencyKey: first.idempotencyKey, acceptedAt: at(59_999) });
      expect(await store.claim(within)).toEqual({ claimed: false, existing: first });
      const after = sampleRecord({ idempotencyKey: first.idempotencyKey, acceptedAt: at(60_000) });
      expect(await store.claim(after)).toEqual({ claimed: true });
      const later = sampleRecord({ idempotencyKey: first.idempotencyKey, acceptedAt: at(60_001) });
      expect(await store.claim(later)).toEqual({ claimed: false, existing: after });
    });

    it("gives exactly one winner among concurrent claims of an expired key", async () => {
      const store = createWith({ retentionMs: 60_000 });
      const first = sampleRecord();
      await store.claim(first);
      const acceptedAt = new Date(first.acceptedAt.getTime() + 120_000);
      const results = await Promise.all(
        [1, 2, 3, 4].map(() =>
          store.claim(sampleRecord({ idempotencyKey: first.idempotencyKey, acceptedAt })),
        ),
      );
      expect(results.filter((r) => r.claimed)).toHaveLength(1);
      const holders = new Set(results.flatMap((r) => (r.claimed ? [] : [r.existing.requestId])));
      expect(holders.size).toBe(1);
      expect(holders.has(first.requestId)).toBe(false);
    });

    it("no longer finds a request id past the retention", async () => {
      let now = new Date("2026-03-01T10:00:30.000Z");
      const store = createWith({ retentionMs: 60_000, clock: () => now });
      const record = sampleRecord();
      await store.claim(record);
      expect(await store.findByRequestId(record.principal, record.requestId)).toEqual(record);
      now = new Date("2026-03-01T10:01:00.000Z");
      expect(await store.findByRequestId(record.principal, record.requestId)).toBeUndefined();
    });
  });
}
