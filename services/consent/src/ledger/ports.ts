import type { StateStore } from "@parley/decider";
import type { DataKey } from "../crypto/keys.js";
import type { LedgerEntry, LedgerState } from "./evolve.js";

/** A contact's data key: usable, or destroyed by an erasure. */
export type KeyRecord =
  | { readonly status: "active"; readonly key: DataKey }
  | { readonly status: "destroyed"; readonly keyId: string; readonly destroyedAt: string };

/** Port: per-contact data keys, stored wrapped by a master key (MongoDB in production). */
export interface KeyStore {
  /** The contacts' key records; a contact with none is absent from the map. */
  get(contactIds: readonly string[]): Promise<ReadonlyMap<string, KeyRecord>>;
  /** New keys for the contacts (one round trip), or those another writer created first. */
  create(contactIds: readonly string[]): Promise<ReadonlyMap<string, KeyRecord>>;
  /** Destroys the contact's key; idempotent. Answers the destroyed key ids. */
  destroy(contactId: string, now: Date): Promise<readonly string[]>;
}

/** Port: each contact's ledger state and outbox. */
export type LedgerStore = StateStore<LedgerState, LedgerEntry>;

/** Port: reads ledgers for the API and the export (the same collection, read-only). */
export interface LedgerReader {
  get(contactId: string): Promise<LedgerState | undefined>;
  /** Every ledger, in contact id order, a page at a time. */
  scan(): AsyncIterable<LedgerState>;
}
