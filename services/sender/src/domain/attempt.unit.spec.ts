import { describe, expect, it } from "vitest";
import { decideRecorded, type AttemptView } from "./attempt.js";

const record = (state: AttemptView["state"], extra: Partial<AttemptView> = {}): AttemptView => ({
  requestId: "r",
  state,
  epoch: 3,
  calledAt: undefined,
  calls: 0,
  outcomeIds: [],
  lateFallback: undefined,
  ...extra,
});

describe("decideRecorded: what a dispatch does with its request's record", () => {
  it("takes over a claimed record (its owner waited for a slot and never called), under the next epoch", () => {
    expect(decideRecorded(record("claimed"), "d1", 0, 1_000)).toEqual({
      kind: "take-over",
      epoch: 3,
    });
    // Earlier versions' "refused" is a claim nobody holds.
    expect(decideRecorded(record("refused", { calls: 2 }), "d1", 0, 1_000)).toEqual({
      kind: "take-over",
      epoch: 3,
    });
  });

  it("never calls again once a call completed or is in doubt: replays the stored outcomes", () => {
    expect(decideRecorded(record("done"), "d1", 0, 1_000)).toEqual({ kind: "replay" });
    expect(decideRecorded(record("in_doubt"), "d1", 0, 1_000)).toEqual({ kind: "replay" });
  });

  it("waits on a call that may still be running; past the bound it is in doubt (a crash after the fence)", () => {
    expect(decideRecorded(record("calling", { calledAt: 100 }), "d1", 500, 1_000)).toEqual({
      kind: "wait",
      untilMs: 1_100,
    });
    expect(decideRecorded(record("calling", { calledAt: 100 }), "d1", 1_100, 1_000)).toEqual({
      kind: "in-doubt",
      calledAt: 100,
    });
  });

  it("owes a late fallback to its own dispatch only; any other copy of the request replays", () => {
    const owed = record("claimed", {
      lateFallback: { dispatchId: "fallback-1", failedWamid: "wamid.A", code: 131047 },
      calls: 1,
    });
    expect(decideRecorded(owed, "fallback-1", 0, 1_000)).toEqual({ kind: "take-over", epoch: 3 });
    expect(decideRecorded(owed, "original", 0, 1_000)).toEqual({ kind: "replay" });
  });
});
