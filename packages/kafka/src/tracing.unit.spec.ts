import { headerNames } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { eventHeaders } from "./producer.js";
import { rootTraceparent, traceHeaders } from "./tracing.js";

const W3C = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[01]$/;

describe("trace context on records", () => {
  it("writes a root traceparent when the caller has no recorded span (no OpenTelemetry SDK)", () => {
    const first = traceHeaders();
    const second = traceHeaders();
    expect(first["traceparent"]).toMatch(W3C);
    expect(second["traceparent"]).toMatch(W3C);
    expect(first["traceparent"]).not.toBe(second["traceparent"]);
    expect(rootTraceparent()).toMatch(/-00$/);
  });
});

describe("eventHeaders", () => {
  it("copies the envelope's ids, type and schema version into headers", () => {
    const headers = eventHeaders(
      {
        eventId: "e-1",
        type: "SendRequested",
        schemaVersion: 3,
        correlationId: "req-1",
        causationId: "c-1",
      },
      { traceparent: rootTraceparent() },
    );
    expect(headers).toMatchObject({
      [headerNames.eventId]: "e-1",
      [headerNames.eventType]: "SendRequested",
      [headerNames.schemaVersion]: "3",
      [headerNames.correlationId]: "req-1",
      [headerNames.causationId]: "c-1",
    });
  });
});
