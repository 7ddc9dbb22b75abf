import { ParleyError } from "@parley/errors";
import { initialState } from "./decide.js";
import type { ContactStore, StoredContact } from "./handler.js";

/** The in-memory ContactStore: versions and outbox as MongoDB keeps them, plus fault hooks. */
export function memoryStore() {
  const docs = new Map<string, StoredContact>();
  const faults = {
    conflictsBeforeSave: 0,
    unreadable: new Set<string>(),
    /** Contacts whose document the store can never take: a bulk write holding one fails whole. */
    poison: new Set<string>(),
    /** Every write fails as if the server were unavailable. */
    down: false,
  };
  const store: ContactStore = {
    loadMany(ids) {
      const found = new Map<string, StoredContact | Error>();
      for (const id of ids) {
        const doc = docs.get(id);
        if (faults.unreadable.has(id)) found.set(id, new Error("unreadable document"));
        else if (doc !== undefined) found.set(id, doc);
      }
      return Promise.resolve(found);
    },
    saveMany(writes) {
      if (faults.down) {
        return Promise.reject(new ParleyError("store unavailable", { retry: "outage" }));
      }
      if (writes.some((w) => faults.poison.has(w.contactId))) {
        return Promise.reject(
          new ParleyError("contact store save failed: document refused", { retry: "never" }),
        );
      }
      const conflicts = new Set<string>();
      for (const { contactId, state, outbox, expectedVersion } of writes) {
        const current = docs.get(contactId);
        if (faults.conflictsBeforeSave > 0) {
          faults.conflictsBeforeSave--;
          // Another writer won: its version is now ahead.
          docs.set(contactId, {
            state: current?.state ?? initialState(contactId),
            outbox: current?.outbox ?? [],
            version: (current?.version ?? 0) + 1,
          });
          conflicts.add(contactId);
          continue;
        }
        if ((current?.version ?? 0) !== expectedVersion) {
          conflicts.add(contactId);
          continue;
        }
        docs.set(contactId, { state, outbox: [...outbox], version: expectedVersion + 1 });
      }
      return Promise.resolve(conflicts);
    },
    clearOutboxes(cleared) {
      for (const { contactId, version } of cleared) {
        const doc = docs.get(contactId);
        if (doc?.version === version) docs.set(contactId, { ...doc, outbox: [] });
      }
      return Promise.resolve();
    },
  };
  return { store, docs, faults };
}
