/**
 * What this process's gates consumer has applied lately: the last opt-out per contact, so that a
 * dispatch about to call Graph can tell whether its gate view predates one (ADR 0006, "A
 * revocation heard before the call"). In memory and bounded: entries older than `keepMs` are
 * forgotten, and beyond `maxEntries` the oldest go first. A contact forgotten, or one whose
 * consent partition another sender instance owns, falls back on the view's age
 * (SENDER_GATE_RECHECK_AFTER_MS).
 */
export interface RevocationNotices {
  /** The gates consumer applied an opt-out for `contactId` (written to the gate store) at `at`. */
  heard(contactId: string, at: number): void;
  /** When this process last applied an opt-out for the contact, if it still remembers. */
  lastFor(contactId: string): number | undefined;
}

export interface RevocationNoticesOptions {
  readonly keepMs?: number;
  readonly maxEntries?: number;
  readonly now: () => number;
}

export function createRevocationNotices({
  keepMs = 60_000,
  maxEntries = 100_000,
  now,
}: RevocationNoticesOptions): RevocationNotices {
  if (!(keepMs > 0) || !Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(
      `createRevocationNotices: keepMs must be > 0 and maxEntries a positive integer, got ${String(keepMs)} and ${String(maxEntries)}`,
    );
  }
  // Insertion order is age order: a contact heard again moves to the end.
  const last = new Map<string, number>();
  const forgetOld = (t: number): void => {
    for (const [contactId, at] of last) {
      if (t - at <= keepMs && last.size <= maxEntries) break;
      last.delete(contactId);
    }
  };
  return {
    heard(contactId, at) {
      const before = last.get(contactId);
      last.delete(contactId);
      last.set(contactId, before === undefined ? at : Math.max(at, before));
      forgetOld(now());
    },
    lastFor(contactId) {
      const at = last.get(contactId);
      return at === undefined || now() - at > keepMs ? undefined : at;
    },
  };
}
