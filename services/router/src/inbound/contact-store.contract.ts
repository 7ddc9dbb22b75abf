import { createEvent, type AnyEvent } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { evolve, initialState, type ContactState } from "./decide.js";
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
  const load = async (store: ContactStore, id: string) => {
    const found = (await store.loadMany([id])).get(id);
    if (found instanceof Error) throw found;
    return found;
  };
  const save = async (
    store: ContactStore,
    contactId: string,
    { state, outbox }: { state: ContactState; outbox: readonly AnyEvent[] },
    expectedVersion: number,
  ) => !(await store.saveMany([{ contactId, state, outbox, expectedVersion }])).has(contactId);
  let n = 0;
  const fresh = () =>
    `1650555${String(++n).padStart(4, "0")}-${Math.random().toString(36).slice(2)}`;

  describe(`ContactStore contract: ${name}`, () => {
    it("loads nothing for an unknown contact", async () => {
      expect(await load(makeStore(), fresh())).toBeUndefined();
    });

    it("saves version 1 from 0, and keeps state and outbox as given", async () => {
      const store = makeStore();
      const id = fresh();
      const event = inbound(id, "w.1");
      const state = evolve(initialState(id), event);
      expect(await save(store, id, { state, outbox: [event] }, 0)).toBe(true);
      const loaded = await load(store, id);
      expect(loaded?.version).toBe(1);
      expect(loaded?.state).toEqual(state);
      expect(loaded?.outbox).toEqual([event]);
    });

    it("refuses a second first write and a write with a stale version", async () => {
      const store = makeStore();
      const id = fresh();
      const state = initialState(id);
      expect(await save(store, id, { state, outbox: [] }, 0)).toBe(true);
      expect(await save(store, id, { state, outbox: [] }, 0)).toBe(false);
      expect(await save(store, id, { state, outbox: [] }, 1)).toBe(true);
      expect(await save(store, id, { state, outbox: [] }, 1)).toBe(false);
      expect((await load(store, id))?.version).toBe(2);
    });

    it("clears the outbox only at the version it was written with", async () => {
      const store = makeStore();
      const id = fresh();
      const [first, second] = [inbound(id, "w.1"), inbound(id, "w.2")];
      await save(store, id, { state: initialState(id), outbox: [first] }, 0);
      await save(store, id, { state: initialState(id), outbox: [second] }, 1);
      // The first writer's clear arrives after a second write: the second outbox stays.
      await store.clearOutboxes([{ contactId: id, version: 1 }]);
      expect((await load(store, id))?.outbox).toEqual([second]);
      await store.clearOutboxes([{ contactId: id, version: 2 }]);
      expect((await load(store, id))?.outbox).toEqual([]);
      expect((await load(store, id))?.version).toBe(2);
      // A late clear of an older version does not bring the outbox back, and a new write
      // brings its own.
      await store.clearOutboxes([{ contactId: id, version: 1 }]);
      expect((await load(store, id))?.outbox).toEqual([]);
      await save(store, id, { state: initialState(id), outbox: [first] }, 2);
      expect((await load(store, id))?.outbox).toEqual([first]);
    });

    it("takes many contacts per call: loads those that exist, and refuses only the stale writes", async () => {
      const store = makeStore();
      const [a, b, c, d] = [fresh(), fresh(), fresh(), fresh()];
      const [ea, ec] = [inbound(a, "w.a"), inbound(c, "w.c")];
      await save(store, a, { state: initialState(a), outbox: [] }, 0);
      await save(store, b, { state: initialState(b), outbox: [] }, 0);
      const found = await store.loadMany([a, b, c]);
      expect([...found.keys()].sort()).toEqual([a, b].sort());
      const lost = await store.saveMany([
        { contactId: a, state: initialState(a), outbox: [ea], expectedVersion: 1 },
        { contactId: b, state: initialState(b), outbox: [], expectedVersion: 0 },
        { contactId: c, state: initialState(c), outbox: [ec], expectedVersion: 0 },
        { contactId: d, state: initialState(d), outbox: [], expectedVersion: 3 },
      ]);
      expect([...lost].sort()).toEqual([b, d].sort());
      expect((await load(store, a))?.version).toBe(2);
      expect((await load(store, b))?.version).toBe(1);
      expect((await load(store, c))?.outbox).toEqual([ec]);
      await store.clearOutboxes([
        { contactId: a, version: 2 },
        { contactId: c, version: 1 },
      ]);
      expect((await load(store, a))?.outbox).toEqual([]);
      expect((await load(store, c))?.outbox).toEqual([]);
      expect(await store.loadMany([])).toEqual(new Map());
    });
  });
}
