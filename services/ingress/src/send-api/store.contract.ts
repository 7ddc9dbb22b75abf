import { describe, expect, it } from "vitest";
import type { SendRecord, SendRecordStore } from "./store.js";

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
export function describeSendRecordStore(name: string, create: () => SendRecordStore): void {
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
  });
}
