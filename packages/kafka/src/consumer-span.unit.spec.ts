import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { context, propagation, trace } from "@opentelemetry/api";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { setConsumerSpansExported, traceHeaders, withConsumerSpan } from "./tracing.js";

// A consumed record gets a span of its own only when spans are exported and its trace is
// sampled (or it carries none); otherwise it is handled in its own trace context, with no span
// object: the trace id seen by logs and carried by what the handler publishes is the record's
// in every case, and a failure of the handler still reaches the caller.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});

afterAll(() => {
  setConsumerSpansExported(true);
  trace.disable();
  context.disable();
  propagation.disable();
});

beforeEach(() => {
  exporter.reset();
  setConsumerSpansExported(true);
});

const record = (traceparent?: string) => ({
  topic: "t",
  partition: 0,
  offset: "7",
  ...(traceparent === undefined ? {} : { headers: { traceparent: Buffer.from(traceparent) } }),
});

/** What the handler sees: the active trace id and the traceparent it would publish with. */
const seen = () => ({
  traceId: trace.getActiveSpan()?.spanContext().traceId,
  published: traceHeaders()["traceparent"],
});

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("withConsumerSpan", () => {
  it("makes a child span of a sampled record's trace when spans are exported", async () => {
    const inside = await withConsumerSpan(record(`00-${TRACE}-${SPAN}-01`), "g", () =>
      Promise.resolve(seen()),
    );
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]?.spanContext().traceId).toBe(TRACE);
    expect(spans[0]?.parentSpanContext?.spanId).toBe(SPAN);
    expect(inside.traceId).toBe(TRACE);
    expect(inside.published).toMatch(new RegExp(`^00-${TRACE}-(?!${SPAN})[0-9a-f]{16}-01$`));
  });

  it("makes no span for an unsampled record, and keeps it in its trace", async () => {
    const inside = await withConsumerSpan(record(`00-${TRACE}-${SPAN}-00`), "g", () =>
      Promise.resolve(seen()),
    );
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(inside).toEqual({ traceId: TRACE, published: `00-${TRACE}-${SPAN}-00` });
  });

  it("makes no span when spans are not exported, sampled or not, and keeps the trace", async () => {
    setConsumerSpansExported(false);
    const inside = await withConsumerSpan(record(`00-${TRACE}-${SPAN}-01`), "g", () =>
      Promise.resolve(seen()),
    );
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(inside).toEqual({ traceId: TRACE, published: `00-${TRACE}-${SPAN}-01` });
  });

  it("starts a root span for a record with no trace context when spans are exported", async () => {
    const inside = await withConsumerSpan(record(), "g", () => Promise.resolve(seen()));
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]?.parentSpanContext).toBeUndefined();
    expect(inside.traceId).toBe(spans[0]?.spanContext().traceId);
  });

  it("for any header, valid or hostile: a span exactly when wanted, the record's trace inside, failures passed on", async () => {
    const hex = (n: number) =>
      fc.stringMatching(new RegExp(`^[0-9a-f]{${String(n)}}$`)).filter((s) => !/^0+$/.test(s));
    const valid = fc
      .record({ traceId: hex(32), spanId: hex(16), sampled: fc.boolean() })
      .map((t) => ({ ...t, header: `00-${t.traceId}-${t.spanId}-0${t.sampled ? "1" : "0"}` }));
    const hostile = fc
      .oneof(fc.string(), fc.constant(`00-${"0".repeat(32)}-${SPAN}-01`), fc.constant(""))
      .map((header) => ({ header }));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(valid, hostile),
        fc.boolean(),
        fc.boolean(),
        async (carried, exported, fails) => {
          exporter.reset();
          setConsumerSpansExported(exported);
          const parsed = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$/.exec(carried.header);
          const validTrace = parsed !== null && !/^0+$/.test(parsed[1] ?? "");
          const work = () =>
            fails ? Promise.reject(new Error("handler failed")) : Promise.resolve(seen());
          const run = withConsumerSpan(record(carried.header), "g", work);
          if (fails) await expect(run).rejects.toThrow("handler failed");
          const inside = fails ? undefined : await run;
          const wanted = exported && (!validTrace || parsed[3] === "1");
          const spans = exporter.getFinishedSpans();
          expect(spans).toHaveLength(wanted ? 1 : 0);
          if (validTrace) {
            if (wanted) expect(spans[0]?.spanContext().traceId).toBe(parsed[1]);
            if (inside !== undefined) expect(inside.traceId).toBe(parsed[1]);
          }
          if (wanted && fails) expect(spans[0]?.status.code).toBe(2);
        },
      ),
      { numRuns: 200 },
    );
  });
});
