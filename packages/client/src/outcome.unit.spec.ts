import { createEvent, type EventData, type EventOf } from "@parley/contracts";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import type { SendOutcome, SendOutcomeName } from "./events.js";
import { finalOutcome } from "./outcome.js";
import { createOutcomeTracker, OutcomeTimeoutError } from "./tracker.js";

const base = { idempotencyKey: "orders:42", contactId: "16505551234" };
let seq = 0;
function outcome<T extends SendOutcomeName>(
  type: T,
  data: Omit<EventData<T>, "idempotencyKey" | "contactId" | "requestId"> & { requestId?: string },
): EventOf<T> {
  return createEvent(type, { requestId: "r1", ...base, ...data } as EventData<T>, {
    correlationId: data.requestId ?? "r1",
    now: new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)),
  });
}
const accepted = (wamid: string, extra: Partial<EventData<"SendAccepted">> = {}) =>
  outcome("SendAccepted", { wamid, usedTemplateFallback: false, attempts: 1, ...extra });
const failedAsync = (wamid: string, code: number) =>
  outcome("SendFailed", {
    phase: "async",
    wamid,
    attempts: 1,
    error: { errorClass: "template", code, retriable: false },
  });

describe("finalOutcome: a request's final word (ADR 0009)", () => {
  it("is the acceptance until a SendFailed async for its wamid supersedes it", () => {
    const a = accepted("wamid.A");
    expect(finalOutcome("r1", [a])).toMatchObject({ status: "accepted", wamid: "wamid.A" });
    expect(finalOutcome("r1", [a, failedAsync("wamid.A", 132015)])).toMatchObject({
      status: "failed",
      phase: "async",
      code: 132015,
      retriable: false,
    });
  });

  it("is the template fallback's acceptance after a 131047, which says so", () => {
    const a = accepted("wamid.A");
    const b = accepted("wamid.B", {
      usedTemplateFallback: true,
      attempts: 2,
      fallbackAfter: { wamid: "wamid.A", code: 131047 },
    });
    expect(finalOutcome("r1", [a, b])).toMatchObject({
      status: "accepted",
      wamid: "wamid.B",
      usedTemplateFallback: true,
    });
    // And the fallback's own later failure ends it.
    expect(finalOutcome("r1", [a, b, failedAsync("wamid.B", 132015)])).toMatchObject({
      status: "failed",
      code: 132015,
    });
  });

  it("waits through SendInDoubt, then follows SendReconciled", () => {
    const doubt = outcome("SendInDoubt", {
      bizOpaqueCallbackData: "r1",
      reason: "crash_recovery",
      attemptedAt: "2026-01-01T00:00:00.000Z",
    });
    expect(finalOutcome("r1", [doubt])).toEqual({
      status: "pending",
      requestId: "r1",
      inDoubt: true,
    });
    const sent = outcome("SendReconciled", { wamid: "wamid.A", status: "sent", result: "sent" });
    expect(finalOutcome("r1", [doubt, sent])).toMatchObject({
      status: "accepted",
      wamid: "wamid.A",
    });
    expect(finalOutcome("r1", [doubt, sent, failedAsync("wamid.A", 131026)])).toMatchObject({
      status: "failed",
      code: 131026,
    });
    const lost = outcome("SendReconciled", {
      wamid: "wamid.A",
      status: "failed",
      result: "failed",
      error: { errorClass: "recipient", code: 131026, retriable: false },
    });
    expect(finalOutcome("r1", [doubt, lost])).toMatchObject({ status: "failed", code: 131026 });
  });

  it("gives rejections, expiries and sync failures as they are", () => {
    expect(
      finalOutcome("r1", [outcome("SendRejected", { reason: "opted_out", detail: "stop" })]),
    ).toMatchObject({ status: "rejected" });
    expect(
      finalOutcome("r1", [
        outcome("SendExpired", { validUntil: "2026-01-01T00:00:00.000Z", stage: "router" }),
      ]),
    ).toMatchObject({ status: "expired" });
    expect(
      finalOutcome("r1", [
        outcome("SendFailed", {
          phase: "sync",
          attempts: 1,
          error: { errorClass: "invalid_request", code: 100, retriable: false },
        }),
      ]),
    ).toMatchObject({ status: "failed", phase: "sync", code: 100 });
  });

  it("does not depend on arrival order or repeats (property)", () => {
    const a = accepted("wamid.A");
    const scenarios: [SendOutcome[], string][] = [
      [[a, failedAsync("wamid.A", 131049)], "failed"],
      [
        [
          a,
          accepted("wamid.B", {
            usedTemplateFallback: true,
            attempts: 2,
            fallbackAfter: { wamid: "wamid.A", code: 131047 },
          }),
        ],
        "accepted",
      ],
      [[a], "accepted"],
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: scenarios.length - 1 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        (which, picks) => {
          const [events, status] = scenarios[which] ?? [[], ""];
          // Every event at least once, in an order and with repeats the picks choose.
          const order = [...events, ...picks.map((p) => events[p % events.length])].filter(
            (e): e is SendOutcome => e !== undefined,
          );
          const shuffled = [...order].sort(
            (x, y) =>
              (picks[order.indexOf(x) % picks.length] ?? 0) -
              (picks[order.indexOf(y) % picks.length] ?? 0),
          );
          expect(finalOutcome("r1", shuffled).status).toBe(status);
        },
      ),
    );
  });
});

describe("the outcome tracker", () => {
  it("answers a SendDeduplicated with the original request's final word", async () => {
    const tracker = createOutcomeTracker();
    const waiting = tracker.awaitFinal("r2", { timeoutMs: 1_000 });
    tracker.add(outcome("SendDeduplicated", { requestId: "r2", originalRequestId: "r1" }));
    expect(tracker.final("r2").status).toBe("deduplicated");
    tracker.add(outcome("SendRejected", { reason: "opted_out", detail: "stop" }));
    await expect(waiting).resolves.toMatchObject({ status: "rejected", requestId: "r2" });
  });

  it("waits for a quiet spell after an acceptance: a failure within it is the answer", async () => {
    vi.useFakeTimers();
    try {
      const tracker = createOutcomeTracker();
      const a = accepted("wamid.A");
      const waiting = tracker.awaitFinal("r1", { timeoutMs: 60_000, acceptedQuietMs: 5_000 });
      tracker.add(a);
      tracker.add(a); // the same record twice
      await vi.advanceTimersByTimeAsync(3_000);
      tracker.add(failedAsync("wamid.A", 131047));
      await expect(waiting).resolves.toMatchObject({ status: "failed", code: 131047 });
      const quiet = tracker.awaitFinal("r9", { timeoutMs: 60_000, acceptedQuietMs: 5_000 });
      tracker.add(accepted("wamid.C", { requestId: "r9" }));
      await vi.advanceTimersByTimeAsync(5_000);
      await expect(quiet).resolves.toMatchObject({ status: "accepted", wamid: "wamid.C" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("gives up after the timeout with what it knew", async () => {
    const tracker = createOutcomeTracker();
    await expect(tracker.awaitFinal("nobody", { timeoutMs: 10 })).rejects.toBeInstanceOf(
      OutcomeTimeoutError,
    );
  });

  it("forgets the oldest requests past maxTracked", () => {
    const tracker = createOutcomeTracker({ maxTracked: 2 });
    for (const id of ["a", "b", "c"])
      tracker.add(outcome("SendRejected", { requestId: id, reason: "opted_out", detail: "x" }));
    expect(tracker.final("a").status).toBe("pending");
    expect(tracker.final("c").status).toBe("rejected");
  });
});
