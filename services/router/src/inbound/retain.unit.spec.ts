import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { retain, type ContactState, type Seen } from "./decide.js";

// retain runs on every decision over up to ROUTER_DEDUPE_MAX_IDS identities per kind; it
// compares canonical instants as text and keeps the very list when nothing goes (so the store
// writes only its new tail). Its result must be what the plain rule gives: identities at or after
// `now - ttl` (by their instant, whatever its form), the newest `maxIds`, open windows only.
const reference = (state: ContactState, now: Date, maxIds: number, ttlMs: number) => {
  const cutoff = now.getTime() - ttlMs;
  const keep = (list: readonly Seen[]) =>
    list.filter((s) => Date.parse(s.at) >= cutoff).slice(-maxIds);
  return {
    ...state,
    messages: keep(state.messages),
    statuses: keep(state.statuses),
    others: keep(state.others),
    windows: state.windows.filter((w) => Date.parse(w.expiresAt) > now.getTime()),
  };
};

const BASE = Date.UTC(2026, 11, 7, 12);
/** An instant near BASE in one of the forms a webhook's time may take, or not one at all. */
const instant = fc.tuple(fc.integer({ min: -40, max: 40 }), fc.nat({ max: 5 })).map(([h, form]) => {
  const t = new Date(BASE + h * 3_600_000 + (h % 7) * 1_000);
  const iso = t.toISOString();
  switch (form) {
    case 0:
    case 1:
      return iso; // canonical, as Date#toISOString writes
    case 2:
      return iso.replace(".000Z", "Z"); // no milliseconds
    case 3:
      return iso.replace("Z", "+00:00"); // an offset
    case 4:
      return `${iso.slice(0, 19)}+02:00`; // another offset
    default:
      return "not a time";
  }
});
const seen = fc.record({ id: fc.string({ maxLength: 6 }), at: instant });
const list = fc.array(seen, { maxLength: 30 });
const state = fc.record({
  contactId: fc.constant("15550001111"),
  messages: list,
  statuses: list,
  others: list,
  windows: fc.array(
    fc.record({ businessNumber: fc.string(), expiresAt: instant, lastMessage: fc.string() }),
    { maxLength: 3 },
  ),
});

describe("retain", () => {
  it("keeps exactly what the plain rule keeps, whatever form the instants take (property)", () => {
    fc.assert(
      fc.property(
        state,
        fc.integer({ min: -10, max: 10 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 30 }),
        (s, nowHours, maxIds, ttlHours) => {
          const now = new Date(BASE + nowHours * 3_600_000);
          expect(retain(s, now, { maxIds, ttlMs: ttlHours * 3_600_000 })).toEqual(
            reference(s, now, maxIds, ttlHours * 3_600_000),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("returns the very lists when nothing is forgotten (no copy for the store to compare)", () => {
    const now = new Date(BASE);
    const messages = [{ id: "a", at: new Date(BASE - 1_000).toISOString() }];
    const windows = [
      { businessNumber: "1", expiresAt: new Date(BASE + 1_000).toISOString(), lastMessage: "a" },
    ];
    const s: ContactState = { contactId: "1", messages, statuses: [], others: [], windows };
    const kept = retain(s, now, { maxIds: 10, ttlMs: 60_000 });
    expect(kept.messages).toBe(messages);
    expect(kept.windows).toBe(windows);
    expect(retain(s, now, { maxIds: 10, ttlMs: 10 }).messages).toEqual([]);
  });
});
