import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { EventOf } from "@parley/contracts";
import { createMetrics, type Metrics } from "@parley/telemetry";
import { createRateLimiter } from "../../admission/rate-limit.js";
import { createAcceptSend, type PublishSendRequested } from "../../sending/accept.js";
import type { ApiKeyEntry } from "../../config.js";
import { createAuthenticator, hashApiKey } from "@parley/runtime";
import { createMemorySendRecordStore } from "../../sending/memory-store.js";
import { createSendApiMetrics } from "../../metrics.js";
import { sendApiRoutes } from "./send-routes.js";
import { startSendApiServer, type SendApiServer } from "./send-server.js";

const SEND_KEY = "orders-send-key-0123";
const READ_KEY = "orders-read-key-4567";
const OTHER_KEY = "payments-key-890123";
const keys: ApiKeyEntry[] = [
  {
    id: "orders",
    keySha256: hashApiKey(SEND_KEY),
    scopes: ["messages:send"],
    requester: "orders",
  },
  {
    id: "orders",
    keySha256: hashApiKey(READ_KEY),
    scopes: ["messages:read"],
    requester: "orders",
  },
  {
    id: "payments",
    keySha256: hashApiKey(OTHER_KEY),
    scopes: ["messages:send", "messages:read"],
    requester: "payments",
  },
];

const body = {
  contactId: "16505551234",
  recipient: { phone: "16505551234" },
  sender: { kind: "alias", alias: "orders" },
  content: { type: "text", text: { body: "Your order 42 has shipped" } },
  category: "utility",
};

interface Harness {
  readonly url: string;
  readonly published: EventOf<"SendRequested">[];
  readonly metrics: Metrics;
  readonly logged: string[];
  kafkaUp: boolean;
}

const running: SendApiServer[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

/** Every (route, status) the tests saw, checked against the OpenAPI document at the end. */
const observed = new Set<string>();

async function start({ ratePerSecond = 0, bodyLimitBytes = 4096 } = {}): Promise<Harness> {
  const metrics = createMetrics({ service: "send-api-test", collectDefaults: false });
  const store = createMemorySendRecordStore({ retentionMs: 7 * 24 * 60 * 60 * 1000 });
  const logged: string[] = [];
  const log = (fields: unknown, message?: string) => {
    logged.push(JSON.stringify(fields) + (message ?? ""));
  };
  const h: Harness = { url: "", published: [], metrics, logged, kafkaUp: true };
  const publish: PublishSendRequested = (event) => {
    if (!h.kafkaUp) return Promise.reject(new Error("broker down"));
    h.published.push(event);
    return Promise.resolve();
  };
  const sendApiMetrics = createSendApiMetrics(metrics);
  const server = await startSendApiServer({
    host: "127.0.0.1",
    port: 0,
    authenticator: createAuthenticator({ api: "messages", keys }),
    store,
    acceptSend: createAcceptSend({
      store,
      publish,
      metrics: sendApiMetrics,
      publishTimeoutMs: 200,
    }),
    bodyLimitBytes,
    rateLimiter: createRateLimiter({ ratePerSecond, burst: 1 }),
    metrics: sendApiMetrics,
    logger: { info: log, warn: log, error: log, debug: log },
  });
  running.push(server);
  return Object.assign(h, { url: `http://127.0.0.1:${server.port}` });
}

interface CallOptions {
  readonly method?: string;
  readonly path?: string;
  /** null leaves the header (or the body) out. */
  readonly key?: string | null;
  readonly idempotencyKey?: string | null;
  readonly contentType?: string;
  readonly payload?: string | null;
  readonly authorization?: string | null;
}

async function call(
  h: Harness,
  {
    method = "POST",
    path = "/v1/messages",
    key = SEND_KEY,
    idempotencyKey = "orders:42:shipped",
    contentType = "application/json",
    payload = JSON.stringify(body),
    authorization = null,
  }: CallOptions = {},
) {
  const headers: Record<string, string> = {};
  if (authorization !== null) headers["authorization"] = authorization;
  else if (key !== null) headers["authorization"] = `Bearer ${key}`;
  if (idempotencyKey !== null) headers["idempotency-key"] = idempotencyKey;
  if (payload !== null) headers["content-type"] = contentType;
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers,
    ...(payload === null || method === "GET" ? {} : { body: payload }),
  });
  const template = path.startsWith("/v1/messages/") ? "/v1/messages/{requestId}" : path;
  observed.add(`${method.toLowerCase()} ${template} ${res.status}`);
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>,
  };
}

