import { describe, expect, it } from "vitest";
import {
  classifyErrorCode,
  GraphApiError,
  isRetriableAction,
  UnexpectedResponseError,
  type ErrorAction,
} from "./errors.js";

describe("error taxonomy from error.code", () => {
  const table: [number, ErrorAction][] = [
    [2, "retry"],
    [131000, "retry"],
    [131016, "retry"],
    [131057, "retry"],
    [4, "throttle-number"],
    [80007, "throttle-number"],
    [130429, "throttle-number"],
    [131056, "pace-recipient"],
    [131049, "retry-later"],
    [131026, "permanent"],
    [131047, "permanent"],
    [131050, "permanent"],
    [132000, "permanent"],
    [132001, "permanent"],
    [132015, "permanent"],
    [132016, "permanent"],
    [100, "permanent"],
    [131009, "permanent"],
    [131048, "permanent"],
    [368, "permanent"],
    [0, "auth"],
    [190, "auth"],
    [999999, "permanent"],
  ];
  it.each(table)("code %i -> %s", (code, action) => {
    expect(classifyErrorCode(code).action).toBe(action);
  });

  it("ignores HTTP status: 130429 is throttle whether Meta answers 400 or 429", () => {
    for (const status of [400, 429, 500]) {
      const e = new GraphApiError({ code: 130429, message: "(#130429) Rate limit hit" }, status);
      expect(e.action).toBe("throttle-number");
      expect(e.retriable).toBe(true);
      expect(e.httpStatus).toBe(status);
    }
  });

  it("ignores the message text", () => {
    const e = new GraphApiError(
      { code: 100, message: "(#131056) pair rate limit hit, temporarily unavailable" },
      503,
    );
    expect(e.action).toBe("permanent");
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

  it("only permanent and auth are not retriable", () => {
    expect(isRetriableAction("permanent")).toBe(false);
    expect(isRetriableAction("auth")).toBe(false);
    expect(isRetriableAction("retry-later")).toBe(true);
  });

  it("a 5xx without a Graph error body is retried but in doubt for a POST", () => {
    const e = new UnexpectedResponseError(502, "<html>bad gateway</html>", { method: "POST" });
    expect(e.retriable).toBe(true);
    expect(e.inDoubt).toBe(true);
    expect(new UnexpectedResponseError(404, "", { method: "GET" }).retriable).toBe(false);
  });
});
