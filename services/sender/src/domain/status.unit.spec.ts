import { describe, expect, it } from "vitest";
import { decideStatus, type StatusFacts, type StatusRecord } from "./status.js";

const accepted: StatusRecord = {
  state: "done",
  wamid: "wamid.A",
  decidedByStatus: undefined,
  lateFallback: undefined,
  fallbackPossible: false,
  lastOutcomeCause: "dispatch-1",
};
const failed = (code: number, statusId = "s1", wamid = "wamid.A"): StatusFacts => ({
  statusId,
  wamid,
  status: "failed",
  code,
});
const delivered: StatusFacts = {
  statusId: "s0",
  wamid: "wamid.A",
  status: "delivered",
  code: undefined,
};

describe("decideStatus: what Meta says after a call", () => {
  it("ignores statuses of unknown requests and every non-failed status of a finished one", () => {
    expect(decideStatus(undefined, failed(131047)).kind).toBe("ignore");
    expect(decideStatus(accepted, delivered).kind).toBe("ignore");
  });

  it("turns a failed status of the accepted message into the request's async failure (131049, 132015, 131026)", () => {
    for (const code of [131049, 132015, 131026, 131047])
      expect(decideStatus(accepted, failed(code)).kind).toBe("fail-async");
  });

  it("ignores a failed status of another message than the request's latest accepted one", () => {
    expect(decideStatus(accepted, failed(131026, "s1", "wamid.OLD")).kind).toBe("ignore");
  });

  it("owes the template fallback for a 131047 of a free-form message that has one, once", () => {
    const freeForm = { ...accepted, fallbackPossible: true };
    expect(decideStatus(freeForm, failed(131047)).kind).toBe("fallback");
    expect(decideStatus(freeForm, failed(131026)).kind).toBe("fail-async");
    // The fallback was sent (its own wamid now): its failure is the request's, no second fallback.
    const fellBack = {
      ...freeForm,
      wamid: "wamid.B",
      decidedByStatus: "s1",
      lateFallback: { dispatchId: "d2", failedWamid: "wamid.A", code: 131047 },
    };
    expect(decideStatus(fellBack, failed(131047, "s2", "wamid.B")).kind).toBe("fail-async");
  });

  it("publishes again what the very same status decided (a crash between store and publish)", () => {
    expect(decideStatus({ ...accepted, lastOutcomeCause: "s1" }, failed(131049)).kind).toBe(
      "republish",
    );
    expect(decideStatus({ ...accepted, decidedByStatus: "s1" }, failed(131047)).kind).toBe(
      "republish",
    );
  });

  it("reconciles a request in doubt from any status; notes one that comes while the call is out", () => {
    expect(decideStatus({ ...accepted, state: "in_doubt" }, delivered)).toEqual({
      kind: "reconcile",
      result: "sent",
    });
    expect(decideStatus({ ...accepted, state: "in_doubt" }, failed(131026))).toEqual({
      kind: "reconcile",
      result: "failed",
    });
    expect(decideStatus({ ...accepted, state: "calling" }, failed(131026)).kind).toBe("note");
  });
});
