import { createMemoryStateStore, type Stored } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import { initialState, type ContactState, type RouterEvent } from "./decide.js";
import type { ContactStore } from "./handler.js";

/**
 * The runtime's in-memory StateStore (its contract is run in @parley/testkit) with fault hooks
 * for the handler's specs: lost races, unreadable documents, documents the store refuses, an
 * unavailable server. `docs.get` shows a contact as a load would (a published outbox is empty).
 */
export function memoryStore() {
  const memory = createMemoryStateStore<ContactState, RouterEvent>();
  const faults = {
    conflictsBeforeSave: 0,
    unreadable: new Set<string>(),
    /** Contacts whose document the store can never take: a bulk write holding one fails whole. */
    poison: new Set<string>(),
    /** Every write fails as if the server were unavailable. */
    down: false,
  };
  const current = async (key: string) => {
    const found = (await memory.loadMany([key])).get(key);
    return found instanceof Error ? undefined : found;
  };
  const store: ContactStore = {
    async loadMany(keys) {
      const found = new Map(await memory.loadMany(keys));
      for (const key of keys) {
        if (faults.unreadable.has(key)) found.set(key, new Error("unreadable document"));
      }
      return found;
    },
    async saveMany(writes) {
      if (faults.down) throw new ParleyError("store unavailable", { retry: "outage" });
      if (writes.some((w) => faults.poison.has(w.key))) {
        throw new ParleyError("contact store save failed: document refused", { retry: "never" });
      }
      for (const { key } of writes) {
        if (faults.conflictsBeforeSave <= 0) break;
        faults.conflictsBeforeSave--;
        // Another writer wins first: its version is now ahead of the one this write read.
        const stored = await current(key);
        await memory.saveMany([
          {
            key,
            state: stored?.state ?? initialState(key),
            outbox: stored?.outbox ?? [],
            expectedVersion: stored?.version ?? 0,
          },
        ]);
      }
      return memory.saveMany(writes);
    },
    markPublished: (marks) => memory.markPublished(marks),
  };
  const docs = {
    get: (key: string): Stored<ContactState, RouterEvent> | undefined => {
      const record = memory.peek(key);
      if (record === undefined) return undefined;
      const published = record.publishedVersion >= record.version;
      return {
        state: record.state,
        version: record.version,
        outbox: published ? [] : record.outbox,
      };
    },
  };
  return { store, docs, faults, memory };
}
