import { describe, expect, it } from "vitest";
import { EVENT_LOOP_SAMPLE_MS, MetricNameError, createMetrics } from "./metrics.js";

describe("createMetrics", () => {
  it("exposes default process metrics with the parley_ prefix and the service label", async () => {
    const metrics = createMetrics({ service: "sender" });
    const text = await metrics.metrics();
    expect(text).toContain("# TYPE parley_process_cpu_user_seconds_total counter");
    expect(text).toMatch(/^parley_process_resident_memory_bytes\{service="sender"\} \d+/m);
    expect(text).toMatch(/^parley_nodejs_eventloop_lag_seconds\{service="sender"\}/m);
    expect(metrics.contentType).toContain("text/plain");
  });

  it("samples the event loop's delay every EVENT_LOOP_SAMPLE_MS and still sees a stall", async () => {
    const metrics = createMetrics({ service: "projection" });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await sleep(2 * EVENT_LOOP_SAMPLE_MS);
    const until = performance.now() + 300;
    while (performance.now() < until) {
      // a 300 ms stall of the event loop
    }
    await sleep(2 * EVENT_LOOP_SAMPLE_MS);
    const max = /^parley_nodejs_eventloop_lag_max_seconds\{service="projection"\} ([\d.e-]+)/m.exec(
      await metrics.metrics(),
    );
    expect(Number(max?.[1])).toBeGreaterThan(0.15);
  });

  it("registers custom counters, histograms and gauges on its own registry", async () => {
    const metrics = createMetrics({ service: "sender", collectDefaults: false });
    const sent = metrics.counter({
      name: "messages_sent_total",
      help: "Messages handed to Graph",
      labelNames: ["outcome"],
    });
    const latency = metrics.histogram({
      name: "graph_request_duration_seconds",
      help: "Graph call latency",
      labelNames: ["outcome"],
      buckets: [0.05, 0.1, 0.5],
    });
    const inFlight = metrics.gauge({
      name: "in_flight_messages",
      help: "Messages awaiting an outcome",
    });
    sent.inc({ outcome: "accepted" }, 3);
    latency.observe({ outcome: "accepted" }, 0.07);
    inFlight.set(4);

    const text = await metrics.metrics();
    expect(text).toContain('parley_messages_sent_total{outcome="accepted",service="sender"} 3');
    expect(text).toContain(
      'parley_graph_request_duration_seconds_bucket{le="0.1",service="sender",outcome="accepted"} 1',
    );
    expect(text).toContain('parley_in_flight_messages{service="sender"} 4');
    expect(text).not.toContain("process_cpu");
  });

  it("keeps registries apart, so two services in one process do not collide", async () => {
    const a = createMetrics({ service: "a", collectDefaults: false });
    const b = createMetrics({ service: "b", collectDefaults: false });
    a.counter({ name: "webhooks_received_total", help: "h" }).inc();
    b.counter({ name: "webhooks_received_total", help: "h" });
    expect(await a.metrics()).toContain('parley_webhooks_received_total{service="a"} 1');
    expect(await b.metrics()).toContain('parley_webhooks_received_total{service="b"} 0');
  });

  it.each([
    ["counter", "messages_sent", /ends in "_total"/],
    ["gauge", "queue_depth_total", /only counters/],
    ["histogram", "graph_latency_ms", /base units/],
    ["histogram", "graph_request_duration", /"_seconds"/],
    ["counter", "parley_messages_total", /prefix/],
    ["gauge", "QueueDepth", /snake_case/],
    ["gauge", "consumer_lag", /"_lag_records"/],
    ["gauge", "consumer_age_records", /"_seconds"/],
  ] as const)("rejects a %s named %s", (kind, name, why) => {
    const metrics = createMetrics({ service: "s", collectDefaults: false });
    expect(() => metrics[kind]({ name, help: "h" })).toThrow(why);
  });

  it("takes a lag counted in records", async () => {
    const metrics = createMetrics({ service: "s", collectDefaults: false });
    metrics.gauge({ name: "kafka_consumer_lag_records", help: "h" }).set(7);
    expect(await metrics.metrics()).toContain('parley_kafka_consumer_lag_records{service="s"} 7');
  });

  it.each(["phone", "wa_id", "recipient", "to", "service", "Outcome"])(
    "rejects the label %s",
    (label) => {
      const metrics = createMetrics({ service: "s", collectDefaults: false });
      expect(() =>
        metrics.counter({ name: "messages_total", help: "h", labelNames: [label] }),
      ).toThrow(MetricNameError);
    },
  );
});
