import { createServer, request, type Server } from "node:http";
import { Module } from "node:module";
import type { AddressInfo } from "node:net";
import { context, propagation, trace } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "./logger.js";
import { startTelemetry, type Telemetry } from "./telemetry.js";

/* Without an endpoint: real trace ids and propagation, nothing exported anywhere. */

interface Received {
  method: string;
  url: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function get(url: string, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
    req.end();
  });
}

const lines: Record<string, unknown>[] = [];
const logger = createLogger({
  service: "router",
  level: "info",
  destination: {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  },
});
const seenTraceparents: string[] = [];
const app = createServer((req, res) => {
  seenTraceparents.push(String(req.headers["traceparent"]));
  logger.info({ path: req.url }, "handled");
  res.end("ok");
});
const collectorRequests: Received[] = [];
const collector = createServer((req, res) => {
  collectorRequests.push({ method: req.method ?? "", url: req.url ?? "" });
  req.resume();
  res.end("{}");
});

let appUrl = "";
let telemetry: Telemetry;
const moduleProto = Module.prototype as { require: unknown };
const requireBefore = moduleProto.require;

const lastHandled = () => lines.filter((l) => l["msg"] === "handled").at(-1);

beforeAll(async () => {
  // An operator's stray OTEL_* settings must not switch exporting on: only otlpEndpoint does.
  vi.stubEnv("OTEL_EXPORTER_OTLP_ENDPOINT", await listen(collector));
  telemetry = startTelemetry({ serviceName: "router", serviceVersion: "1.2.3", env: "test" });
  appUrl = await listen(app);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  app.close();
  collector.close();
  await telemetry.shutdown();
});

describe("startTelemetry without an endpoint", () => {
  it("leaves require() as it found it once http is patched (the tests below see http spans)", () => {
    // require-in-the-middle would otherwise resolve every later require()'s filename.
    expect(moduleProto.require).toBe(requireBefore);
  });

  it("configures no exporter", () => {
    expect(telemetry.tracesEndpoint).toBeUndefined();
  });

  it("puts the active span's trace and span ids on every log line", () => {
    const tracer = trace.getTracer("test");
    tracer.startActiveSpan("work", (span) => {
      logger.info("inside");
      span.end();
      const record = lines.at(-1);
      expect(record?.["trace_id"]).toBe(span.spanContext().traceId);
      expect(record?.["span_id"]).toBe(span.spanContext().spanId);
      expect(record?.["trace_id"]).toMatch(/^[0-9a-f]{32}$/);
    });
    logger.info("outside");
    expect(lines.at(-1)).not.toHaveProperty("trace_id");
  });

  it("continues an incoming W3C trace in the http server span", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentSpanId = "00f067aa0ba902b7";
    // As a caller without telemetry would: the client side must not replace our traceparent.
    await context.with(suppressTracing(context.active()), () =>
      get(`${appUrl}/send`, { traceparent: `00-${traceId}-${parentSpanId}-01` }),
    );
    const record = lastHandled();
    expect(record?.["trace_id"]).toBe(traceId);
    expect(record?.["span_id"]).toMatch(/^[0-9a-f]{16}$/);
    expect(record?.["span_id"]).not.toBe(parentSpanId);
  });

  it("injects traceparent into outgoing http requests made inside a span", async () => {
    const tracer = trace.getTracer("test");
    const traceId = await tracer.startActiveSpan("dispatch", async (span) => {
      await get(`${appUrl}/graph`);
      span.end();
      return span.spanContext().traceId;
    });
    expect(seenTraceparents.at(-1)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(lastHandled()?.["trace_id"]).toBe(traceId);
  });

  it("creates no span for probes and scrapes", async () => {
    await context.with(suppressTracing(context.active()), () =>
      get(`${appUrl}/healthz`, {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      }),
    );
    expect(lastHandled()?.["path"]).toBe("/healthz");
    expect(lastHandled()).not.toHaveProperty("trace_id");
  });

  it("propagates baggage next to the trace context", () => {
    const carrier: Record<string, string> = {};
    const withBaggage = propagation.setBaggage(
      context.active(),
      propagation.createBaggage({ "parley.request_id": { value: "req-42" } }),
    );
    trace.getTracer("test").startActiveSpan("outer", {}, withBaggage, (span) => {
      propagation.inject(context.active(), carrier);
      span.end();
    });
    expect(carrier["traceparent"]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(carrier["baggage"]).toBe("parley.request_id=req-42");
  });

  it("treats a second start as a no-op with a warning", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const again = startTelemetry({ serviceName: "router" });
    expect(again).toBe(telemetry);
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining("called again"),
      expect.objectContaining({ code: "PARLEY_TELEMETRY_ALREADY_STARTED" }),
    );
    warn.mockRestore();
  });

  it("sends nothing anywhere, even after the shutdown flush", async () => {
    await telemetry.shutdown();
    await telemetry.shutdown();
    expect(collectorRequests).toEqual([]);
  });
});
