import type { EventOf } from "@parley/contracts";

/** The purposes a contact consents to; authentication is exempt (ADR 0012). */
export const purposes = ["marketing", "utility"] as const;
export type Purpose = (typeof purposes)[number];

export type ConsentEntry = EventOf<"ConsentGranted"> | EventOf<"ConsentRevoked">;
/** One entry of a contact's ledger, as published on the consent topic. */
export type LedgerEntry = ConsentEntry | EventOf<"ContactErased">;

/**
 * One contact's ledger head (ADR 0012, amendment of 2026-12-07): what deciding the next input
 * needs, not the entries themselves, which live one document each beside it (so a row costs an
 * insert and a small head update whatever the ledger's length).
 */
export interface LedgerState {
  readonly contactId: string;
  /** The sequence of the latest entry (0: none), which is also the number of entries. */
  readonly sequence: number;
  /** The hash of the latest entry: the next entry's `previousHash`. */
  readonly headHash: string | null;
  /**
   * What deciding each purpose needs of its deciding entry (the latest not superseded, a
   * revocation winning a tie): its type, id, time, channel, source and expiry, not the whole
   * entry (which is in the entry collection), so a head stays small.
   */
  readonly deciding: Readonly<Partial<Record<Purpose, DecidingRef>>>;
  /** The key ids destroyed by an erasure; undefined while the contact is not erased. */
  readonly erasedKeyIds?: readonly string[];
  /**
   * Entries decided since the head was read (on a load: the last write's outbox), so an input
   * repeated before its entries are readable beside the head is recognised. Not stored.
   */
  readonly recent: readonly LedgerEntry[];
}

/** The head's summary of the entry deciding a purpose (ADR 0012, amendment "the import's batches"). */
export interface DecidingRef {
  readonly type: ConsentEntry["type"];
  readonly eventId: string;
  readonly occurredAt: string;
  readonly channel: ConsentEntry["data"]["channel"];
  readonly source: ConsentEntry["data"]["source"];
  readonly expiresAt?: string;
}

export const decidingRefOf = (entry: ConsentEntry): DecidingRef => ({
  type: entry.type,
  eventId: entry.eventId,
  occurredAt: entry.occurredAt,
  channel: entry.data.channel,
  source: entry.data.source,
  ...(entry.type === "ConsentGranted" && entry.data.expiresAt !== undefined
    ? { expiresAt: entry.data.expiresAt }
    : {}),
});

export const initialState = (contactId: string): LedgerState => ({
  contactId,
  sequence: 0,
  headHash: null,
  deciding: {},
  recent: [],
});

/** The purpose an entry is about (router-era events without purpose: scope all is utility). */
export const purposeOf = (entry: ConsentEntry): Purpose =>
  entry.data.purpose ?? (entry.data.scope === "marketing" ? "marketing" : "utility");

/** Whether `a` decides over `b`: later, or as late and a revocation. */
export function outranks(
  a: Pick<ConsentEntry, "type" | "occurredAt">,
  b: Pick<ConsentEntry, "type" | "occurredAt">,
): boolean {
  const at = Date.parse(a.occurredAt);
  const bt = Date.parse(b.occurredAt);
  if (at !== bt) return at > bt;
  return a.type === "ConsentRevoked" && b.type === "ConsentGranted";
}

/** Every entry moves the head; one not superseded that outranks the deciding entry decides. */
export function evolve(state: LedgerState, event: LedgerEntry): LedgerState {
  const link = event.data.ledger;
  const moved = {
    ...state,
    sequence: link?.sequence ?? state.sequence + 1,
    headHash: link?.hash ?? state.headHash,
    recent: [...state.recent, event],
  };
  if (event.type === "ContactErased") return { ...moved, erasedKeyIds: event.data.keyIds };
  if (event.data.reason === "superseded") return moved;
  const purpose = purposeOf(event);
  const current = state.deciding[purpose];
  if (current !== undefined && !outranks(event, current)) return moved;
  return { ...moved, deciding: { ...state.deciding, [purpose]: decidingRefOf(event) } };
}

/** A head from a whole ledger (entries in order), e.g. one stored before the amendment. */
export const stateOfEntries = (
  contactId: string,
  entries: readonly LedgerEntry[],
): LedgerState => ({
  ...entries.reduce(evolve, initialState(contactId)),
  recent: [],
});

/**
 * The entry that decides a purpose: the latest by `occurredAt` among entries not superseded, a
 * revocation winning a tie. Undefined: nothing recorded for the purpose.
 */
export const decidingEntry = (state: LedgerState, purpose: Purpose): DecidingRef | undefined =>
  state.deciding[purpose];

/** Whether an input was decided since the head was read (the store answers for older ones). */
export const hasInput = (state: LedgerState, inputId: string): boolean =>
  state.recent.some((e) => e.type !== "ContactErased" && e.data.inputId === inputId);
