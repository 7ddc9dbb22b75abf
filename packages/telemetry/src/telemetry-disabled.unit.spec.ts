import { propagation, trace } from "@opentelemetry/api";
import { afterAll, describe, expect, it } from "vitest";
import { startTelemetry } from "./telemetry.js";

/* OTEL_SDK_DISABLED=true, the standard switch: nothing is registered and nothing exported. */

describe("startTelemetry with OTEL_SDK_DISABLED=true", () => {
  const before = process.env["OTEL_SDK_DISABLED"];
  afterAll(() => {
    if (before === undefined) delete process.env["OTEL_SDK_DISABLED"];
    else process.env["OTEL_SDK_DISABLED"] = before;
  });

  it("registers no tracer provider or propagator and exports nothing, even with an endpoint", async () => {
    process.env["OTEL_SDK_DISABLED"] = "true";
    const telemetry = startTelemetry({
      serviceName: "router",
      otlpEndpoint: "http://127.0.0.1:9/",
    });
    expect(telemetry.tracesEndpoint).toBeUndefined();
    const span = trace.getTracer("test").startSpan("anything");
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe("00000000000000000000000000000000");
    span.end();
    expect(propagation.fields()).toEqual([]);
    await expect(telemetry.shutdown()).resolves.toBeUndefined();
  });
});
