import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dispatchMessage, memoryAttempts } from "./fixtures.spec-helpers.js";
import { createReconciler } from "./reconcile.js";

// The statuses surface: whatever Meta (and the router) send about a request, in any order, with
// repeats and statuses of other messages, a finished request gets at most one async failure or
// one late fallback, never both, and nothing for statuses that are not its accepted message's.
const NUMBER = "106540352240001";
const TO = "16505551234";

async function accepted(fallback: boolean) {
  const attempts = memoryAttempts();
  const dispatch = dispatchMessage(NUMBER, "r1", TO, {
    content: { type: "text", text: { body: "hi" } },
    ...(fallback ? { templateFallback: { name: "order_update", language: { code: "en" } } } : {}),
  });
  await attempts.claim({
    requestId: "r1",
    number: NUMBER,
    contactId: TO,
    bizOpaqueCallbackData: "r1",
    at: new Date(0),
    owner: "o",
    dispatch,
  });
  await attempts.fence("r1", 1, new Date(0));
  const acceptance = createEvent(
    "SendAccepted",
    {
      requestId: "r1",
      idempotencyKey: "r1",
      contactId: TO,
      wamid: "wamid.A",
      usedTemplateFallback: false,
      attempts: 1,
    },
    {
      correlationId: "r1",
      causationId: dispatch.eventId,
      businessNumber: NUMBER,
      now: new Date(0),
    },
  );
  await attempts.settle({
    requestId: "r1",
    epoch: 1,
    from: "calling",
    state: "done",
    outcomes: [acceptance],
    at: new Date(0),
    origin: "dispatch:0:0",
    wamid: "wamid.A",
  });
  const reconciler = createReconciler({ attempts, clock: () => 0 });
  return { attempts, reconciler };
}

const status = (
  id: string,
  wamid: string,
  kind: EventOf<"StatusUpdated">["data"]["status"],
  code: number | undefined,
  callback: boolean,
): EventOf<"StatusUpdated"> => {
  const e = createEvent(
    "StatusUpdated",
    {
      contactId: TO,
      wamid,
      status: kind,
      origin: { deliveryId: `d-${id}`, wabaId: "102290129340398" },
      ...(callback ? { bizOpaqueCallbackData: "r1" } : {}),
      ...(kind === "failed" && code !== undefined ? { errors: [{ code }] } : {}),
    },
    { correlationId: id, businessNumber: NUMBER, now: new Date(0) },
  );
  return { ...e, eventId: id };
};

const statuses = fc.array(
  fc.record({
    id: fc.constantFrom("s1", "s2", "s3", "s4"),
    wamid: fc.constantFrom("wamid.A", "wamid.OTHER", "wamid.B"),
    kind: fc.constantFrom("sent", "delivered", "read", "failed" as const),
    code: fc.option(fc.constantFrom(131047, 132015, 131049, 131026, 0, -1, 999_999), {
      nil: undefined,
    }),
    callback: fc.boolean(),
    /** The record before this one comes again (its transaction did not commit) instead. */
    again: fc.boolean(),
  }),
  { maxLength: 12 },
);

describe("statuses of a finished request (property)", () => {
  it("yield at most one final failure or one late fallback, only for its accepted message, in exactly one committed record", async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), statuses, async (fallback, list) => {
        const { reconciler } = await accepted(fallback);
        // Each delivery is a record of the statuses topic (the same status event may come in
        // several: Meta's repeats, the router emitting it again). A record delivered again had
        // its transaction not committed: only its last delivery's outputs count.
        const committed = new Map<string, AnyEvent[]>();
        const delivered: EventOf<"StatusUpdated">[] = [];
        let last: { origin: string; event: EventOf<"StatusUpdated"> } | undefined;
        for (const [i, s] of list.entries()) {
          const delivery =
            s.again && last !== undefined
              ? last
              : {
                  origin: `statuses:0:${String(i)}`,
                  event: status(s.id, s.wamid, s.kind, s.code, s.callback),
                };
          const outputs: AnyEvent[] = [];
          await reconciler.status(delivery.event, {
            origin: delivery.origin,
            publish: (_requestId, events) => {
              outputs.push(...events);
              return Promise.resolve();
            },
          });
          committed.set(delivery.origin, outputs);
          delivered.push(delivery.event);
          last = delivery;
        }
        const published = [...committed.values()].flat();
        // Records, not distinct ids: a read-committed consumer sees exactly these.
        const failures = published.filter((e) => e.type === "SendFailed");
        const fallbacks = published.filter((e) => e.type === "DispatchMessage");
        expect(failures.length + fallbacks.length).toBeLessThanOrEqual(1);
        const failedOfA = delivered.some(
          (e) => e.data.status === "failed" && e.data.wamid === "wamid.A",
        );
        if (!failedOfA) expect(published).toEqual([]);
        else expect(failures.length + fallbacks.length).toBe(1);
        // A fallback only for a 131047 of a request that has one.
        if (fallbacks.length > 0) {
          expect(fallback).toBe(true);
          const first = delivered.find(
            (e) => e.data.status === "failed" && e.data.wamid === "wamid.A",
          );
          expect(first?.data.errors?.[0]?.code).toBe(131047);
        }
        for (const e of published)
          if (e.type === "SendFailed")
            expect(e.data).toMatchObject({ phase: "async", wamid: "wamid.A" });
      }),
      { numRuns: 300 },
    );
  });
});
