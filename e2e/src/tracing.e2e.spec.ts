import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { EventOf } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPathStack, type PathStack } from "./path-stack.js";
import { freePort, repoRoot, type ServiceProcess } from "./processes.js";
import {
  dashboardQueries,
  definedMetrics,
  expositionMetrics,
  promqlMetricNames,
  seriesNames,
} from "./tracing-metrics.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./tracing-receiver.js";

// Invariant 12 end to end (issue 25): the real services export spans over OTLP/HTTP to a
// receiver this test runs (tracing-receiver.ts says why not a collector); one send is one trace
// from the HTTP send API through the router and the sender to the Graph call; each of its
// status webhooks is processed in a trace of its own that links back to it; every log line
// naming the request or its message carries one of those traces' ids. Prometheus, started as
// `make dev` starts it, scrapes the services with the ops token and loads the alert rules.

const OPS_TOKEN = "e2e-tracing-ops-token";
const APP_SECRET = "e2e-tracing-app-secret";
const GRAPH_TOKEN = "e2e-tracing-graph-token";
const API_KEY = "e2e-tracing-api-key-0123456789";
const WABA = "102290129340377";
const NUMBER = "106540352242977";
const WA_ID = "16505550177";

let receiver: OtlpReceiver;
let path: PathStack;
let sendApiPort = 0;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  path = await startPathStack({
    name: "tracing",
    opsToken: OPS_TOKEN,
    appSecret: APP_SECRET,
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [
        { phoneNumberId: NUMBER, wabaId: WABA, aliases: ["orders"], accessToken: GRAPH_TOKEN },
      ],
    }),
    simulator: {
      seed: "e2e-tracing",
      businesses: [
        { wabaId: WABA, phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100977" }] },
      ],
      statuses: {
        sentDelayMs: [20, 60],
        deliveredDelayMs: [50, 150],
        readDelayMs: [50, 150],
        readProbability: 1,
        skipDeliveredProbability: 0,
      },
    },
    read: ["send-outcomes", "statuses", "conversation-windows"],
  });
  // Spans leave each service within 200 ms; debug logs, so that every line of the send shows.
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: "200",
    LOG_LEVEL: "debug",
  };
  sendApiPort = await freePort();
  services.push(
    await path.start("ingress", {
      ...otel,
      SEND_API_PORT: String(sendApiPort),
      SEND_API_KEYS: JSON.stringify([
        {
          id: "orders",
          keySha256: createHash("sha256").update(API_KEY).digest("hex"),
          scopes: ["messages:send", "messages:read"],
          requester: "orders",
        },
      ]),
    }),
    await path.start("router", otel),
    await path.start("sender", otel),
  );
}, 420_000);

afterAll(async () => {
  await path.stop();
  await receiver.close();
}, 120_000);

const spansOf = (traceId: string): ReceivedSpan[] =>
  receiver.spans.filter((s) => s.traceId === traceId);
const attr = (s: ReceivedSpan, ...keys: string[]): string =>
  keys
    .map((k) => s.attributes[k])
    .find((v) => v !== undefined)
    ?.toString() ?? "";

/** The JSON lines of a service's log (`.parley/e2e-tracing/<ns>/<instance>.log`). */
function logLines(service: ServiceProcess): Record<string, unknown>[] {
  const file = join(repoRoot, ".parley", "e2e-tracing", path.ns.id, `${service.name}.log`);
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A send over the HTTP send API; its request id. */
async function send(idempotencyKey: string, body: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${String(sendApiPort)}/v1/messages`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${API_KEY}`,
      "content-type": "application/json",
      "idempotency-key": idempotencyKey,
    },
    body: JSON.stringify({
      recipient: { phone: `+${WA_ID}` },
      sender: { kind: "alias", alias: "orders" },
      content: { type: "text", text: { body } },
      category: "utility",
    }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { requestId: string }).requestId;
}

