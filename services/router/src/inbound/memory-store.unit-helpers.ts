import { initialState } from "./decide.js";
import type { ContactStore, StoredContact } from "./handler.js";

/** The in-memory ContactStore: versions and outbox as MongoDB keeps them, plus fault hooks. */
export function memoryStore() {
  const docs = new Map<string, StoredContact>();
  const faults = { conflictsBeforeSave: 0 };
  const store: ContactStore = {
    load: (key) => Promise.resolve(docs.get(key)),
    save(key, { state, outbox }, expectedVersion) {
      if (faults.conflictsBeforeSave > 0) {
        faults.conflictsBeforeSave--;
        // Another writer won: its version is now ahead.
        const current = docs.get(key);
        docs.set(key, {
          state: current?.state ?? initialState(key),
          outbox: current?.outbox ?? [],
          version: (current?.version ?? 0) + 1,
        });
        return Promise.resolve(false);
      }
      if ((docs.get(key)?.version ?? 0) !== expectedVersion) return Promise.resolve(false);
      docs.set(key, {
        state,
        outbox: [...outbox],
        version: expectedVersion + 1,
      });
      return Promise.resolve(true);
    },
    clearOutbox(key, version) {
      const doc = docs.get(key);
      if (doc?.version === version) docs.set(key, { ...doc, outbox: [] });
      return Promise.resolve();
    },
  };
  return { store, docs, faults };
}
