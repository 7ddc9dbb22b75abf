import { describe, expect, it } from "vitest";
import { errorClass, errorMessage, isOutage, isRetriable, ParleyError, retryOf } from "./index.js";

class StoreDown extends ParleyError {
  override readonly name = "StoreDown";
  constructor(cause: unknown) {
    super("store unavailable", { retry: "outage", cause, context: { operation: "save" } });
  }
}

describe("ParleyError", () => {
  it("carries its retry decision, cause and context", () => {
    const cause = new Error("connection refused");
    const error = new StoreDown(cause);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("StoreDown");
    expect(error.retry).toBe("outage");
    expect(error.retriable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.context).toEqual({ operation: "save" });
  });

  it("is not retriable when it says never", () => {
    const error = new ParleyError("bad record", { retry: "never" });
    expect(error.retriable).toBe(false);
    expect(isRetriable(error)).toBe(false);
  });
});

describe("retryOf", () => {
  it("reads the decision of a ParleyError", () => {
    expect(retryOf(new ParleyError("x", { retry: "bounded" }))).toBe("bounded");
    expect(isOutage(new StoreDown(undefined))).toBe(true);
  });

  it("counts a library's retriable flag as bounded, never as an outage", () => {
    const kafkajsLike = Object.assign(new Error("leader not available"), { retriable: true });
    expect(retryOf(kafkajsLike)).toBe("bounded");
    expect(isOutage(kafkajsLike)).toBe(false);
  });

  it("never retries programming errors, unknown flags or thrown non-errors", () => {
    expect(retryOf(new TypeError("x is undefined"))).toBe("never");
    expect(retryOf(new RangeError("Maximum call stack size exceeded"))).toBe("never");
    expect(retryOf(Object.assign(new Error("x"), { retry: "sometimes" }))).toBe("never");
    expect(retryOf(Object.assign(new Error("x"), { retriable: "yes" }))).toBe("never");
    expect(retryOf("a string")).toBe("never");
    expect(retryOf(undefined)).toBe("never");
    expect(retryOf(null)).toBe("never");
  });
});

describe("errorClass and errorMessage", () => {
  it("name errors and describe thrown values", () => {
    expect(errorClass(new StoreDown(undefined))).toBe("StoreDown");
    expect(errorClass(42)).toBe("number");
    expect(errorMessage(new Error("boom"))).toBe("boom");
    expect(errorMessage(42)).toBe("42");
  });
});
