import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseParams } from "../queries/params.js";
import {
  audienceParams,
  consentOf,
  createAudienceQueries,
  type AudienceContact,
  type AudienceMember,
  type AudienceParams,
  type AudienceStore,
} from "./audience.js";

const AT = "2026-12-01T00:00:00.000Z";
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Valid values of each parameter, and hostile ones (each refused, naming that parameter). */
const valid: Record<string, fc.Arbitrary<string>> = {
  marketing: fc.constantFrom("granted", "revoked", "unknown"),
  utility: fc.constantFrom("granted", "revoked", "unknown"),
  country: fc
    .uniqueArray(fc.constantFrom("BR", "IN", "DE", "US", "GB", "NG"), { minLength: 1 })
    .map((a) => a.join(",")),
  callingCode: fc
    .uniqueArray(fc.constantFrom("1", "44", "49", "55", "91", "234"), { minLength: 1 })
    .map((a) => a.join(",")),
  lastInboundWithinDays: fc.integer({ min: 1, max: 3650 }).map(String),
  firstSeenFrom: fc.constant("2026-01-01T00:00:00Z"),
  firstSeenTo: fc.constant("2026-06-01T00:00:00.000+02:00"),
  at: fc.constant(AT),
  limit: fc.integer({ min: 1, max: 1000 }).map(String),
  cursor: fc.constantFrom("MTU1NTAwMDAwMDE", "YQ"),
  generation: fc.integer({ min: 1, max: 1_000_000 }).map(String),
};
const hostile: Record<string, fc.Arbitrary<unknown>> = {
  marketing: fc.constantFrom("yes", "GRANTED", "", '{"$ne":1}'),
  utility: fc.constantFrom("opted_in", " granted"),
  country: fc.constantFrom("br", "BRA", "BR,", ",", "BR;DE", Array(251).fill("BR").join(",")),
  callingCode: fc.constantFrom("0", "1234", "+55", "55,,91", "x"),
  lastInboundWithinDays: fc.constantFrom("0", "3651", "1.5", "-3", "thirty"),
  firstSeenFrom: fc.constantFrom("yesterday", "2026-13-01T00:00:00Z"),
  firstSeenTo: fc.constantFrom("2026-02-30T00:00:00Z", "soon"),
  at: fc.constantFrom("now", "2026-02-30T00:00:00Z"),
  limit: fc.constantFrom("0", "1001", "many"),
  cursor: fc.constantFrom("!!", "", "a b", "x".repeat(2_049)),
  generation: fc.constantFrom("0", "-1", "g1"),
  $where: fc.constant("1"),
  consent: fc.constant("granted"),
};

