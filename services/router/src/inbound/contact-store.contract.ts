import { createEvent } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { evolve, initialState } from "./decide.js";
import type { ContactStore } from "./handler.js";

/**
 * The ContactStore contract (conventions 8): the same suite runs against the in-memory fake
 * (unit) and the MongoDB adapter (integration), so the handler's unit tests can trust the fake.
 */
export function contactStoreContract(name: string, makeStore: () => ContactStore): void {
  const now = new Date("2026-03-01T10:00:00.000Z");
  const inbound = (contactId: string, wamid: string) =>
    createEvent(
      "InboundMessageReceived",
      {
        contactId,
        wamid,
        contact: { waId: contactId },
        origin: { deliveryId: "d", wabaId: "w" },
        message: { type: "text", text: { body: "hi" } },
      },
      { correlationId: "d", businessNumber: "1", now },
    );
  let n = 0;
  const fresh = () =>
    `1650555${String(++n).padStart(4, "0")}-${Math.random().toString(36).slice(2)}`;

  describe(`ContactStore contract: ${name}`, () => {
    it("loads nothing for an unknown contact", async () => {
      expect(await makeStore().load(fresh())).toBeUndefined();
    });

    it("saves version 1 from 0, and keeps state and outbox as given", async () => {
      const store = makeStore();
      const id = fresh();
      const event = inbound(id, "w.1");
      const state = evolve(initialState(id), event);
      expect(await store.save(id, { state, outbox: [event] }, 0)).toBe(true);
      const loaded = await store.load(id);
      expect(loaded?.version).toBe(1);
      expect(loaded?.state).toEqual(state);
      expect(loaded?.outbox).toEqual([event]);
    });

    it("refuses a second first write and a write with a stale version", async () => {
      const store = makeStore();
      const id = fresh();
      const state = initialState(id);
      expect(await store.save(id, { state, outbox: [] }, 0)).toBe(true);
      expect(await store.save(id, { state, outbox: [] }, 0)).toBe(false);
      expect(await store.save(id, { state, outbox: [] }, 1)).toBe(true);
      expect(await store.save(id, { state, outbox: [] }, 1)).toBe(false);
      expect((await store.load(id))?.version).toBe(2);
    });

    it("clears the outbox only at the version it was written with", async () => {
      const store = makeStore();
      const id = fresh();
      const event = inbound(id, "w.1");
      await store.save(id, { state: initialState(id), outbox: [event] }, 0);
      await store.clearOutbox(id, 2);
      expect((await store.load(id))?.outbox).toEqual([event]);
      await store.clearOutbox(id, 1);
      expect((await store.load(id))?.outbox).toEqual([]);
      expect((await store.load(id))?.version).toBe(1);
    });
  });
}
