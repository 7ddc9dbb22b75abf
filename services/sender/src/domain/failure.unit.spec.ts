import { graphErrorTable } from "@parley/cloud-api";
import { describe, expect, it } from "vitest";
import { decideFailure, sendErrorOf, type CallFailure } from "./failure.js";
import { decideStatus, type StatusRecord } from "./status.js";

const policy = {
  retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000 },
  maxPacedAttempts: 6,
};
const graph = (code: number, httpStatus = 400): CallFailure => ({
  kind: "graph",
  code,
  httpStatus,
});
const decide = (f: CallFailure, calls = 1) => decideFailure(f, calls, policy, () => 1);

/**
 * What the sender does for each Graph code, as the reference (shared/reference/cloud-api.md
 * §2.2, §3) asks: sync is the POST's answer, async a failed status after a 200.
 */
type SenderAction =
  | "retry"
  | "hold number"
  | "pace recipient"
  | "pause number"
  | "fail"
  | "fail, or fail async"
  | "fail async only";
const expected: Record<number, SenderAction> = {
  0: "pause number", // no; refresh the token
  190: "pause number", // no; re-auth
  3: "fail",
  10: "fail",
  131005: "fail",
  131042: "fail, or fail async",
  131045: "fail",
  133010: "fail",
  4: "hold number", // app rate limit: back off
  80007: "hold number", // WABA budget: after the window
  130429: "hold number", // throughput: back off quickly
  131057: "hold number", // maintenance (the 1,000 mps upgrade): about a minute
  133016: "fail", // later (hours); a new request may succeed
  131056: "pace recipient", // only to that recipient, 4^x s
  131048: "fail", // spam limit: non-retryable, pause the campaign
  368: "fail",
  131031: "fail",
  130497: "fail",
  131037: "fail",
  131063: "fail",
  131064: "fail",
  1: "retry", // once
  2: "retry",
  131000: "retry", // limited; also async
  131016: "retry",
  33: "fail",
  100: "fail",
  131008: "fail",
  131009: "fail, or fail async",
  131051: "fail",
  135000: "fail",
  131021: "fail",
  131026: "fail, or fail async", // mostly async
  131030: "fail",
  131062: "fail",
  131047: "fail, or fail async", // async: the template fallback, if any, goes once instead
  131049: "fail, or fail async",
  131050: "fail, or fail async",
  130472: "fail async only",
  131052: "fail async only", // inbound media; never a send's answer in practice
  131053: "fail, or fail async",
  132000: "fail",
  132001: "fail",
  132005: "fail",
  132007: "fail",
  132008: "fail",
  132012: "fail",
  132015: "fail, or fail async", // paced templates dropped later
  132016: "fail",
  132068: "fail",
  132069: "fail",
};

const accepted: StatusRecord = {
  state: "done",
  wamid: "wamid.A",
  decidedByStatus: undefined,
  lateFallback: undefined,
  fallbackPossible: false,
  lastOutcomeCause: undefined,
};

describe("the sender's action for every Graph error code", () => {
  it("covers every code of the one Graph error table", () => {
    expect(graphErrorTable.map((r) => r.code).sort()).toEqual(
      Object.keys(expected).map(Number).sort(),
    );
  });

  it.each(graphErrorTable.map((r) => [r.code, expected[r.code] ?? "fail"] as const))(
    "code %i: %s",
    (code, action) => {
      const first = decide(graph(code));
      const sync =
        action === "fail, or fail async" || action === "fail async only" ? "fail" : action;
      const kinds: Record<string, string> = {
        retry: "retry",
        "hold number": "hold-number",
        "pace recipient": "pace-recipient",
        "pause number": "pause-number",
        fail: "fail",
      };
      expect(first.kind).toBe(kinds[sync]);
      if (first.kind === "fail") expect(first.deadLetter).toBe(false);
      // A failed status of an accepted message with this code: the request's final word.
      const late = decideStatus(accepted, {
        statusId: "s1",
        wamid: "wamid.A",
        status: "failed",
        code,
      });
      expect(late.kind).toBe("fail-async");
      // Its outcome error says whether a new request may succeed, and why.
      const error = sendErrorOf(code);
      expect(error.code).toBe(code);
      expect(error.retryHint?.length).toBeGreaterThan(10);
    },
  );
});

describe("decideFailure", () => {
  it("pauses the number on a broken token (0 / 190), never retries hot", () => {
    expect(decide(graph(190, 401)).kind).toBe("pause-number");
    expect(decide(graph(0, 401)).kind).toBe("pause-number");
  });

  it("holds the whole number on 130429, 4, 80007 and 131057, and never fails a request for it", () => {
    for (const code of [130429, 4, 80007, 131057])
      for (const calls of [1, 10, 100])
        expect(decide(graph(code, code === 131057 ? 500 : 400), calls)).toMatchObject({
          kind: "hold-number",
          code,
          error: { retriable: true },
        });
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
      error: { errorClass: "server", retriable: true },
    });
    // 1 is "retry once".
    expect(decide(graph(1, 500), 1).kind).toBe("retry");
    expect(decide(graph(1, 500), 2)).toMatchObject({ kind: "fail", deadLetter: true });
  });

  it("fails other errors at once, classified, without a dead letter; retriable says whether a new request may succeed", () => {
    expect(decide(graph(131026))).toMatchObject({
      kind: "fail",
      deadLetter: false,
      error: { errorClass: "recipient", code: 131026, retriable: false },
    });
    expect(decide(graph(131049))).toMatchObject({
      kind: "fail",
      error: { errorClass: "marketing_limit", retriable: true },
    });
    expect(decide(graph(132001))).toMatchObject({
      kind: "fail",
      error: { errorClass: "template", retriable: false },
    });
    expect(decide(graph(250))).toMatchObject({ kind: "fail", error: { errorClass: "permission" } });
    expect(decide(graph(999_999))).toMatchObject({
      kind: "fail",
      error: { errorClass: "unknown", retriable: false },
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
});