/** The trace a send API request started: its server span's. */
async function traceOfRequest(requestId: string): Promise<string> {
  const publish = await waitFor(
    () =>
      receiver.spans.find(
        (s) =>
          s.service === "ingress" &&
          s.kind === 4 &&
          logLines(services[0] as ServiceProcess).some(
            (l) => l["requestId"] === requestId && l["trace_id"] === s.traceId,
          ),
      ),
    { timeoutMs: 30_000, description: `the send API's spans of ${requestId}` },
  );
  return publish.traceId;
}

/** Spans of other traces that link to `traceId`, once there are `count` of them. */
async function linksTo(traceId: string, count: number): Promise<ReceivedSpan[]> {
  return waitFor(
    () => {
      const found = receiver.spans.filter(
        (s) => s.traceId !== traceId && s.links.some((l) => l.traceId === traceId),
      );
      return found.length >= count ? found : undefined;
    },
    { timeoutMs: 30_000, description: `${String(count)} links to ${traceId}` },
  );
}

/** Log lines of the services that name the request or its message. */
const linesOf = (requestId: string, wamid: string) =>
  services.flatMap((service) =>
    logLines(service)
      .filter((l) => JSON.stringify(l).includes(requestId) || JSON.stringify(l).includes(wamid))
      .map((l) => ({ service: service.name, msg: l["msg"], trace_id: l["trace_id"] })),
  );

