import { createEvent, type AnyEvent } from "@parley/contracts";
import type { RateCard } from "@parley/pricing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventsOf, type SendStory } from "../delivery-events.unit-helpers.js";
import {
  mergeDelivery,
  outcomeFactOf,
  progressOf,
  ProgressEventError,
  statusFactOf,
  countryOf,
  type DeliveryState,
} from "./progress.js";

const card: RateCard = {
  currency: "USD",
  source: "test",
  markets: [
    { market: "Brazil", countries: ["BR"], rates: { marketing: 0.0625, utility: 0.0068 } },
    { market: "India", countries: ["IN"], rates: { marketing: 0.0107, utility: 0.0014 } },
  ],
  otherwise: { market: "Rest", rates: { marketing: 0.05, utility: 0.01 } },
};
const M = { correlationId: "c", now: new Date("2026-12-06T10:00:00Z") };
const contacts = ["5511987654321", "919876543210", "4915112345678", "5521998765432"];
const at = (i: number): string => contacts[i % contacts.length] ?? "";

/** Folds events the way the progress consumer does, in memory (the store does the same joins). */
function fold(events: readonly AnyEvent[]) {
  const states = new Map<string, DeliveryState>();
  const known = new Map<string, string>(); // requestId -> campaignId (the plan's record)
  for (const e of events) {
    const outcome = outcomeFactOf(e);
    if (outcome !== undefined) {
      known.set(outcome.fact.requestId, outcome.campaignId);
      states.set(
        outcome.fact.requestId,
        mergeDelivery(states.get(outcome.fact.requestId), outcome.campaignId, outcome.fact),
      );
    }
  }
  for (const e of events) {
    const fact = statusFactOf(e);
    const campaignId = fact === undefined ? undefined : known.get(fact.requestId);
    if (fact !== undefined && campaignId !== undefined)
      states.set(fact.requestId, mergeDelivery(states.get(fact.requestId), campaignId, fact));
  }
  return states;
}

const groupsOf = (states: Iterable<DeliveryState>) =>
  [...states].map((s) => ({ ...s, country: countryOf(s.contactId), n: 1 }));

