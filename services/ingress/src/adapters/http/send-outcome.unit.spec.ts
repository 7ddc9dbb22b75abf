import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createMetrics } from "@parley/telemetry";
import { afterEach, describe, expect, it } from "vitest";
import { createRateLimiter } from "../../admission/rate-limit.js";
import { configSchema, type ApiKeyEntry } from "../../config.js";
import { createSendApiMetrics } from "../../metrics.js";
import { createAcceptSend } from "../../sending/accept.js";
import { createMemorySendRecordStore } from "../../sending/memory-store.js";
import {
  OutcomesUnavailableError,
  type ProjectedRequest,
  type RequestOutcomes,
} from "../../sending/outcomes.js";
import { createAuthenticator, hashApiKey } from "@parley/runtime";
import { createProjectionClient } from "./projection-client.js";
import { startSendApiServer, type SendApiServer } from "./send-server.js";

// The send API's GET with the projection's read models behind it (ADR 0011): the request's
// final word and status timeline from the projection's query API, ingress's record beside it.

const KEY = "orders-key-0123456789";
const keys: ApiKeyEntry[] = [
  {
    id: "orders",
    keySha256: hashApiKey(KEY),
    scopes: ["messages:send", "messages:read"],
    requester: "orders",
  },
];
const running: (SendApiServer | Server)[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    if ("stop" in s) await s.stop();
    else await new Promise((r) => s.close(r));
  }
});

async function start(outcomes: RequestOutcomes) {
  const metrics = createSendApiMetrics(createMetrics({ service: "t", collectDefaults: false }));
  const store = createMemorySendRecordStore({ retentionMs: 86_400_000 });
  const silent = () => undefined;
  const server = await startSendApiServer({
    host: "127.0.0.1",
    port: 0,
    authenticator: createAuthenticator({ api: "messages", keys }),
    store,
    outcomes,
    acceptSend: createAcceptSend({
      store,
      publish: () => Promise.resolve(),
      metrics,
      publishTimeoutMs: 500,
    }),
    bodyLimitBytes: 4096,
    rateLimiter: createRateLimiter({ ratePerSecond: 0, burst: 1 }),
    metrics,
    logger: { info: silent, warn: silent, error: silent, debug: silent },
  });
  running.push(server);
  const url = `http://127.0.0.1:${String(server.port)}`;
  const posted = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${KEY}`,
      "content-type": "application/json",
      "idempotency-key": "k-1",
    },
    body: JSON.stringify({
      recipient: { phone: "+16505551234" },
      sender: { kind: "alias", alias: "orders" },
      content: { type: "text", text: { body: "hi" } },
      category: "utility",
    }),
  });
  const { requestId } = (await posted.json()) as { requestId: string };
  const get = () =>
    fetch(`${url}/v1/messages/${requestId}`, { headers: { authorization: `Bearer ${KEY}` } });
  return { requestId, get };
}

const projected: ProjectedRequest = {
  status: "failed",
  final: { status: "failed", outcomeType: "SendFailed", phase: "async", code: 131047 },
  messages: [
    {
      wamid: "wamid.A",
      status: "failed",
      timeline: [
        { status: "sent", at: "2026-03-01T10:00:01.000Z" },
        { status: "failed", at: "2026-03-01T10:00:09.000Z", errors: [{ code: 131047 }] },
      ],
    },
    {
      wamid: "wamid.B",
      status: "read",
      timeline: [{ status: "read", at: "2026-03-01T10:00:05.000Z" }],
    },
  ],
};

describe("GET /v1/messages/{requestId} with the projection", () => {
  it("answers with ingress's record, the final word and every status in Meta's time order", async () => {
    const asked: string[] = [];
    const { requestId, get } = await start({
      lookup: (id) => {
        asked.push(id);
        return Promise.resolve(projected);
      },
    });
    const res = await get();
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(asked).toEqual([requestId]);
    expect(body).toMatchObject({
      requestId,
      state: "published",
      decision: "failed",
      outcome: { status: "failed", phase: "async", code: 131047 },
    });
    expect(
      (body["statuses"] as { wamid: string; status: string }[]).map(
        (s) => `${s.wamid} ${s.status}`,
      ),
    ).toEqual(["wamid.A sent", "wamid.B read", "wamid.A failed"]);
  });

  it("says outcome null while the projection has not seen the request yet", async () => {
    const { get } = await start({ lookup: () => Promise.resolve(undefined) });
    const body = (await (await get()).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ outcome: null, decision: null, statuses: [], messages: [] });
  });

  it("answers 503 with Retry-After when the projection cannot be asked", async () => {
    const { get } = await start({
      lookup: () => Promise.reject(new OutcomesUnavailableError("down")),
    });
    const res = await get();
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(res.headers.get("content-type")).toMatch(/problem\+json/);
  });
});

describe("the projection client", () => {
  async function projection(
    handler: (url: string, auth: string | undefined) => { status: number; body?: string } | "hang",
  ) {
    const server = createServer((req, res) => {
      const answer = handler(req.url ?? "", req.headers.authorization);
      if (answer === "hang") return;
      res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body ?? "{}");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    running.push(server);
    server.closeAllConnections();
    return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  }

  it("asks GET /v1/requests/{id} (URL-encoded) with its key, and reads 200 and 404", async () => {
    const seen: string[] = [];
    const url = await projection((path, auth) => {
      seen.push(`${path} ${auth ?? ""}`);
      return path.includes("missing")
        ? { status: 404 }
        : { status: 200, body: JSON.stringify(projected) };
    });
    const client = createProjectionClient({ url, key: "service-key-123", timeoutMs: 1_000 });
    expect(await client.lookup("a/b c")).toEqual(projected);
    expect(await client.lookup("missing")).toBeUndefined();
    expect(seen[0]).toBe("/v1/requests/a%2Fb%20c Bearer service-key-123");
  });

  it("fails as unavailable on a 5xx, a refused key, a body of another shape, or no answer in time", async () => {
    for (const answer of [
      { status: 503 },
      { status: 401 },
      { status: 200, body: "[1,2]" },
      "hang",
    ] as const) {
      const url = await projection(() => answer);
      const client = createProjectionClient({ url, key: "service-key-123", timeoutMs: 200 });
      await expect(client.lookup("r-1")).rejects.toBeInstanceOf(OutcomesUnavailableError);
    }
  });

  it("is configured with both PROJECTION_API_URL and PROJECTION_API_KEY, or neither", () => {
    const base = { OPS_TOKEN: "ops-token-123456" };
    expect(configSchema.safeParse(base).success).toBe(true);
    expect(
      configSchema.safeParse({ ...base, PROJECTION_API_URL: "http://127.0.0.1:8091" }).success,
    ).toBe(false);
    expect(
      configSchema.safeParse({
        ...base,
        PROJECTION_API_URL: "http://127.0.0.1:8091",
        PROJECTION_API_KEY: "a-service-key",
      }).success,
    ).toBe(true);
  });
});
