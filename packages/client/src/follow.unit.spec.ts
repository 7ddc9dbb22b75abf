import { createEvent, type EventOf } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import type { SendOutcome, StatusEvent } from "./events.js";
import { describeFollowed, followRequest } from "./follow.js";

const base = { idempotencyKey: "orders:42", contactId: "16505551234" };
const meta = (requestId: string) => ({
  correlationId: requestId,
  now: new Date("2026-03-01T10:00:00Z"),
});
const accepted = (requestId: string, wamid: string): SendOutcome =>
  createEvent(
    "SendAccepted",
    { ...base, requestId, wamid, usedTemplateFallback: false, attempts: 1 },
    meta(requestId),
  );
const status = (wamid: string, s: EventOf<"StatusUpdated">["data"]["status"]): StatusEvent =>
  createEvent(
    "StatusUpdated",
    {
      contactId: base.contactId,
      wamid,
      status: s,
      statusAt: "2026-03-01T10:00:01.000Z",
      origin: { deliveryId: "d-1", wabaId: "102290129340398" },
    } as EventOf<"StatusUpdated">["data"],
    { correlationId: "d-1", now: new Date("2026-03-01T10:00:01Z") },
  );

describe("followRequest", () => {
  it("shows the request's outcome, then its statuses, holding a status that came before its wamid", () => {
    const f = followRequest("req-1", "delivered");
    expect(f.status(status("wamid.A", "sent"))).toEqual([]);
    expect(f.outcome(accepted("req-other", "wamid.B"))).toEqual([]);
    const shown = f.outcome(accepted("req-1", "wamid.A"));
    expect(shown.map((s) => s.kind)).toEqual(["outcome", "status"]);
    expect(f.done).toBe(false);
    expect(f.status(status("wamid.B", "delivered"))).toEqual([]);
    expect(f.status(status("wamid.A", "delivered"))).toHaveLength(1);
    expect(f.done).toBe(true);
  });

  it("follows a repeated key's SendDeduplicated to the original request", () => {
    const f = followRequest("req-2", "outcome");
    const dedup = createEvent(
      "SendDeduplicated",
      { ...base, requestId: "req-2", originalRequestId: "req-1" },
      meta("req-2"),
    );
    expect(f.outcome(dedup)).toHaveLength(1);
    expect(f.done).toBe(false);
    expect(f.outcome(accepted("req-1", "wamid.A"))).toHaveLength(1);
    expect(f.done).toBe(true);
  });

  it("is done when the request ends without a message", () => {
    const f = followRequest("req-3", "read");
    const rejected = createEvent(
      "SendRejected",
      { ...base, requestId: "req-3", reason: "outside_window", detail: "closed" },
      meta("req-3"),
    );
    expect(
      describeFollowed(f.outcome(rejected)[0] ?? { kind: "outcome", event: rejected }),
    ).toMatch(/SendRejected {2}request=req-3 {2}reason=outside_window/);
    expect(f.done).toBe(true);
  });
});
