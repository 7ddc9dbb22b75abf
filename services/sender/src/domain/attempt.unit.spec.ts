import { describe, expect, it } from "vitest";
import { decideRedelivery, reconcileResult, type AttemptView } from "./attempt.js";

const at = (state: AttemptView["state"], attemptedAt = 0): AttemptView => ({
  requestId: "r",
  state,
  attemptedAt,
  calls: 1,
  outcomeIds: [],
});

describe("decideRedelivery", () => {
  it("sends a request never attempted, or definitely refused before", () => {
    expect(decideRedelivery(undefined, 0, 1_000)).toEqual({ kind: "send" });
    expect(decideRedelivery(at("refused"), 0, 1_000)).toEqual({ kind: "send" });
  });
  it("never calls again once a call completed or is in doubt: replays the stored outcome", () => {
    expect(decideRedelivery(at("done"), 0, 1_000)).toEqual({ kind: "replay" });
    expect(decideRedelivery(at("in_doubt"), 0, 1_000)).toEqual({ kind: "replay" });
  });
  it("waits on a call that may still be running; past the bound it is in doubt (a crash)", () => {
    expect(decideRedelivery(at("calling", 100), 500, 1_000)).toEqual({
      kind: "wait",
      untilMs: 1_100,
    });
    expect(decideRedelivery(at("calling", 100), 1_100, 1_000)).toEqual({ kind: "in-doubt" });
  });
  it("reconciles from the status", () => {
    expect(reconcileResult("delivered")).toBe("sent");
    expect(reconcileResult("failed")).toBe("failed");
  });
});
