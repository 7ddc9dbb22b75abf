import { createEvent } from "@parley/contracts";
import { createLogger, createMetrics } from "@parley/telemetry";
import { describe, expect, it } from "vitest";
import { createInboundMetrics } from "./metrics.js";

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
});
