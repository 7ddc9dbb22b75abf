import type { EventOf } from "@parley/contracts";

/** The purposes a contact consents to; authentication is exempt (ADR 0012). */
export const purposes = ["marketing", "utility"] as const;
export type Purpose = (typeof purposes)[number];

export type ConsentEntry = EventOf<"ConsentGranted"> | EventOf<"ConsentRevoked">;
/** One entry of a contact's ledger, as published on the consent topic. */
export type LedgerEntry = ConsentEntry | EventOf<"ContactErased">;

/** One contact's ledger: every entry in order, and whether the contact was erased. */
export interface LedgerState {
  readonly contactId: string;
  readonly entries: readonly LedgerEntry[];
  /** The key ids destroyed by an erasure; undefined while the contact is not erased. */
  readonly erasedKeyIds?: readonly string[];
}

export const initialState = (contactId: string): LedgerState => ({ contactId, entries: [] });

/** Every entry is appended; an erasure also marks the contact. */
export function evolve(state: LedgerState, event: LedgerEntry): LedgerState {
  const entries = [...state.entries, event];
  if (event.type === "ContactErased") {
    return { ...state, entries, erasedKeyIds: event.data.keyIds };
  }
  return { ...state, entries };
}

/** The purpose an entry is about (router-era events without purpose: scope all is utility). */
export const purposeOf = (entry: ConsentEntry): Purpose =>
  entry.data.purpose ?? (entry.data.scope === "marketing" ? "marketing" : "utility");

/**
 * The entry that decides a purpose: the latest by `occurredAt` among entries not superseded, a
 * revocation winning a tie. Undefined: nothing recorded for the purpose.
 */
export function decidingEntry(state: LedgerState, purpose: Purpose): ConsentEntry | undefined {
  let best: ConsentEntry | undefined;
  for (const entry of state.entries) {
    if (entry.type === "ContactErased") continue;
    if (purposeOf(entry) !== purpose || entry.data.reason === "superseded") continue;
    if (best === undefined || outranks(entry, best)) best = entry;
  }
  return best;
}

/** Whether `a` decides over `b`: later, or as late and a revocation. */
export function outranks(a: ConsentEntry, b: ConsentEntry): boolean {
  const at = Date.parse(a.occurredAt);
  const bt = Date.parse(b.occurredAt);
  if (at !== bt) return at > bt;
  return a.type === "ConsentRevoked" && b.type === "ConsentGranted";
}

/** The input ids already recorded (a repeated input decides nothing). */
export const hasInput = (state: LedgerState, inputId: string): boolean =>
  state.entries.some((e) => e.type !== "ContactErased" && e.data.inputId === inputId);