describe("POST /v1/messages", () => {
  it("202 with the request id and a Location, after the publish; requester from the key", async () => {
    const h = await start();
    const res = await call(h);
    expect(res.status).toBe(202);
    const requestId = res.json["requestId"] as string;
    expect(res.headers.get("location")).toBe(`/v1/messages/${requestId}`);
    expect(res.json).toMatchObject({ idempotencyKey: "orders:42:shipped" });
    expect(h.published).toHaveLength(1);
    expect(h.published[0]).toMatchObject({
      correlationId: requestId,
      data: { requester: "orders", contactId: "16505551234" },
    });
  });

  it("a repeated key: 200 with the original request id, Idempotent-Replayed, nothing new published", async () => {
    const h = await start();
    const first = await call(h);
    const again = await call(h, { payload: JSON.stringify({ ...body }, null, 2) });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json["requestId"]).toBe(first.json["requestId"]);
    expect(h.published).toHaveLength(1);
  });

  it("409 problem naming the original request when the key comes back with another body", async () => {
    const h = await start();
    const first = await call(h);
    const res = await call(h, { payload: JSON.stringify({ ...body, category: "marketing" }) });
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({
      type: "urn:parley:problem:idempotency-key-conflict",
      status: 409,
      requestId: first.json["requestId"],
    });
    expect(h.published).toHaveLength(1);
  });

  it("scopes keys per principal: another key's same Idempotency-Key is a new request", async () => {
    const h = await start();
    const orders = await call(h);
    const payments = await call(h, { key: OTHER_KEY });
    expect(payments.status).toBe(202);
    expect(payments.json["requestId"]).not.toBe(orders.json["requestId"]);
    expect(h.published[1]?.data.requester).toBe("payments");
  });

  it("503 with Retry-After when Kafka cannot take it; the retry publishes the same event", async () => {
    const h = await start();
    h.kafkaUp = false;
    const res = await call(h);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.json).toMatchObject({ type: "urn:parley:problem:unavailable", status: 503 });
    h.kafkaUp = true;
    const retry = await call(h);
    expect(retry.status).toBe(200);
    expect(h.published).toHaveLength(1);
    expect(h.published[0]?.correlationId).toBe(retry.json["requestId"]);
  });

  it("400 problem listing every issue with JSON pointers", async () => {
    const h = await start();
    const res = await call(h, {
      idempotencyKey: null,
      payload: JSON.stringify({
        contactId: "16505551234",
        recipient: {},
        sender: { kind: "pager" },
        content: { type: "text", text: {} },
        requester: "someone-else",
        extra: true,
      }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ type: "urn:parley:problem:invalid-request", status: 400 });
    const errors = res.json["errors"] as { pointer?: string; header?: string; detail: string }[];
    expect(errors.map((e) => e.pointer ?? e.header)).toEqual(
      expect.arrayContaining([
        "Idempotency-Key",
        "/requester",
        "/extra",
        "/sender/kind",
        "/content/text/body",
        "/category",
      ]),
    );
    expect(h.published).toHaveLength(0);
  });

  it("400 problem for a body that is not JSON", async () => {
    const h = await start();
    const res = await call(h, { payload: "{not json" });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ type: "urn:parley:problem:malformed-json" });
  });

  it("401 with WWW-Authenticate without a key, with a malformed header, or an unknown key; the key is never logged", async () => {
    const h = await start();
    const missing = await call(h, { key: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="parley-send-api"');
    const basic = await call(h, { authorization: "Basic b3JkZXJzOnNlY3JldA==" });
    expect(basic.status).toBe(401);
    const unknown = await call(h, { key: "not-a-configured-key-xyz" });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
    expect(unknown.json).toMatchObject({ type: "urn:parley:problem:unauthorized", status: 401 });
    expect(h.published).toHaveLength(0);
    expect(h.logged.join("\n")).not.toMatch(/not-a-configured-key-xyz|b3JkZXJzOnNlY3JldA/);
    const metrics = await h.metrics.metrics();
    expect(metrics).toMatch(
      /parley_send_api_auth_failures_total\{[^}]*reason="unknown_key"[^}]*\} 1/,
    );
    expect(metrics).toMatch(/parley_send_api_auth_failures_total\{[^}]*reason="missing"[^}]*\} 1/);
  });

  it("403 for a key without messages:send", async () => {
    const h = await start();
    const res = await call(h, { key: READ_KEY });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toMatch(/insufficient_scope.*messages:send/);
    expect(res.json).toMatchObject({ type: "urn:parley:problem:insufficient-scope" });
  });

  it("413 over the body limit, 415 for another content type or none", async () => {
    const h = await start({ bodyLimitBytes: 1024 });
    const big = { ...body, metadata: { note: "x".repeat(2000) } };
    const tooLarge = await call(h, { payload: JSON.stringify(big) });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json).toMatchObject({ type: "urn:parley:problem:body-too-large" });
    const text = await call(h, { contentType: "text/plain" });
    expect(text.status).toBe(415);
    const none = await call(h, { payload: null });
    expect(none.status).toBe(415);
    expect(h.published).toHaveLength(0);
  });

  it("429 with Retry-After past the per-key rate", async () => {
    const h = await start({ ratePerSecond: 1 });
    expect((await call(h)).status).toBe(202);
    const limited = await call(h);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
  });

  it("405 for another method", async () => {
    const h = await start();
    const res = await call(h, { method: "PUT" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("counts requests by outcome and publish latency", async () => {
    const h = await start();
    await call(h);
    await call(h);
    const metrics = await h.metrics.metrics();
    expect(metrics).toMatch(/parley_send_api_requests_total\{[^}]*outcome="accepted"[^}]*\} 1/);
    expect(metrics).toMatch(/parley_send_api_requests_total\{[^}]*outcome="replayed"[^}]*\} 1/);
    expect(metrics).toMatch(/parley_send_api_publish_seconds_count\{[^}]*result="ok"[^}]*\} 1/);
  });
});

