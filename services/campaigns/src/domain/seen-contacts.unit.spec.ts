import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSeenContacts } from "./seen-contacts.js";

const id = fc.oneof(
  // Phone contact ids, many alike (collisions, growth), and the longest E.164 numbers.
  fc.integer({ min: 1, max: 5_000 }).map((n) => `34612${String(n).padStart(6, "0")}`),
  fc.stringMatching(/^[1-9]\d{0,14}$/),
  fc.constantFrom("999999999999999", "100000000000000", "1"),
  // Not phone ids: leading zero, 16 digits (not exact as a double), BSUIDs, anything.
  fc.stringMatching(/^0\d{0,14}$/),
  fc.stringMatching(/^[1-9]\d{15,20}$/),
  fc.constantFrom("US.13491208655302741918", "BR.abc", ""),
  fc.string(),
);

describe("the seen contacts", () => {
  it("property: answers as a Set of the same ids, through growth, for any id", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), id), { maxLength: 3_000 }), (ops) => {
        const seen = createSeenContacts(16);
        const model = new Set<string>();
        for (const [add, contactId] of ops) {
          expect(seen.has(contactId)).toBe(model.has(contactId));
          if (add) {
            seen.add(contactId);
            model.add(contactId);
          }
        }
        expect(seen.size).toBe(model.size);
      }),
      { numRuns: 50 },
    );
  });

  it("keeps 500,000 phone contacts in a few MB of slots, each found, none invented", () => {
    const seen = createSeenContacts();
    for (let i = 0; i < 500_000; i++) seen.add(String(34_600_000_000 + i * 7));
    expect(seen.size).toBe(500_000);
    for (let i = 0; i < 500_000; i += 997) {
      expect(seen.has(String(34_600_000_000 + i * 7))).toBe(true);
      expect(seen.has(String(34_600_000_000 + i * 7 + 1))).toBe(false);
    }
  });
});