describe("one trace per send (invariant 12)", () => {
  it("spans send API, router, sender and the Graph call; statuses link back; the send's log lines carry its trace ids", async () => {
    // The contact writes first, so that a free-form message may go out.
    path.sim.addUser({ waId: WA_ID });
    path.sim.userSends(WA_ID, { type: "text", body: "hello" }, { phoneNumberId: NUMBER });
    await waitFor(
      () =>
        path.seen.some((e) => e.type === "ConversationWindowOpened" && e.businessNumber === NUMBER),
      { timeoutMs: 30_000, description: "the contact's window open" },
    );

    const requestId = await send("tracing-1", "Your order is on its way");

    const accepted = await waitFor(
      () =>
        path.seen.find(
          (e): e is EventOf<"SendAccepted"> =>
            e.type === "SendAccepted" && e.correlationId === requestId,
        ),
      { timeoutMs: 30_000, description: "SendAccepted for the request" },
    );
    const { wamid } = accepted.data;
    const statuses = ["sent", "delivered", "read"] as const;
    await waitFor(
      () =>
        statuses.every((status) =>
          path.seen.some(
            (e) => e.type === "StatusUpdated" && e.data.wamid === wamid && e.data.status === status,
          ),
        ),
      { timeoutMs: 30_000, description: "the sent, delivered and read statuses" },
    );

    // The send's trace: it starts at the send API's server span.
    const root = await waitFor(
      () =>
        receiver.spans.find(
          (s) =>
            s.service === "ingress" &&
            s.kind === 2 &&
            attr(s, "http.request.method", "http.method") === "POST" &&
            attr(s, "url.path", "http.target").startsWith("/v1/messages"),
        ),
      { timeoutMs: 30_000, description: "the send API's server span" },
    );
    const sendTrace = root.traceId;
    expect(await traceOfRequest(requestId)).toBe(sendTrace);
    const graphCall = (s: ReceivedSpan) =>
      s.service === "sender" && s.kind === 3 && attr(s, "url.full").includes(`/${NUMBER}/messages`);
    await waitFor(
      () => {
        const spans = spansOf(sendTrace);
        const by = new Set(spans.map((s) => s.service));
        return by.has("router") && by.has("sender") && spans.some(graphCall);
      },
      { timeoutMs: 30_000, description: "router, sender and Graph call spans in the send's trace" },
    );
    const trace = spansOf(sendTrace);
    // Each hop's span: the publish of SendRequested, the router's decision, the dispatch, the
    // sender's handling of it and the Graph call, which the simulator saw with this trace.
    expect(trace.filter((s) => s.service === "ingress" && s.kind === 4).length).toBeGreaterThan(0);
    expect(trace.filter((s) => s.service === "router" && s.kind === 5).length).toBeGreaterThan(0);
    expect(trace.filter((s) => s.service === "router" && s.kind === 4).length).toBeGreaterThan(0);
    expect(trace.filter((s) => s.service === "sender" && s.kind === 5).length).toBeGreaterThan(0);
    expect(trace.filter(graphCall)).toHaveLength(1);
    const ids = new Set(trace.map((s) => s.spanId));
    // One tree: every span but the root has its parent in the trace.
    expect(trace.filter((s) => s.parentSpanId !== undefined && !ids.has(s.parentSpanId))).toEqual(
      [],
    );

    // Each status is processed in its webhook's own trace (ingress -> router -> sender), and the
    // sender's processing links to the send's trace.
    const linking = await linksTo(sendTrace, statuses.length);
    const statusTraces = new Set(linking.map((s) => s.traceId));
    expect(statusTraces.size).toBe(statuses.length);
    for (const span of linking) {
      expect(span.service).toBe("sender");
      expect(span.links.find((l) => l.traceId === sendTrace)?.attributes["parley.request_id"]).toBe(
        requestId,
      );
    }
    // Each service exports its spans in batches of its own: the status trace's ingress and
    // router spans may reach the receiver after the sender's.
    const hopsOf = (traceId: string) =>
      [...new Set(spansOf(traceId).map((s) => s.service))].sort().join(",");
    await waitFor(() => [...statusTraces].every((t) => hopsOf(t) === "ingress,router,sender"), {
      timeoutMs: 30_000,
      description: "every status trace's ingress, router and sender spans",
    });

    // Every log line that names the request or its message carries a trace id: the send's, or
    // (processing a status) one of the traces that link to it.
    const known = new Set([sendTrace, ...statusTraces]);
    const lines = linesOf(requestId, wamid);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => typeof l.trace_id !== "string" || !known.has(l.trace_id))).toEqual(
      [],
    );
    expect(lines.some((l) => l.trace_id === sendTrace)).toBe(true);
    expect(receiver.refused).toBe(0);
  });

  it("keeps a retried call and Meta's later failure in the send's trace and its links, logs included", async () => {
    // Graph answers the first call 500 (retried with back-off), takes the second, then fails
    // the message by webhook.
    path.sim.scriptFaults(
      [
        { kind: "error", code: 131000, http: 500 },
        { kind: "fail-async", code: 131026, afterMs: 100 },
      ],
      { endpoint: "messages", to: WA_ID },
    );
    const requestId = await send("tracing-2", "Your order was delayed");
    const failed = await waitFor(
      () =>
        path.seen.find(
          (e): e is EventOf<"SendFailed"> =>
            e.type === "SendFailed" && e.correlationId === requestId && e.data.phase === "async",
        ),
      { timeoutMs: 30_000, description: "the async SendFailed of the request" },
    );
    const wamid = failed.data.wamid ?? "";
    const sendTrace = await traceOfRequest(requestId);
    const graphCalls = await waitFor(
      () => {
        const calls = spansOf(sendTrace).filter(
          (s) =>
            s.service === "sender" &&
            s.kind === 3 &&
            attr(s, "url.full").includes(`/${NUMBER}/messages`),
        );
        return calls.length === 2 ? calls : undefined;
      },
      { timeoutMs: 30_000, description: "both Graph calls in the send's trace" },
    );
    expect(graphCalls.map((s) => s.attributes["http.response.status_code"]).sort()).toEqual([
      200, 500,
    ]);
    // Its failed status links back.
    const linking = await linksTo(sendTrace, 1);
    const statusTraces = new Set(linking.map((s) => s.traceId));
    const lines = linesOf(requestId, wamid);
    const messages = lines.map((l) => String(l.msg));
    // The retry is logged in the send's trace, Meta's failure in a status trace linked to it.
    const retry = lines.find((l) => String(l.msg).startsWith("Graph refused the send"));
    const failure = lines.find((l) => String(l.msg).startsWith("Meta failed an accepted message"));
    expect(messages).toEqual(expect.arrayContaining([retry?.msg, failure?.msg]));
    expect(retry?.trace_id).toBe(sendTrace);
    expect(statusTraces.has(String(failure?.trace_id))).toBe(true);
    const known = new Set([sendTrace, ...statusTraces]);
    expect(lines.filter((l) => typeof l.trace_id !== "string" || !known.has(l.trace_id))).toEqual(
      [],
    );
  });
});

