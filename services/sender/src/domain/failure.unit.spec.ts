import { describe, expect, it } from "vitest";
import { decideFailure, errorClassOf, type CallFailure } from "./failure.js";

const policy = {
  retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000 },
  maxThrottledAttempts: 10,
  maxPacedAttempts: 6,
};
const graph = (code: number, httpStatus = 400): CallFailure => ({
  kind: "graph",
  code,
  httpStatus,
});
const decide = (f: CallFailure, attempt = 1) => decideFailure(f, attempt, policy, () => 1);

describe("decideFailure", () => {
  it("pauses the number on a broken token (0 / 190), never retries hot", () => {
    expect(decide(graph(190, 401)).kind).toBe("pause-number");
    expect(decide(graph(0, 401)).kind).toBe("pause-number");
  });

  it("throttles the whole number on 130429, 4, 80007 and 131057", () => {
    for (const code of [130429, 4, 80007])
      expect(decide(graph(code))).toMatchObject({ kind: "throttle-number", code });
    expect(decide(graph(131057, 500)).kind).toBe("retry");
  });

  it("paces only the recipient on 131056, bounded", () => {
    expect(decide(graph(131056)).kind).toBe("pace-recipient");
    expect(decide(graph(131056), 6)).toMatchObject({ kind: "fail", deadLetter: true });
  });

  it("retries server errors with back-off, bounded, then dead-letters", () => {
    expect(decide(graph(131000, 500), 1)).toMatchObject({ kind: "retry", delayMs: 100 });
    expect(decide(graph(2, 503), 2)).toMatchObject({ kind: "retry", delayMs: 200 });
    expect(decide(graph(2, 503), 4)).toMatchObject({
      kind: "fail",
      deadLetter: true,
      error: { errorClass: "server" },
    });
    // 1 is "retry once".
    expect(decide(graph(1, 500), 2)).toMatchObject({ kind: "fail", deadLetter: true });
  });

  it("fails permanent errors at once, classified, without a dead letter", () => {
    expect(decide(graph(131026))).toMatchObject({
      kind: "fail",
      deadLetter: false,
      error: { errorClass: "recipient", code: 131026, retriable: false },
    });
    expect(decide(graph(132001))).toMatchObject({
      kind: "fail",
      error: { errorClass: "template" },
    });
    expect(decide(graph(999_999))).toMatchObject({
      kind: "fail",
      error: { errorClass: "unknown" },
    });
  });

  it("marks a call whose answer was lost in doubt; a refused connection is retried", () => {
    expect(decide({ kind: "transport", inDoubt: true, timeout: true, message: "t" })).toEqual({
      kind: "in-doubt",
      reason: "timeout",
    });
    expect(decide({ kind: "transport", inDoubt: true, timeout: false, message: "reset" })).toEqual({
      kind: "in-doubt",
      reason: "connection_lost",
    });
    expect(decide({ kind: "unexpected", httpStatus: 502, message: "bad gateway" }).kind).toBe(
      "in-doubt",
    );
    expect(
      decide({ kind: "transport", inDoubt: false, timeout: false, message: "ECONNREFUSED" }).kind,
    ).toBe("retry");
  });

  it("maps codes to outcome classes", () => {
    expect(errorClassOf(131047)).toBe("window_closed");
    expect(errorClassOf(131050)).toBe("opted_out_marketing");
    expect(errorClassOf(250)).toBe("permission");
  });
});
