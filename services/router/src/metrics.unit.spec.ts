import { createEvent, exampleData, exampleEvent } from "@parley/contracts";
import { createLogger, createMetrics } from "@parley/telemetry";
import { describe, expect, it } from "vitest";
import { createInboundMetrics, createSendOutcomeMetrics } from "./metrics.js";

const NOW = new Date("2026-03-01T12:00:00.000Z");

describe("inbound metrics", () => {
  it("logs and counts webhook-level errors by code, once per error Meta reported (issue 29)", async () => {
    const metrics = createMetrics({ service: "router", collectDefaults: false });
    const lines: string[] = [];
    const logger = createLogger({
      service: "router",
      level: "info",
      destination: { write: (line: string) => void lines.push(line) },
    });
    const observer = createInboundMetrics(metrics, logger);
    const fact = createEvent(
      "WebhookErrorsReceived",
      {
        wabaId: "102290129340398",
        deliveryId: "d-1",
        phoneNumberId: "106540352242922",
        errors: [
          {
            code: 130429,
            title: "Rate limit hit",
            details: "Cloud API message throughput reached",
          },
          { code: 131000, title: "Something went wrong" },
        ],
      },
      { correlationId: "d-1", now: NOW },
    );
    observer.decided(fact, [fact]);
    // Meta's retry of the same webhook is a duplicate: not counted again.
    observer.decided(fact, []);
    const text = await metrics.metrics();
    expect(text).toMatch(/parley_router_webhook_errors_total\{[^}]*code="130429"[^}]*\} 1/);
    expect(text).toMatch(/parley_router_webhook_errors_total\{[^}]*code="131000"[^}]*\} 1/);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toEqual([
      expect.objectContaining({
        level: "warn",
        code: 130429,
        title: "Rate limit hit",
        // Long digit strings are masked by the logger, as phone numbers are.
        phoneNumberId: "10*********2922",
        deliveryId: "d-1",
        msg: "Meta reported a webhook-level error",
      }),
      expect.objectContaining({ code: 131000 }),
    ]);
  });

  it("counts statuses by status, their error codes, and delivered billable messages by category", async () => {
    const metrics = createMetrics({ service: "router", collectDefaults: false });
    const observer = createInboundMetrics(metrics);
    const status = (data: Partial<typeof exampleData.StatusUpdated>) =>
      createEvent(
        "StatusUpdated",
        { ...exampleData.StatusUpdated, ...data },
        { correlationId: "d-1", now: NOW },
      );
    const events = [
      status({ status: "sent" }),
      status({ status: "delivered" }),
      status({
        status: "delivered",
        pricing: { pricingModel: "PMP", type: "free_customer_service", category: "service" },
      }),
      status({
        status: "delivered",
        pricing: { pricingModel: "PMP", type: "regular", category: "Marketing Lite!" },
      }),
      status({ status: "read" }),
      status({
        status: "failed",
        pricing: undefined,
        errors: [{ code: 131047 }, { code: 131026 }],
      }),
    ];
    for (const event of events) observer.decided(event, [event]);
    // Meta's repeat of a status decides nothing: not counted again.
    observer.decided(events[1] as (typeof events)[number], []);
    const text = await metrics.metrics();
    const value = (series: string, labels: string): number =>
      Number(new RegExp(`^parley_${series}\\{${labels}[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    expect(value("router_statuses_total", 'status="delivered"')).toBe(3);
    expect(value("router_statuses_total", 'status="failed"')).toBe(1);
    expect(value("router_status_errors_total", 'code="131047"')).toBe(1);
    expect(value("router_billable_messages_total", 'category="utility"')).toBe(1);
    // A free message costs nothing; a category outside Meta's vocabulary is "other".
    expect(value("router_billable_messages_total", 'category="service"')).toBe(0);
    expect(value("router_billable_messages_total", 'category="other"')).toBe(1);
  });
});

describe("send outcome metrics", () => {
  it("counts outcomes by type, Graph error code and business number", async () => {
    const metrics = createMetrics({ service: "router", collectDefaults: false });
    const observe = createSendOutcomeMetrics(metrics);
    const failed = exampleEvent("SendFailed");
    observe(failed);
    observe(failed);
    observe(exampleEvent("SendAccepted"));
    const text = await metrics.metrics();
    const code = String(failed.data.error.code ?? "");
    expect(text).toMatch(
      new RegExp(`parley_router_send_outcomes_total\\{type="SendFailed",code="${code}"[^}]*\\} 2`),
    );
    expect(text).toMatch(/parley_router_send_outcomes_total\{type="SendAccepted",code=""[^}]*\} 1/);
  });
});
