import { canonicalJson } from "@parley/contracts";
import type { LedgerState } from "./evolve.js";

/**
 * The text an entry's `ledger.hash` is the sha-256 of: the canonical JSON of its type, id,
 * `occurredAt` and data, with `ledger.hash` itself left out (ADR 0012). The decider, the store
 * and the verifier all hash this same text.
 */
export function ledgerBody(entry: {
  readonly type: string;
  readonly eventId: string;
  readonly occurredAt: string;
  readonly data: unknown;
}): string {
  const data = entry.data as { readonly ledger?: { readonly hash?: unknown } };
  const ledger =
    data.ledger === undefined
      ? undefined
      : Object.fromEntries(Object.entries(data.ledger).filter(([k]) => k !== "hash"));
  return canonicalJson({
    type: entry.type,
    eventId: entry.eventId,
    occurredAt: entry.occurredAt,
    data: { ...(entry.data as object), ...(ledger === undefined ? {} : { ledger }) },
  });
}

/** The hash of the contact's latest entry, and the next sequence number. */
export function chainHead(state: LedgerState): {
  readonly sequence: number;
  readonly previousHash: string | null;
} {
  return { sequence: state.sequence + 1, previousHash: state.headHash };
}
