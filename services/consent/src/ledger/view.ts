import {
  decidingEntry,
  purposes,
  type ConsentEntry,
  type LedgerState,
  type Purpose,
} from "./evolve.js";

/** Where one purpose stands for a contact at `now`. */
export interface PurposeView {
  readonly purpose: Purpose;
  /** none: nothing recorded; expired: granted with an expiresAt now past. */
  readonly status: "granted" | "revoked" | "expired" | "none";
  /** The entry that decides it (its event id), when there is one. */
  readonly eventId?: string;
  readonly since?: string;
  readonly expiresAt?: string;
  readonly channel?: ConsentEntry["data"]["channel"];
  readonly source?: ConsentEntry["data"]["source"];
}

export interface ContactView {
  readonly contactId: string;
  readonly erased: boolean;
  readonly purposes: readonly PurposeView[];
  readonly entries: number;
}

/** The current state of every purpose; a time-limited opt-in reads as expired once past. */
export function currentView(state: LedgerState, now: Date): ContactView {
  return {
    contactId: state.contactId,
    erased: state.erasedKeyIds !== undefined,
    entries: state.sequence,
    purposes: purposes.map((purpose): PurposeView => {
      const entry = decidingEntry(state, purpose);
      if (entry === undefined) return { purpose, status: "none" };
      const expiresAt = entry.type === "ConsentGranted" ? entry.expiresAt : undefined;
      const status =
        entry.type === "ConsentRevoked"
          ? "revoked"
          : expiresAt !== undefined && Date.parse(expiresAt) <= now.getTime()
            ? "expired"
            : "granted";
      return {
        purpose,
        status,
        eventId: entry.eventId,
        since: entry.occurredAt,
        ...(expiresAt === undefined ? {} : { expiresAt }),
        channel: entry.channel,
        source: entry.source,
      };
    }),
  };
}
