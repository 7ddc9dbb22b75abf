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

/** Port: reads ledgers for the API, the export and the decisions' context (read-only). */
export interface LedgerReader {
  /** The contact's head (current state per purpose, chain head, sequence). */
  get(contactId: string): Promise<LedgerState | undefined>;
  /** The head's entries in sequence order, a page at a time (never the whole ledger in memory). */
  entries(head: LedgerState): AsyncIterable<LedgerEntry>;
  /** Which of these event ids are stored as entries (one round trip). */
  recorded(eventIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** Every head, in contact id order, a page at a time. */
  scan(): AsyncIterable<LedgerState>;
}

/** A send decided under a consent entry (from send-outcomes): what went to whom under which consent. */
export interface SendRecord {
  readonly requestId: string;
  readonly contactId: string;
  readonly outcome: "accepted" | "rejected";
  /** The ledger entry the router's decision relied on (ConsentGranted or ConsentRevoked). */
  readonly consentEventId: string;
  readonly at: string;
  readonly wamid?: string;
  readonly reason?: string;
}

/** Port: the sends each contact's consent entries were relied on for. */
export interface SendLog {
  /** Idempotent by request id and outcome. */
  record(send: SendRecord): Promise<void>;
  /** Drops the contact's records (erasure). */
  forget(contactId: string): Promise<void>;
  /** A contact's sends, newest first, at most `limit`. */
  of(contactId: string, limit: number): Promise<readonly SendRecord[]>;
}
