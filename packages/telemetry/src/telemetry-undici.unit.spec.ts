import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTelemetry, type Telemetry } from "./telemetry.js";

/* undici (the Graph client's Agent) is traced: a client span inside the caller's trace, its
 * traceparent sent along, secret query values left out; no span outside a trace. */

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const exported: string[] = [];
const collector = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    exported.push(Buffer.concat(chunks).toString());
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
const seen: IncomingHttpHeaders[] = [];
const graph = createServer((req, res) => {
  seen.push(req.headers);
  res.writeHead(200, { "content-type": "application/json" }).end('{"messages":[{"id":"wamid.X"}]}');
});

let telemetry: Telemetry;
let graphUrl = "";
const agent = new Agent({ keepAliveTimeout: 1_000 });

beforeAll(async () => {
  telemetry = startTelemetry({ serviceName: "sender", otlpEndpoint: await listen(collector) });
  graphUrl = await listen(graph);
});

afterAll(async () => {
  await agent.close();
  graph.close();
  collector.close();
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: number } }[];
}

const spansOf = (bodies: readonly string[]): OtlpSpan[] =>
  bodies.flatMap((b) =>
    (
      JSON.parse(b) as {
        resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
      }
    ).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
  );

describe("undici instrumentation", () => {
  it("traces a call inside a trace as a client span, propagates it and redacts secret query values", async () => {
    const { traceId, spanId } = await trace
      .getTracer("test")
      .startActiveSpan("graph send", async (span) => {
        const res = await request(
          `${graphUrl}/v21.0/106540352242922/messages?access_token=s3cret`,
          {
            method: "POST",
            body: "{}",
            dispatcher: agent,
          },
        );
        await res.body.text();
        span.end();
        return span.spanContext();
      });
    // Outside any trace: no span, and no traceparent invented for it.
    const res = await request(`${graphUrl}/v21.0/message_templates`, { dispatcher: agent });
    await res.body.text();
    await telemetry.shutdown();

    const spans = spansOf(exported);
    const client = spans.filter((s) => s.kind === 3);
    expect(client).toHaveLength(1);
    expect(client[0]).toMatchObject({ traceId, parentSpanId: spanId, name: "POST" });
    const attribute = (key: string) => client[0]?.attributes.find((a) => a.key === key)?.value;
    expect(attribute("url.full")?.stringValue).toBe(
      `${graphUrl}/v21.0/106540352242922/messages?access_token=REDACTED`,
    );
    expect(attribute("http.response.status_code")?.intValue).toBe(200);
    expect(exported.join("")).not.toContain("s3cret");
    expect(seen[0]?.["traceparent"]).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(seen[1]?.["traceparent"]).toBeUndefined();
  });
});
