import { createEvent, type EventOf, type MessageStatus } from "@parley/contracts";
import { deciderSpec } from "@parley/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Observed } from "./facts.js";
import { messageDecider, type MessageState } from "./message.js";
import { currentStatus } from "./statuses.js";

const WAMID = "wamid.OUT1";
const CONTACT = "16505551234";
const NUMBER = "106540352242922";
const T0 = Date.parse("2026-03-01T10:00:00.000Z");

let ids = 0;
const id = () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`;

function status(
  s: MessageStatus,
  atMs: number,
  extra: Partial<EventOf<"StatusUpdated">["data"]> = {},
  eventId = id(),
): Observed {
  return {
    type: "Observed",
    event: createEvent(
      "StatusUpdated",
      {
        contactId: CONTACT,
        wamid: WAMID,
        status: s,
        origin: { deliveryId: `d-${eventId}`, wabaId: "102290129340398" },
        ...extra,
      },
      {
        correlationId: `d-${eventId}`,
        businessNumber: NUMBER,
        occurredAt: new Date(atMs),
        now: new Date(atMs + 5),
        eventId,
      },
    ),
    country: "US",
  };
}

const spec = deciderSpec(messageDecider, { key: WAMID, context: undefined, match: "subset" });
const applied = (command: Observed) => ({ type: "Applied" as const, command });

describe("message read model (given/when/then)", () => {
  it("keeps the highest status whatever came first: read before delivered stays read", () => {
    spec
      .given(applied(status("sent", T0)), applied(status("read", T0 + 3_000)))
      .when(status("delivered", T0 + 1_000))
      .thenState((next) => {
        expect(currentStatus(next.timeline)).toBe("read");
        expect(next.timeline.map((e) => e.status)).toEqual(["sent", "delivered", "read"]);
        // Meta's times, not arrival order.
        expect(next.timeline.map((e) => e.at)).toEqual([
          new Date(T0).toISOString(),
          new Date(T0 + 1_000).toISOString(),
          new Date(T0 + 3_000).toISOString(),
        ]);
      });
  });

  it("keeps failed terminal: a read arriving after failed does not revive the message", () => {
    spec
      .given(
        applied(status("sent", T0)),
        applied(
          status("failed", T0 + 2_000, {
            errors: [{ code: 131047, title: "Re-engagement message" }],
          }),
        ),
      )
      .when(status("read", T0 + 1_000))
      .thenState((next) => {
        expect(currentStatus(next.timeline)).toBe("failed");
        expect(next.timeline.find((e) => e.status === "failed")?.errors).toEqual([
          { code: 131047, title: "Re-engagement message" },
        ]);
      });
  });

  it("accepts a skipped delivered: sent then read", () => {
    spec
      .given(applied(status("sent", T0)))
      .when(status("read", T0 + 500))
      .thenState((next) => {
        expect(currentStatus(next.timeline)).toBe("read");
      });
  });

  it("decides nothing for a status it has (a repeat), and keeps the earliest time of a status", () => {
    const sent = status("sent", T0 + 100);
    spec.given(applied(sent)).when(sent).thenNothing();
    expect(spec.given(applied(sent)).when(sent).events).toEqual([]);
    spec
      .given(applied(sent))
      .when(status("sent", T0 + 50))
      .thenState((next) => {
        expect(next.timeline).toHaveLength(1);
        expect(next.timeline[0]?.at).toBe(new Date(T0 + 50).toISOString());
      });
  });

  it("takes pricing from whichever status carries it, and marks its analytics bucket", () => {
    const pricing = { pricingModel: "PMP", type: "regular", category: "utility", billable: true };
    const result = spec.given().when(status("delivered", T0, { pricing }));
    expect(result.published).toHaveLength(1);
    expect(result.published[0]).toMatchObject({ type: "BucketTouched" });
    expect(result.next.timeline[0]?.pricing).toEqual(pricing);
  });
});

/** Every arrival order of `items`, all of them (items are few). */
function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const tail of permutations(rest)) yield [items[i] as T, ...tail];
  }
}

function fold(commands: readonly Observed[]): MessageState {
  let state = messageDecider.initialState(WAMID);
  for (const command of commands) {
    for (const event of messageDecider.decide(command, state)) {
      state = messageDecider.evolve(state, event);
    }
  }
  return state;
}

const RANK = { sent: 1, delivered: 2, read: 3, played: 4, failed: 5 } as const;

describe("invariant 4: statuses apply monotonically in any arrival order", () => {
  it("every arrival order of a message's statuses, with repeats, ends in the same read model; failed stays terminal", () => {
    const statusArb = fc.record({
      status: fc.constantFrom<MessageStatus>("sent", "delivered", "read", "played", "failed"),
      offsetMs: fc.integer({ min: 0, max: 86_400_000 }),
      withPricing: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(statusArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 2 }),
        (specs, repeats) => {
          const distinct = specs.map((s) =>
            status(
              s.status,
              T0 + s.offsetMs,
              s.withPricing
                ? { pricing: { pricingModel: "PMP", type: "regular", category: "marketing" } }
                : s.status === "failed"
                  ? { errors: [{ code: 131026 }] }
                  : {},
            ),
          );
          // Repeats are the same record delivered again (same event id).
          const all = [
            ...distinct,
            ...repeats.map((r) => distinct[r % distinct.length] as Observed),
          ];
          const reference = fold(all);
          let orders = 0;
          for (const order of permutations(all)) {
            expect(fold(order)).toEqual(reference);
            orders++;
          }
          expect(orders).toBeGreaterThan(0);
          const expected = specs.reduce<MessageStatus>(
            (best, s) => (RANK[s.status] > RANK[best] ? s.status : best),
            "sent",
          );
          expect(currentStatus(reference.timeline)).toBe(
            specs.some((s) => s.status === "failed") ? "failed" : expected,
          );
          // One entry per status, each with the earliest time Meta stated for it.
          for (const s of new Set(specs.map((x) => x.status))) {
            const earliest = Math.min(
              ...specs.filter((x) => x.status === s).map((x) => T0 + x.offsetMs),
            );
            expect(reference.timeline.filter((e) => e.status === s).map((e) => e.at)).toEqual([
              new Date(earliest).toISOString(),
            ]);
          }
        },
      ),
      { numRuns: 60 },
    );
    // Up to 7! orders per run: about 20 s on a loaded two-core box, so a bound of its own.
  }, 90_000);

  it("the trace is the earliest event's in every arrival order: a status Meta repeated under another event id, a record published again in another trace", () => {
    const statusArb = fc.record({
      status: fc.constantFrom<MessageStatus>("sent", "delivered", "read"),
      // Few distinct times: the same status at the same time under two event ids is common.
      offsetMs: fc.integer({ min: 0, max: 2 }),
      traceId: fc.stringMatching(/^[0-9a-f]{32}$/),
    });
    const copyArb = fc.record({ of: fc.nat(), traceId: fc.stringMatching(/^[0-9a-f]{32}$/) });
    fc.assert(
      fc.property(
        fc.array(statusArb, { minLength: 1, maxLength: 4 }),
        fc.array(copyArb, { maxLength: 2 }),
        (specs, copies) => {
          const distinct: Observed[] = specs.map((x) => ({
            ...status(x.status, T0 + x.offsetMs),
            traceId: x.traceId,
          }));
          // A copy: the same event (same id) that travelled in another trace.
          const all = [
            ...distinct,
            ...copies.map((c) => ({
              ...(distinct[c.of % distinct.length] as Observed),
              traceId: c.traceId,
            })),
          ];
          const byStamp = (a: Observed, b: Observed) =>
            a.event.occurredAt !== b.event.occurredAt
              ? a.event.occurredAt.localeCompare(b.event.occurredAt)
              : a.event.eventId !== b.event.eventId
                ? a.event.eventId.localeCompare(b.event.eventId)
                : (a.traceId ?? "").localeCompare(b.traceId ?? "");
          const first = [...all].sort(byStamp)[0];
          for (const order of permutations(all))
            expect(fold(order).trace?.traceId).toBe(first?.traceId);
        },
      ),
      { numRuns: 100 },
    );
  });
});