describe("metrics", () => {
  it("exports the chassis's Kafka series and every metric the dashboards query", async () => {
    const families = new Map<string, string>();
    for (const service of services) {
      const res = await fetch(`${service.url}/metrics`, {
        headers: { authorization: `Bearer ${OPS_TOKEN}` },
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      for (const [name, type] of expositionMetrics(text)) families.set(name, type);
      if (service.name.startsWith("router") || service.name.startsWith("sender"))
        expect(text).toMatch(/^parley_kafka_consumer_lag_records\{[^}]*group="[^"]+"[^}]*\} \d+/m);
    }
    const live = seriesNames(families);
    // The projection and media do not run here: their series are checked against their definitions.
    const projection = seriesNames(
      new Map(
        [...definedMetrics(repoRoot)].filter(
          ([name]) => name.startsWith("parley_projection_") || name.startsWith("parley_media_"),
        ),
      ),
    );
    const missing = dashboardQueries(join(repoRoot, "infra/grafana/dashboards")).flatMap((q) =>
      promqlMetricNames(q.expr).filter((n) => n !== "up" && !live.has(n) && !projection.has(n)),
    );
    expect([...new Set(missing)]).toEqual([]);
  });

  it("Prometheus, started as make dev starts it, scrapes every service and loads the alert rules", async () => {
    const state = mkdtempSync(join(tmpdir(), "parley-prometheus-"));
    const tokenFile = join(state, "ops-token");
    writeFileSync(tokenFile, OPS_TOKEN);
    const port = await freePort();
    const targets = services.map((s) => `${s.name}=${s.url.replace("http://", "")}`);
    const run = (command: string, ...args: string[]) =>
      promisify(execFile)(
        "bash",
        [
          "-c",
          `source infra/scripts/bootstrap.sh && ensure_prometheus && source infra/prometheus/prometheus.sh && ${command} "$@"`,
          "prometheus",
          ...args,
        ],
        { cwd: repoRoot },
      );
    await run("prometheus_start", state, String(port), tokenFile, ...targets);
    try {
      const base = `http://127.0.0.1:${String(port)}`;
      await waitFor(
        async () => {
          const body = (await (await fetch(`${base}/api/v1/targets`)).json()) as {
            data: { activeTargets: { labels: Record<string, string>; health: string }[] };
          };
          const parley = body.data.activeTargets.filter((t) => t.labels["job"] === "parley");
          return parley.length === services.length && parley.every((t) => t.health === "up");
        },
        { timeoutMs: 60_000, intervalMs: 500, description: "every service's target up" },
      );
      const rules = (await (await fetch(`${base}/api/v1/rules?type=alert`)).json()) as {
        data: { groups: { rules: { name: string }[] }[] };
      };
      const names = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name));
      expect(names).toContain("ConsumerLagGrowing");
      expect(names).toContain("WebhookSignatureFailures");
      // The lag reaches Prometheus too (the chassis reads it from Kafka at each scrape).
      const query = `${base}/api/v1/query?query=${encodeURIComponent("count(parley_kafka_consumer_lag_records)")}`;
      await waitFor(
        async () => {
          const body = (await (await fetch(query)).json()) as {
            data: { result: { value: [number, string] }[] };
          };
          return Number(body.data.result[0]?.value[1] ?? 0) > 0;
        },
        { timeoutMs: 30_000, intervalMs: 500, description: "consumer lag series in Prometheus" },
      );
    } finally {
      await run("prometheus_stop", state);
      rmSync(state, { recursive: true, force: true });
    }
  });
});
