import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTelemetry, type Telemetry } from "./telemetry.js";

/* With an endpoint: spans reach an OTLP/HTTP collector, here a tiny server on 127.0.0.1. */

interface Export {
  url: string;
  contentType: string | undefined;
  body: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const exports: Export[] = [];
const collector = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    exports.push({
      url: req.url ?? "",
      contentType: req.headers["content-type"],
      body: Buffer.concat(chunks).toString(),
    });
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
const app = createServer((_req, res) => res.end("ok"));

let telemetry: Telemetry;
let appUrl = "";

beforeAll(async () => {
  process.env["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.region=test-east";
  const collectorUrl = await listen(collector);
  telemetry = startTelemetry({
    serviceName: "sender",
    serviceVersion: "0.1.0",
    otlpEndpoint: `${collectorUrl}/`,
  });
  appUrl = await listen(app);
});

afterAll(() => {
  app.close();
  collector.close();
});

describe("startTelemetry with an OTLP endpoint", () => {
  it("exports the spans of one trace, client and server, to <endpoint>/v1/traces when shut down", async () => {
    expect(telemetry.tracesEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/traces$/);
    const traceId = await trace
      .getTracer("test")
      .startActiveSpan("dispatch message", async (span) => {
        await new Promise<void>((resolve, reject) => {
          request(`${appUrl}/v21.0/123/messages?access_token=not-for-traces`, (res) => {
            res.resume();
            res.on("end", resolve);
          })
            .on("error", reject)
            .end();
        });
        span.end();
        return span.spanContext().traceId;
      });

    expect(exports).toEqual([]); // batched until the flush
    await telemetry.shutdown();

    const traces = exports.filter((e) => e.url === "/v1/traces");
    expect(traces.length).toBeGreaterThan(0);
    expect(traces[0]?.contentType).toContain("application/json");
    const body = traces.map((e) => e.body).join("\n");
    expect(body).toContain('"stringValue":"sender"');
    expect(body).toContain('"stringValue":"0.1.0"');
    // the resource: ours, plus the host, process and OTEL_RESOURCE_ATTRIBUTES detectors
    expect(body).toContain('{"key":"service.namespace","value":{"stringValue":"parley"}}');
    expect(body).toContain('"key":"host.name"');
    expect(body).toContain(`{"key":"process.pid","value":{"intValue":${process.pid}}}`);
    expect(body).toContain('{"key":"deployment.region","value":{"stringValue":"test-east"}}');
    expect(body).toContain("dispatch message");
    expect(body).toContain(traceId);
    // kind 2 = server, kind 3 = client: both ends of the http call are in the trace
    expect(body).toContain('"kind":2');
    expect(body).toContain('"kind":3');
    expect(body).not.toContain("not-for-traces");
    expect(exports.every((e) => e.url === "/v1/traces")).toBe(true);
  });
});
