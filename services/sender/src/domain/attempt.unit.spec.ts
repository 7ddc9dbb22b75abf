import { describe, expect, it } from "vitest";
import { decideRecorded, decideReplay, OUTBOX, type AttemptView } from "./attempt.js";

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

describe("decideReplay: which stored outcomes a handler publishes again", () => {
  const outcomes = [{ eventId: "accepted" }, { eventId: "failed-async" }, { eventId: "legacy" }];
  const origins = new Map([
    ["accepted", "dispatch:1:40"],
    ["failed-async", "statuses:2:7"],
  ]);

  it("the record that published them, come again (its transaction did not commit): its own, and those stored before origins were kept", () => {
    expect(decideReplay(outcomes, origins, { origin: "dispatch:1:40" })).toEqual({
      publish: ["accepted", "legacy"],
      adopt: [],
    });
    expect(decideReplay(outcomes, origins, { origin: "statuses:2:7" })).toEqual({
      publish: ["failed-async", "legacy"],
      adopt: [],
    });
  });

  it("another record of the request (a DispatchMessage emitted twice, a status repeated): nothing of another record's", () => {
    expect(decideReplay(outcomes, origins, { origin: "dispatch:1:95" })).toEqual({
      publish: ["legacy"],
      adopt: [],
    });
  });

  it("a parked dispatch's drain moves its record's outcomes to the outbox, nothing else; outbox events are the outbox's", () => {
    expect(decideReplay(outcomes, origins, { origin: OUTBOX, adopts: "dispatch:1:40" })).toEqual({
      publish: [],
      adopt: ["accepted"],
    });
    expect(
      decideReplay([{ eventId: "timeout" }], new Map([["timeout", OUTBOX]]), {
        origin: OUTBOX,
        adopts: "dispatch:1:40",
      }),
    ).toEqual({ publish: [], adopt: [] });
    expect(
      decideReplay([{ eventId: "timeout" }], new Map([["timeout", OUTBOX]]), {
        origin: "dispatch:1:40",
      }),
    ).toEqual({ publish: [], adopt: [] });
  });
});
