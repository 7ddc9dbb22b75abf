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
    wamid: "wamid.A",
  });
  const published: AnyEvent[] = [];
  const reconciler = createReconciler({
    attempts,
    publish: (events) => {
      published.push(...events);
      return Promise.resolve();
    },
    clock: () => 0,
  });
  return { attempts, published, reconciler };
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
  }),
  { maxLength: 12 },
);

describe("statuses of a finished request (property)", () => {
  it("yield at most one final failure or one late fallback, only for its accepted message", async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), statuses, async (fallback, list) => {
        const { published, reconciler } = await accepted(fallback);
        for (const s of list)
          await reconciler.status(status(s.id, s.wamid, s.kind, s.code, s.callback));
        const failures = new Set(
          published.filter((e) => e.type === "SendFailed").map((e) => e.eventId),
        );
        const fallbacks = new Set(
          published.filter((e) => e.type === "DispatchMessage").map((e) => e.eventId),
        );
        expect(failures.size + fallbacks.size).toBeLessThanOrEqual(1);
        const failedOfA = list.some((s) => s.kind === "failed" && s.wamid === "wamid.A");
        if (!failedOfA) expect(published).toEqual([]);
        else expect(failures.size + fallbacks.size).toBe(1);
        // A fallback only for a 131047 of a request that has one.
        if (fallbacks.size > 0) {
          expect(fallback).toBe(true);
          const first = list.find((s) => s.kind === "failed" && s.wamid === "wamid.A");
          expect(first?.code).toBe(131047);
        }
        for (const e of published)
          if (e.type === "SendFailed")
            expect(e.data).toMatchObject({ phase: "async", wamid: "wamid.A" });
      }),
      { numRuns: 300 },
    );
  });
});
