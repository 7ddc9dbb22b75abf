import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { instantsAfter } from "./instants.js";
import { retain, type OutboundState } from "./outbound/evolve.js";

// The retention of both sides compares canonical instants as text (instants.ts); the result
// must be what Date.parse gives, for every form an instant may take, and the outbound retain
// what the plain rule keeps.
const BASE = Date.UTC(2026, 11, 7, 12);
const HOUR = 3_600_000;
/** An instant near BASE in one of the forms a time may take, or not one at all. */
const instant = fc.tuple(fc.integer({ min: -40, max: 40 }), fc.nat({ max: 5 })).map(([h, form]) => {
  const iso = new Date(BASE + h * HOUR + (h % 7) * 1_000).toISOString();
  switch (form) {
    case 0:
    case 1:
      return iso;
    case 2:
      return iso.replace(".000Z", "Z");
    case 3:
      return iso.replace("Z", "+00:00");
    case 4:
      return `${iso.slice(0, 19)}+02:00`;
    default:
      return "not a time";
  }
});

describe("instantsAfter", () => {
  it("agrees with Date.parse, strict and inclusive, over every form (property)", () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: -40, max: 40 }), fc.boolean(), (at, h, inclusive) => {
        const bound = BASE + h * HOUR;
        const t = Date.parse(at);
        expect(instantsAfter(bound, { inclusive })(at)).toBe(inclusive ? t >= bound : t > bound);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("outbound retain", () => {
  const reference = (
    s: OutboundState,
    now: Date,
    maxRequests: number,
    ttl: number,
    period: number,
  ) => {
    const t = now.getTime();
    return {
      ...s,
      requests: s.requests
        .filter((r) => Date.parse(r.decidedAt) > t - ttl)
        .slice(maxRequests > 0 ? -maxRequests : Infinity),
      marketingSends: s.marketingSends.filter((at) => Date.parse(at) > t - period),
      windows: s.windows.filter((w) => Date.parse(w.expiresAt) > t),
    };
  };
  const request = fc.record({
    requestId: fc.string({ maxLength: 4 }),
    key: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
    contentHash: fc.constant("h"),
    decidedAt: instant,
    outcome: fc.constant("dispatched" as const),
  });
  const state = fc.record({
    contactId: fc.constant("15550001111"),
    consent: fc.constant([]),
    windows: fc.array(fc.record({ businessNumber: fc.string(), expiresAt: instant }), {
      maxLength: 3,
    }),
    marketingSends: fc.array(instant, { maxLength: 10 }),
    requests: fc.array(request, { maxLength: 30 }),
  });

  it("keeps exactly what the plain rule keeps (property), and the very lists when nothing goes", () => {
    fc.assert(
      fc.property(
        state,
        fc.integer({ min: -10, max: 10 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 30 }),
        (s, nowH, max, ttlH, periodH) => {
          const now = new Date(BASE + nowH * HOUR);
          const limits = {
            maxRequests: max,
            requestTtlMs: ttlH * HOUR,
            marketingPeriodMs: periodH * HOUR,
          };
          const kept = retain(s, now, limits);
          expect(kept).toEqual(reference(s, now, max, ttlH * HOUR, periodH * HOUR));
          if (kept.requests.length === s.requests.length && max > 0)
            expect(kept.requests).toBe(s.requests);
        },
      ),
      { numRuns: 500 },
    );
  });
});