describe("audience parameters (property)", () => {
  it("any mix of valid and hostile parameters: accepted when all are valid, else a 400 naming exactly the hostile ones", () => {
    const names = Object.keys(hostile);
    fc.assert(
      fc.property(
        fc.subarray(names),
        fc.subarray(names),
        fc.constantFrom("repeat", "plain"),
        fc.gen(),
        (given, bad, repeatMode, g) => {
          const query: Record<string, unknown> = {};
          const hostileNames = new Set<string>();
          for (const name of given) {
            const isBad = bad.includes(name) || valid[name] === undefined;
            const v = valid[name];
            if (isBad) {
              query[name] = g(() => hostile[name] ?? fc.constant("x"));
              hostileNames.add(name);
            } else if (v !== undefined) query[name] = g(() => v);
          }
          // A repeated parameter (?a=1&a=2 arrives as an array) is refused too.
          const firstValid = given.find((n) => !hostileNames.has(n));
          if (repeatMode === "repeat" && firstValid !== undefined) {
            query[firstValid] = [query[firstValid], query[firstValid]];
            // Repeats are refused first, before any value is read: they alone are named.
            hostileNames.clear();
            hostileNames.add(firstValid);
          }
          const parsed = parseParams(audienceParams, query);
          if (hostileNames.size === 0) {
            expect(parsed.ok).toBe(true);
            return;
          }
          expect(parsed.ok).toBe(false);
          if (parsed.ok) return;
          expect(new Set(parsed.problems.map((p) => p.parameter))).toEqual(hostileNames);
          for (const p of parsed.problems) expect(p.detail.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("firstSeenTo not after firstSeenFrom is refused naming firstSeenTo", () => {
    const parsed = parseParams(audienceParams, {
      firstSeenFrom: "2026-06-01T00:00:00Z",
      firstSeenTo: "2026-01-01T00:00:00Z",
    });
    expect(parsed).toEqual({
      ok: false,
      problems: [{ parameter: "firstSeenTo", detail: "must be after firstSeenFrom" }],
    });
  });
});

const contact = fc.record({
  _id: fc.oneof(fc.stringMatching(/^(1|44|49|55|91|234)\d{8,10}$/), fc.constant("US.BSUID123")),
  country: fc.option(fc.constantFrom("BR", "IN", "DE", "US", "GB"), { nil: undefined }),
  consent: fc.array(
    fc.record({
      scope: fc.constantFrom("all" as const, "marketing" as const),
      state: fc.constantFrom("granted" as const, "revoked" as const),
      at: fc.integer({ min: 0, max: 5 }).map((d) => iso(Date.parse(AT) - d * DAY)),
    }),
    { maxLength: 3 },
  ),
  lastInboundDaysAgo: fc.option(fc.integer({ min: -1, max: 60 }), { nil: undefined }),
  firstSeenDaysAgo: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
  erased: fc.boolean(),
});
type Gen = typeof contact extends fc.Arbitrary<infer T> ? T : never;

const stored = (c: Gen): AudienceContact => ({
  _id: c._id,
  contactId: c._id,
  ...(c.country === undefined ? {} : { country: c.country }),
  consent: c.consent.map((f, i) => ({
    ...f,
    eventId: `e${String(i)}`,
    channel: "whatsapp",
    source: "api",
  })),
  ...(c.lastInboundDaysAgo === undefined
    ? {}
    : { lastInboundAt: iso(Date.parse(AT) - c.lastInboundDaysAgo * DAY) }),
  ...(c.firstSeenDaysAgo === undefined
    ? {}
    : { firstSeenAt: iso(Date.parse(AT) - c.firstSeenDaysAgo * DAY) }),
  ...(c.erased ? { erased: true } : {}),
});

/** The store as MongoDB answers it, without its narrowing (the use case decides everything). */
const memoryStore = (all: readonly AudienceContact[]): AudienceStore => ({
  scan: (_g, _p, after, limit) =>
    Promise.resolve(
      [...all]
        .sort((a, b) => (a._id < b._id ? -1 : 1))
        .filter((c) => after === undefined || c._id > after)
        .slice(0, limit),
    ),
});

/** The oracle: consent written out plainly (latest by time, a revocation wins a tie). */
const oracleConsent = (c: Gen, purpose: "marketing" | "utility") => {
  const facts = c.consent
    .filter((f) => f.scope === "all" || purpose === "marketing")
    .sort((a, b) => (a.at === b.at ? (a.state === "revoked" ? 1 : -1) : a.at < b.at ? -1 : 1));
  return facts.at(-1)?.state ?? "unknown";
};

describe("the audience query (property)", () => {
  it("pages of any size, read to the end, give exactly the contacts the query describes, each once, in id order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(contact, { selector: (c) => c._id, maxLength: 40 }),
        fc.record({
          marketing: fc.option(fc.constantFrom("granted", "revoked", "unknown"), {
            nil: undefined,
          }),
          country: fc.option(fc.constantFrom(["BR"], ["IN", "DE"]), { nil: undefined }),
          callingCode: fc.option(fc.constantFrom(["55"], ["91", "49"]), { nil: undefined }),
          lastInboundWithinDays: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
          firstSeenFromDaysAgo: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
        }),
        fc.integer({ min: 1, max: 7 }),
        async (contacts, q, limit) => {
          const p = {
            ...(q.marketing === undefined ? {} : { marketing: q.marketing }),
            ...(q.country === undefined ? {} : { country: q.country }),
            ...(q.callingCode === undefined ? {} : { callingCode: q.callingCode }),
            ...(q.lastInboundWithinDays === undefined
              ? {}
              : { lastInboundWithinDays: q.lastInboundWithinDays }),
            ...(q.firstSeenFromDaysAgo === undefined
              ? {}
              : { firstSeenFrom: iso(Date.parse(AT) - q.firstSeenFromDaysAgo * DAY) }),
            limit,
          } as unknown as AudienceParams;
          const audience = createAudienceQueries({
            store: memoryStore(contacts.map(stored)),
            active: () => 1,
            exists: () => Promise.resolve(true),
            now: () => Date.parse(AT),
          });
          const got: AudienceMember[] = [];
          let cursor: string | undefined;
          for (let i = 0; i < 100; i++) {
            const parsed = parseParams(audienceParams, {
              limit: String(limit),
              ...(cursor === undefined ? {} : { cursor }),
            });
            if (!parsed.ok) throw new Error("cursor refused");
            const page = await audience.page({ ...p, ...parsed.value, limit });
            if (page === undefined) throw new Error("no page");
            expect(page.at).toBe(AT);
            got.push(...page.items);
            if (page.next === undefined) break;
            cursor = page.next;
          }
          const expected = contacts
            .filter((c) => !c.erased)
            .filter(
              (c) => q.marketing === undefined || oracleConsent(c, "marketing") === q.marketing,
            )
            .filter(
              (c) =>
                q.country === undefined ||
                (q.country as readonly string[]).includes(c.country ?? "-"),
            )
            .filter(
              (c) =>
                q.callingCode === undefined ||
                (/^\d+$/.test(c._id) && q.callingCode.some((k) => c._id.startsWith(k))),
            )
            .filter(
              (c) =>
                q.lastInboundWithinDays === undefined ||
                (c.lastInboundDaysAgo !== undefined &&
                  c.lastInboundDaysAgo >= 0 &&
                  c.lastInboundDaysAgo <= q.lastInboundWithinDays),
            )
            .filter(
              (c) =>
                q.firstSeenFromDaysAgo === undefined ||
                (c.firstSeenDaysAgo !== undefined && c.firstSeenDaysAgo <= q.firstSeenFromDaysAgo),
            )
            .map((c) => c._id)
            .sort();
          expect(got.map((m) => m.contactId)).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("Meta's later marketing stop revokes marketing; a later opt-in grants it again", () => {
    const base = { consent: [] as AudienceContact["consent"] };
    const granted = {
      ...base,
      consent: [
        {
          scope: "marketing" as const,
          state: "granted" as const,
          at: "2026-11-01T00:00:00.000Z",
          eventId: "a",
          channel: "whatsapp",
          source: "api",
        },
      ],
    };
    const stop = {
      at: "2026-11-02T00:00:00.000Z",
      eventId: "b",
      category: "marketing_messages",
      value: "stop",
    };
    expect(consentOf(granted, "marketing")).toBe("granted");
    expect(consentOf(granted, "utility")).toBe("unknown");
    expect(consentOf({ ...granted, preference: stop }, "marketing")).toBe("revoked");
    expect(
      consentOf(
        { ...granted, preference: { ...stop, at: "2026-10-01T00:00:00.000Z" } },
        "marketing",
      ),
    ).toBe("granted");
  });
});
