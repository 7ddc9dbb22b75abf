import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activeTraceparent, linkActiveSpan } from "./links.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("test");

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
});

describe("links between traces", () => {
  it("stores the active span as a traceparent and links a later trace's span to it", () => {
    const stored = tracer.startActiveSpan("send", (span) => {
      const tp = activeTraceparent();
      span.end();
      return tp;
    });
    expect(stored).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const linked = tracer.startActiveSpan("status", (span) => {
      const added = linkActiveSpan(stored, { "parley.link": "send" });
      span.end();
      return added;
    });
    expect(linked).toBe(true);
    const [send, status] = exporter.getFinishedSpans();
    expect(status?.spanContext().traceId).not.toBe(send?.spanContext().traceId);
    expect(status?.links).toEqual([
      {
        context: expect.objectContaining({
          traceId: send?.spanContext().traceId,
          spanId: send?.spanContext().spanId,
        }) as unknown,
        attributes: { "parley.link": "send" },
      },
    ]);
  });

  it("adds nothing outside a span, for a missing or malformed traceparent, or an all-zero one", () => {
    expect(activeTraceparent()).toBeUndefined();
    expect(linkActiveSpan(`00-${"a".repeat(32)}-${"b".repeat(16)}-01`)).toBe(false);
    tracer.startActiveSpan("status", (span) => {
      expect(linkActiveSpan(undefined)).toBe(false);
      expect(linkActiveSpan("garbage")).toBe(false);
      expect(linkActiveSpan(`00-${"0".repeat(32)}-${"b".repeat(16)}-01`)).toBe(false);
      expect(linkActiveSpan(`01-${"a".repeat(32)}-${"b".repeat(16)}-01`)).toBe(false);
      span.end();
    });
    expect(exporter.getFinishedSpans().at(-1)?.links).toEqual([]);
  });
});
