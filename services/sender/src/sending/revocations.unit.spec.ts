import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRevocationNotices } from "./revocations.js";

describe("revocation notices (what this sender's gates consumer applied lately)", () => {
  it("answers the last opt-out applied for a contact, never an older one", () => {
    let now = 1_000;
    const notices = createRevocationNotices({ now: () => now });
    expect(notices.lastFor("a")).toBeUndefined();
    notices.heard("a", 1_000);
    now = 1_500;
    notices.heard("a", 1_400);
    notices.heard("a", 1_200);
    expect(notices.lastFor("a")).toBe(1_400);
    expect(notices.lastFor("b")).toBeUndefined();
  });

  it("forgets a notice older than keepMs", () => {
    let now = 0;
    const notices = createRevocationNotices({ keepMs: 100, now: () => now });
    notices.heard("a", 0);
    now = 100;
    expect(notices.lastFor("a")).toBe(0);
    now = 101;
    expect(notices.lastFor("a")).toBeUndefined();
  });

  it("refuses settings that would keep nothing", () => {
    expect(() => createRevocationNotices({ keepMs: 0, now: () => 0 })).toThrow(RangeError);
    expect(() => createRevocationNotices({ maxEntries: 0, now: () => 0 })).toThrow(RangeError);
  });

  it("stays within maxEntries, whatever the contacts and times, and keeps the newest contacts' notices", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 50 })), {
          maxLength: 200,
        }),
        fc.integer({ min: 1, max: 10 }),
        (events, maxEntries) => {
          let now = 0;
          const notices = createRevocationNotices({ keepMs: 1_000, maxEntries, now: () => now });
          const heard: string[] = [];
          for (const [contact, step] of events) {
            now += step;
            notices.heard(`c${String(contact)}`, now);
            heard.push(`c${String(contact)}`);
          }
          const remembered = [...new Set(heard)].filter((c) => notices.lastFor(c) !== undefined);
          expect(remembered.length).toBeLessThanOrEqual(maxEntries);
          // The contact heard last is remembered whenever it is recent.
          const last = heard.at(-1);
          if (last !== undefined) expect(notices.lastFor(last)).toBe(now);
        },
      ),
    );
  });
});