describe("GET /v1/messages/{requestId}", () => {
  it("200 with what ingress knows, for a key of the same id with messages:read", async () => {
    const h = await start();
    const sent = await call(h);
    const requestId = sent.json["requestId"] as string;
    const res = await call(h, { method: "GET", path: `/v1/messages/${requestId}`, key: READ_KEY });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      requestId,
      idempotencyKey: "orders:42:shipped",
      requester: "orders",
      state: "published",
    });
  });

  it("404 for another principal's request or an unknown id; 403 without messages:read", async () => {
    const h = await start();
    const sent = await call(h);
    const path = `/v1/messages/${sent.json["requestId"] as string}`;
    expect((await call(h, { method: "GET", path, key: OTHER_KEY })).status).toBe(404);
    expect(
      (await call(h, { method: "GET", path: "/v1/messages/nope", key: READ_KEY })).status,
    ).toBe(404);
    expect((await call(h, { method: "GET", path, key: SEND_KEY })).status).toBe(403);
    expect((await call(h, { method: "DELETE", path, key: READ_KEY })).status).toBe(405);
  });
});

afterAll(() => {
  // Every answer the tests saw is one the route table (and so the OpenAPI document) promises.
  const promised = new Set(
    sendApiRoutes.flatMap((r) => r.statuses.map((s) => `${r.method} ${r.path} ${s}`)),
  );
  const undocumented = [...observed].filter((o) => !promised.has(o) && !/^(put|delete)/.test(o));
  expect(undocumented).toEqual([]);
});