describe("the progress fold", () => {
  it("counts sent, delivered, read, failed by code and prices the delivered billable ones", () => {
    const stories: SendStory[] = [
      { kind: "delivered", read: true, pricingType: "regular", category: "marketing" },
      { kind: "delivered", read: false, pricingType: "regular", category: "marketing" },
      { kind: "delivered", read: false, pricingType: "free_customer_service", category: "utility" },
      { kind: "failed_async", code: 131049 },
      { kind: "rejected", reason: "opted_out" },
    ];
    const events = stories.flatMap((story, i) =>
      eventsOf({ campaignId: "c1", contactId: at(i % 4), requestId: `r${i}` }, story),
    );
    const p = progressOf(groupsOf(fold(events).values()), card);
    expect(p).toMatchObject({
      sent: 3,
      delivered: 3,
      read: 1,
      failed: 2,
      failedByCode: { "131049": 1, "rejected:opted_out": 1 },
    });
    // BR marketing + IN marketing billed; the free utility message costs nothing.
    expect(p.cost?.amount).toBe(0.0732);
    expect(p.cost?.free).toBe(1);
  });

  it("ignores outcomes of other requests and statuses naming no request", () => {
    const accepted = createEvent(
      "SendAccepted",
      {
        requestId: "x",
        idempotencyKey: "orders:42",
        contactId: at(0),
        wamid: "w",
        usedTemplateFallback: false,
        attempts: 1,
      },
      M,
    );
    expect(outcomeFactOf(accepted)).toBeUndefined();
    const status = createEvent(
      "StatusUpdated",
      {
        contactId: at(0),
        wamid: "w",
        status: "sent",
        origin: { deliveryId: "d", wabaId: "w" },
      },
      M,
    );
    expect(statusFactOf(status)).toBeUndefined();
  });

  it("refuses a campaign key without a valid campaign or naming another contact", () => {
    const of = (idempotencyKey: string) =>
      createEvent(
        "SendAccepted",
        {
          requestId: "x",
          idempotencyKey,
          contactId: at(0),
          wamid: "w",
          usedTemplateFallback: false,
          attempts: 1,
        },
        M,
      );
    expect(() => outcomeFactOf(of(`campaign:NOT VALID:${contacts[0]}`))).toThrow(
      ProgressEventError,
    );
    expect(() => outcomeFactOf(of(`campaign:c1:${contacts[1]}`))).toThrow(
      /not the outcome's contact/,
    );
    expect(() => outcomeFactOf(of("campaign:"))).toThrow(ProgressEventError);
  });

  const story: fc.Arbitrary<SendStory> = fc.oneof(
    fc.record({
      kind: fc.constant("delivered" as const),
      read: fc.boolean(),
      pricingType: fc.constantFrom(
        "regular" as const,
        "free_customer_service" as const,
        "free_entry_point" as const,
      ),
      category: fc.constantFrom("marketing", "utility", "authentication-international"),
    }),
    fc.record({
      kind: fc.constant("failed_async" as const),
      code: fc.constantFrom(131049, 131026, 132015),
    }),
    fc.record({
      kind: fc.constantFrom("rejected" as const),
      reason: fc.constantFrom("opted_out" as const, "no_consent" as const),
    }),
    fc.constant({ kind: "accepted_only" as const }),
  );

  it("gives the same progress for any order and any repetition of the events (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(story, fc.constantFrom(...contacts)), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.infiniteStream(fc.nat()),
        (sends, dupes, shuffle) => {
          const events = sends.flatMap(([s, contactId], i) =>
            eventsOf({ campaignId: "c1", contactId, requestId: `r${i}` }, s),
          );
          const inOrder = progressOf(groupsOf(fold(events).values()), card);
          const noisy = [
            ...events,
            ...dupes.flatMap((d) => events.slice(d % events.length, (d % events.length) + 1)),
          ];
          const shuffled = noisy
            .map((e) => [shuffle.next().value as number, e] as const)
            .sort((a, b) => a[0] - b[0])
            .map(([, e]) => e);
          // Each event folded on its own as it comes (the consumer's way), statuses first or not.
          const states = new Map<string, DeliveryState>();
          for (const e of shuffled) {
            const o = outcomeFactOf(e);
            const f = o?.fact ?? statusFactOf(e);
            if (f === undefined) continue;
            states.set(f.requestId, mergeDelivery(states.get(f.requestId), "c1", f));
          }
          expect(progressOf(groupsOf(states.values()), card)).toEqual(inOrder);
          // And it is what the stories say.
          const expected = {
            failed: sends.filter(([s]) => s.kind === "failed_async" || s.kind === "rejected")
              .length,
            delivered: sends.filter(([s]) => s.kind === "delivered").length,
            read: sends.filter(([s]) => s.kind === "delivered" && s.read).length,
          };
          expect(inOrder).toMatchObject(expected);
          expect(inOrder.sent).toBe(
            sends.filter(([s]) => s.kind === "delivered" || s.kind === "accepted_only").length,
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses hostile pricing words and hostile keys, keeps every valid event (property)", () => {
    const hostileKey = fc
      .oneof(
        fc.constant("campaign:"),
        fc.string().map((s) => `campaign:${s}:`),
        fc.constant("campaign:UPPER:1"),
      )
      .map((idempotencyKey) => ({ idempotencyKey, hostile: true }));
    const validKey = fc
      .constantFrom(...contacts)
      .map((c) => ({ idempotencyKey: `campaign:c1:${c}`, hostile: false, c }));
    fc.assert(
      fc.property(fc.array(fc.oneof(hostileKey, validKey), { maxLength: 30 }), (keys) => {
        for (const k of keys) {
          const contactId = "c" in k ? k.c : at(0);
          const e = createEvent(
            "SendAccepted",
            {
              requestId: "r",
              idempotencyKey: k.idempotencyKey,
              contactId,
              wamid: "w",
              usedTemplateFallback: false,
              attempts: 1,
            },
            M,
          );
          if (k.hostile) expect(() => outcomeFactOf(e)).toThrow(ProgressEventError);
          else
            expect(outcomeFactOf(e)?.fact).toEqual({ requestId: "r", contactId, accepted: true });
        }
      }),
    );
    const status = createEvent(
      "StatusUpdated",
      {
        contactId: at(0),
        wamid: "w",
        status: "delivered",
        origin: { deliveryId: "d", wabaId: "w" },
        bizOpaqueCallbackData: "r",
        pricing: { pricingModel: "PMP", type: "regular", category: "mark eting/../x" },
      },
      M,
    );
    expect(() => statusFactOf(status)).toThrow(/not a word/);
  });
});
