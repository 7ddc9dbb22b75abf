import { describe, expect, it } from "vitest";
import {
  classifyErrorCode,
  graphErrorTable,
  isRetriableAction,
  type ErrorAction,
} from "./error-table.js";
import { GraphApiError, UnexpectedResponseError } from "./errors.js";

describe("error taxonomy from error.code", () => {
  /**
   * Every code of the reference's table (shared/reference/cloud-api.md §2.2), with what it says:
   * the action ("retry?" column and §3), where it arrives, and whether a new request may succeed.
   */
  const reference: [code: number, action: ErrorAction, arrives: string, newRequest: boolean][] = [
    [0, "pause-number", "sync", false], // no; refresh token
    [190, "pause-number", "sync", false], // no; re-auth
    [3, "fail", "sync", false],
    [10, "fail", "sync", false],
    [200, "fail", "sync", false], // 200-299
    [299, "fail", "sync", false],
    [4, "hold-number", "sync", true], // yes, back off (app-wide)
    [80007, "hold-number", "sync", true], // yes, after the window
    [130429, "hold-number", "sync", true], // yes, back off quickly (per number)
    [131056, "pace-recipient", "sync", true], // only to that recipient, 4^x s
    [131048, "fail", "sync", false], // treat as non-retryable; pause the campaign
    [133016, "fail", "sync", true], // later
    [368, "fail", "sync", false],
    [131031, "fail", "sync", false],
    [130497, "fail", "sync", false],
    [1, "retry", "sync", true], // maybe, once
    [2, "retry", "sync", true],
    [33, "fail", "sync", false],
    [100, "fail", "sync", false],
    [130472, "fail", "async", false],
    [131000, "retry", "both", true], // yes, limited
    [131005, "fail", "sync", false],
    [131008, "fail", "sync", false],
    [131009, "fail", "both", false],
    [131016, "retry", "sync", true],
    [131021, "fail", "sync", false],
    [131026, "fail", "both", false], // mostly async
    [131030, "fail", "sync", false],
    [131037, "fail", "sync", false],
    [131042, "fail", "both", false],
    [131045, "fail", "sync", false],
    [131047, "fail", "both", false], // async (pywa); send a template
    [131049, "fail", "both", true], // not within 24 h
    [131050, "fail", "both", false],
    [131051, "fail", "sync", false],
    [131052, "fail", "async", false], // inbound only
    [131053, "fail", "both", false], // after fixing
    [131057, "hold-number", "sync", true], // yes: maintenance, about a minute
    [131062, "fail", "sync", false],
    [131063, "fail", "sync", false],
    [131064, "fail", "sync", false],
    [132000, "fail", "sync", false],
    [132001, "fail", "sync", false],
    [132005, "fail", "sync", false],
    [132007, "fail", "sync", false],
    [132008, "fail", "sync", false],
    [132012, "fail", "sync", false],
    [132015, "fail", "both", false], // not until REINSTATED
    [132016, "fail", "sync", false],
    [132068, "fail", "sync", false],
    [132069, "fail", "sync", true], // throttled flow: within the hour
    [133010, "fail", "sync", false],
    [135000, "fail", "sync", false],
    [999999, "fail", "sync", false], // unknown: never guessed retriable
  ];
  it.each(reference)(
    "code %i -> %s (%s; a new request may succeed: %s)",
    (code, action, arrives, newRequest) => {
      const rule = classifyErrorCode(code);
      expect(rule.action).toBe(action);
      expect(rule.arrives).toBe(arrives);
      expect(rule.newRequestMaySucceed).toBe(newRequest);
      expect(rule.retryHint.length).toBeGreaterThan(10);
    },
  );

  it("lists every code of its table in the reference check above", () => {
    const checked = new Set(reference.map(([code]) => code));
    expect(graphErrorTable.map((r) => r.code).filter((c) => !checked.has(c))).toEqual([]);
  });

  it("retries 1 once and 131000 a few times; other retries are bounded by the caller", () => {
    expect(classifyErrorCode(1).maxCalls).toBe(2);
    expect(classifyErrorCode(131000).maxCalls).toBe(4);
    expect(classifyErrorCode(2).maxCalls).toBeUndefined();
  });

  it("ignores HTTP status: 130429 is throttle whether Meta answers 400 or 429", () => {
    for (const status of [400, 429, 500]) {
      const e = new GraphApiError({ code: 130429, message: "(#130429) Rate limit hit" }, status);
      expect(e.action).toBe("hold-number");
      expect(e.retriable).toBe(true);
      expect(e.httpStatus).toBe(status);
    }
  });

  it("ignores the message text", () => {
    const e = new GraphApiError(
      { code: 100, message: "(#131056) pair rate limit hit, temporarily unavailable" },
      503,
    );
    expect(e.action).toBe("fail");
    expect(e.retriable).toBe(false);
  });

  it("carries code, subcode, details and trace id", () => {
    const e = new GraphApiError(
      {
        code: 131056,
        error_subcode: 2494055,
        message: "(#131056) pair",
        type: "OAuthException",
        error_data: { messaging_product: "whatsapp", details: "too many" },
        fbtrace_id: "AbC123",
      },
      400,
      { phoneNumberId: "1" },
    );
    expect(e).toMatchObject({
      code: 131056,
      subcode: 2494055,
      details: "too many",
      fbtraceId: "AbC123",
      action: "pace-recipient",
    });
    expect(e.context.phoneNumberId).toBe("1");
  });

  it("a call may be made again only for retry, pace-recipient and hold-number", () => {
    expect(isRetriableAction("fail")).toBe(false);
    expect(isRetriableAction("pause-number")).toBe(false);
    expect(isRetriableAction("hold-number")).toBe(true);
    expect(isRetriableAction("pace-recipient")).toBe(true);
    expect(isRetriableAction("retry")).toBe(true);
  });

  it("a 5xx without a Graph error body is retried but in doubt for a POST", () => {
    const e = new UnexpectedResponseError(502, "<html>bad gateway</html>", { method: "POST" });
    expect(e.retriable).toBe(true);
    expect(e.inDoubt).toBe(true);
    expect(new UnexpectedResponseError(404, "", { method: "GET" }).retriable).toBe(false);
  });
});
