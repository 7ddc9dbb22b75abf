import { afterEach, describe, expect, it } from "vitest";
import { metaJsonStringify, signWebhookBody } from "@parley/cloud-api";
import { createMetrics, type Metrics } from "@parley/telemetry";
import { createRateLimiter } from "../../admission/rate-limit.js";
import { createWebhookMetrics } from "../../metrics.js";
import type { RawWebhookAppender, RawWebhookReceipt } from "../../webhooks/appender.js";
import { createRawWebhookAppender } from "../kafka/raw-appender.js";
import { parseCidr } from "../../config.js";
import { createAllowList } from "./allow-list.js";
import {
  startWebhookServer,
  WEBHOOK_PATH,
  type WebhookServer,
  type WebhookServerOptions,
} from "./webhook-server.js";

const SECRET = "app-secret-current-0123";
const PREVIOUS = "app-secret-previous-456";
const VERIFY = "verify-token-789";

interface Harness {
  readonly url: string;
  readonly server: WebhookServer;
  readonly received: RawWebhookReceipt[];
  readonly metrics: Metrics;
  readonly logged: string[];
}

const running: WebhookServer[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

const recording = (received: RawWebhookReceipt[]): RawWebhookAppender => ({
  append(receipt) {
    received.push(receipt);
    return Promise.resolve();
  },
});

async function start(
  overrides: Partial<WebhookServerOptions> = {},
  appender?: RawWebhookAppender,
): Promise<Harness> {
  const metrics = createMetrics({ service: "ingress-test", collectDefaults: false });
  const received: RawWebhookReceipt[] = [];
  const logged: string[] = [];
  const log = (fields: unknown, message?: string) => {
    logged.push(
      JSON.stringify(fields, (_k, v: unknown) => (v instanceof Error ? v.message : v)) +
        (message ?? ""),
    );
  };
  const server = await startWebhookServer({
    host: "127.0.0.1",
    port: 0,
    verifyToken: VERIFY,
    appSecrets: [SECRET, PREVIOUS],
    bodyLimitBytes: 3 * 1024 * 1024,
    trustProxy: false,
    rateLimiter: createRateLimiter({ ratePerSecond: 0, burst: 1 }),
    allowList: createAllowList([].map(parseCidr)),
    appender: appender ?? recording(received),
    metrics: createWebhookMetrics(metrics),
    logger: { info: log, warn: log, error: log },
    ...overrides,
  });
  running.push(server);
  return {
    url: `http://127.0.0.1:${server.port}${WEBHOOK_PATH}`,
    server,
    received,
    metrics,
    logged,
  };
}

async function counter(
  metrics: Metrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(`parley_${name}`);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([k, want]) => v.labels[k] === want),
  );
  return match?.value ?? 0;
}

const payload = {
  object: "whatsapp_business_account",
  entry: [
    {
      id: "102290129340398",
      changes: [
        {
          field: "messages",
          value: {
            messaging_product: "whatsapp",
            metadata: { display_phone_number: "15550783881", phone_number_id: "106540352242922" },
            contacts: [{ profile: { name: "Jos\u00e9 \u{1F600}" }, wa_id: "16505551234" }],
            messages: [
              {
                from: "16505551234",
                id: "wamid.abc",
                timestamp: "1750030073",
                type: "text",
                text: { body: "Ol\u00e1! https://x.example/a @ home \u{1F44D} SECRET-BODY-MARKER" },
              },
            ],
          },
        },
      ],
    },
  ],
};
/** Meta's wire form: non-ASCII as \uXXXX, "/" as "\/", "@" as \u0040. */
const metaBody = metaJsonStringify(payload);

const post = (url: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

describe("POST signature checks", () => {
  it("appends a correctly signed body byte for byte and answers 200", async () => {
    const h = await start();
    const signature = signWebhookBody(metaBody, SECRET);
    const res = await post(h.url, metaBody, {
      "x-hub-signature-256": signature,
      "user-agent": "facebookexternalua",
    });
    expect(res.status).toBe(200);
    expect(h.received).toHaveLength(1);
    const [receipt] = h.received;
    expect(receipt?.body.equals(Buffer.from(metaBody, "utf8"))).toBe(true);
    expect(receipt?.signature).toBe(signature);
    expect(receipt?.contentType).toBe("application/json");
    expect(receipt?.userAgent).toBe("facebookexternalua");
    expect(receipt?.sourceIp).toMatch(/127\.0\.0\.1/);
    expect(receipt?.routing).toEqual({
      phoneNumberIds: ["106540352242922"],
      wabaIds: ["102290129340398"],
      lane: "webhooks",
    });
    expect(receipt?.deliveryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await counter(h.metrics, "webhook_requests_total", { outcome: "accepted" })).toBe(1);
  });

  it("accepts the previous secret during a rotation", async () => {
    const h = await start();
    const res = await post(h.url, metaBody, {
      "x-hub-signature-256": signWebhookBody(metaBody, PREVIOUS),
    });
    expect(res.status).toBe(200);
    expect(h.received).toHaveLength(1);
  });

  it("refuses a body signed with another secret, counts it and appends nothing", async () => {
    const h = await start();
    const res = await post(h.url, metaBody, {
      "x-hub-signature-256": signWebhookBody(metaBody, "some-other-secret"),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(h.received).toHaveLength(0);
    expect(
      await counter(h.metrics, "webhook_signature_failures_total", { reason: "mismatch" }),
    ).toBe(1);
  });

  it("refuses a missing signature", async () => {
    const h = await start();
    const res = await post(h.url, metaBody);
    expect(res.status).toBe(401);
    expect(h.received).toHaveLength(0);
    expect(
      await counter(h.metrics, "webhook_signature_failures_total", { reason: "missing" }),
    ).toBe(1);
    expect(
      await counter(h.metrics, "webhook_requests_total", { outcome: "signature_missing" }),
    ).toBe(1);
  });

  it.each([
    ["sha256= with garbage", "sha256=zzzz"],
    ["a sha1 signature", "sha1=0123456789abcdef0123456789abcdef01234567"],
    ["a bare hex digest", signWebhookBody(metaBody, SECRET).slice("sha256=".length)],
    ["a truncated digest", signWebhookBody(metaBody, SECRET).slice(0, -2)],
  ])("refuses %s", async (_label, header) => {
    const h = await start();
    const res = await post(h.url, metaBody, { "x-hub-signature-256": header });
    expect(res.status).toBe(401);
    expect(h.received).toHaveLength(0);
  });

  it("refuses the same content re-serialised (the signature is over Meta's \\u-escaped bytes)", async () => {
    const h = await start();
    const signature = signWebhookBody(metaBody, SECRET);
    const reserialised = JSON.stringify(JSON.parse(metaBody));
    expect(reserialised).not.toBe(metaBody);
    const res = await post(h.url, reserialised, { "x-hub-signature-256": signature });
    expect(res.status).toBe(401);
    expect(h.received).toHaveLength(0);
  });

  it("refuses a one-byte change inside an escape sequence", async () => {
    const h = await start();
    const signature = signWebhookBody(metaBody, SECRET);
    expect(metaBody).toContain("\\u00e1");
    const altered = metaBody.replace("\\u00e1", "\\u00e9");
    const res = await post(h.url, altered, { "x-hub-signature-256": signature });
    expect(res.status).toBe(401);
    expect(h.received).toHaveLength(0);
  });

  it("never logs the body of a refused or accepted webhook", async () => {
    const h = await start();
    await post(h.url, metaBody, {
      "x-hub-signature-256": signWebhookBody(metaBody, "wrong-secret-000"),
    });
    await post(h.url, metaBody);
    await post(h.url, metaBody, { "x-hub-signature-256": signWebhookBody(metaBody, SECRET) });
    expect(h.logged.length).toBeGreaterThan(0);
    for (const line of h.logged) {
      expect(line).not.toContain("SECRET-BODY-MARKER");
      expect(line).not.toContain(SECRET);
    }
  });

  it("appends a signed body that is not even JSON, with a fallback key", async () => {
    const h = await start();
    const body = "this is not json \u00ff";
    const res = await post(h.url, body, {
      "content-type": "text/plain",
      "x-hub-signature-256": signWebhookBody(body, SECRET),
    });
    expect(res.status).toBe(200);
    expect(h.received[0]?.body.toString("utf8")).toBe(body);
    expect(h.received[0]?.routing).toEqual({ phoneNumberIds: [], wabaIds: [], lane: "webhooks" });
    expect(h.received[0]?.contentType).toBe("text/plain");
  });
});

describe("GET subscription handshake", () => {
  const query = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;

  it("answers exactly hub.challenge as text/plain for the right token", async () => {
    const h = await start();
    const res = await fetch(
      h.url +
        query({
          "hub.mode": "subscribe",
          "hub.verify_token": VERIFY,
          "hub.challenge": "1158201444",
        }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toBe("1158201444");
  });

  it.each([
    [
      "a wrong token",
      { "hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1" },
    ],
    ["no token", { "hub.mode": "subscribe", "hub.challenge": "1" }],
    [
      "another mode",
      { "hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1" },
    ],
    ["no challenge", { "hub.mode": "subscribe", "hub.verify_token": VERIFY }],
  ])("answers 403 for %s", async (_label, params) => {
    const h = await start();
    const res = await fetch(h.url + query(params));
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain("1158201444");
    expect(
      await counter(h.metrics, "webhook_requests_total", { outcome: "challenge_rejected" }),
    ).toBe(1);
  });
});

describe("limits", () => {
  it("answers 413 problem+json past the body limit and appends nothing", async () => {
    const h = await start({ bodyLimitBytes: 1024 });
    const big = JSON.stringify({ pad: "x".repeat(2000) });
    const res = await post(h.url, big, { "x-hub-signature-256": signWebhookBody(big, SECRET) });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    const problem = (await res.json()) as { status: number };
    expect(problem.status).toBe(413);
    expect(h.received).toHaveLength(0);
    const small = JSON.stringify({ pad: "x".repeat(900) });
    expect(
      (await post(h.url, small, { "x-hub-signature-256": signWebhookBody(small, SECRET) })).status,
    ).toBe(200);
  });

  it("answers 429 once a client address has used its bucket", async () => {
    let nowMs = 1_000_000;
    const h = await start({
      rateLimiter: createRateLimiter({ ratePerSecond: 1, burst: 3 }),
      now: () => new Date(nowMs),
    });
    const signature = signWebhookBody(metaBody, SECRET);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await post(h.url, metaBody, { "x-hub-signature-256": signature })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(h.received).toHaveLength(3);
    nowMs += 1000;
    expect((await post(h.url, metaBody, { "x-hub-signature-256": signature })).status).toBe(200);
    expect(await counter(h.metrics, "webhook_requests_total", { outcome: "rate_limited" })).toBe(2);
  });

  it("answers 403 to an address outside the allow-list, for POST and GET", async () => {
    const h = await start({
      allowList: createAllowList(["173.252.64.0/18", "2a03:2880::/32"].map(parseCidr)),
    });
    const signature = signWebhookBody(metaBody, SECRET);
    expect((await post(h.url, metaBody, { "x-hub-signature-256": signature })).status).toBe(403);
    expect(
      (await fetch(`${h.url}?hub.mode=subscribe&hub.verify_token=${VERIFY}&hub.challenge=1`))
        .status,
    ).toBe(403);
    expect(h.received).toHaveLength(0);
  });

  it("allows an address inside the allow-list", async () => {
    const h = await start({ allowList: createAllowList(["127.0.0.0/8", "::1"].map(parseCidr)) });
    const signature = signWebhookBody(metaBody, SECRET);
    expect((await post(h.url, metaBody, { "x-hub-signature-256": signature })).status).toBe(200);
  });

  it("uses X-Forwarded-For for the client address only when the proxy is trusted", async () => {
    const allowList = createAllowList(["173.252.64.0/18"].map(parseCidr));
    const signature = signWebhookBody(metaBody, SECRET);
    const forwarded = { "x-hub-signature-256": signature, "x-forwarded-for": "173.252.95.1" };
    const untrusted = await start({ allowList });
    expect((await post(untrusted.url, metaBody, forwarded)).status).toBe(403);
    const trusted = await start({ allowList, trustProxy: "loopback" });
    expect((await post(trusted.url, metaBody, forwarded)).status).toBe(200);
    expect(trusted.received[0]?.sourceIp).toBe("173.252.95.1");
  });
});

describe("durability of the answer", () => {
  it("answers 503 when the append fails, so Meta retries", async () => {
    const failing: RawWebhookAppender = { append: () => Promise.reject(new Error("broker down")) };
    const h = await start({}, failing);
    const res = await post(h.url, metaBody, {
      "x-hub-signature-256": signWebhookBody(metaBody, SECRET),
    });
    expect(res.status).toBe(503);
    expect(await counter(h.metrics, "webhook_requests_total", { outcome: "append_failed" })).toBe(
      1,
    );
  });

  it("answers 503 when the append is not acknowledged in time", async () => {
    const appender = createRawWebhookAppender({
      producer: {
        encode: (topic, record) =>
          Promise.resolve({
            topic: topic.name,
            key: record.key,
            value: Buffer.alloc(0),
            event: record.event,
          }),
        publishEncoded: () => new Promise<void>(() => undefined),
      },
      topics: {
        webhooks: (await import("@parley/contracts")).createCatalog().topic("raw-webhooks"),
        statuses: (await import("@parley/contracts")).createCatalog().topic("raw-status-webhooks"),
      },
      timeoutMs: 50,
    });
    const h = await start({}, appender);
    const res = await post(h.url, metaBody, {
      "x-hub-signature-256": signWebhookBody(metaBody, SECRET),
    });
    expect(res.status).toBe(503);
    expect(await counter(h.metrics, "webhook_requests_total", { outcome: "append_timeout" })).toBe(
      1,
    );
  });

  it("answers only once the append resolved, and stop waits for appends in flight", async () => {
    let release: () => void = () => undefined;
    const appended: RawWebhookReceipt[] = [];
    const slow: RawWebhookAppender = {
      append: (r) =>
        new Promise<void>((resolve) => {
          release = () => {
            appended.push(r);
            resolve();
          };
        }),
    };
    const h = await start({}, slow);
    let answered = false;
    const response = post(h.url, metaBody, {
      "x-hub-signature-256": signWebhookBody(metaBody, SECRET),
    }).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    let stopped = false;
    const stopping = h.server.stop().then(() => (stopped = true));
    running.splice(running.indexOf(h.server), 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    await expect(h.server.check.check(new AbortController().signal)).rejects.toThrow();
    release();
    expect((await response).status).toBe(200);
    await stopping;
    expect(appended).toHaveLength(1);
  });
});

describe("the lean POST path and Express's path answer alike", () => {
  // A POST to the exact path (with or without a query string) skips Express's router; the same
  // path spelled with a trailing slash or in capitals goes through it. Both must behave the same.
  const variants = ["", "?source=meta", "/"];
  it.each(variants)(
    "POST %s: 200 with the same headers, and 401 for a bad signature",
    async (suffix) => {
      const h = await start();
      const url = `${h.url}${suffix}`;
      const ok = await post(url, metaBody, {
        "x-hub-signature-256": signWebhookBody(metaBody, SECRET),
      });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("OK");
      expect(ok.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(ok.headers.get("x-content-type-options")).toBe("nosniff");
      expect(ok.headers.get("cache-control")).toBe("no-store");
      const bad = await post(url, metaBody, { "x-hub-signature-256": "sha256=00" });
      expect(bad.status).toBe(401);
      expect(bad.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(bad.headers.get("x-content-type-options")).toBe("nosniff");
      expect(h.received).toHaveLength(1);
      expect(await counter(h.metrics, "webhook_requests_total", { outcome: "accepted" })).toBe(1);
      expect(
        await counter(h.metrics, "webhook_requests_total", { outcome: "signature_invalid" }),
      ).toBe(1);
    },
  );

  it("takes the path in capitals through Express with the same outcome", async () => {
    const h = await start();
    const url = h.url.replace(WEBHOOK_PATH, WEBHOOK_PATH.toUpperCase());
    const ok = await post(url, metaBody, {
      "x-hub-signature-256": signWebhookBody(metaBody, SECRET),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(h.received).toHaveLength(1);
  });
});

describe("other requests", () => {
  it("answers 405 to other methods on the webhook path and 404 elsewhere", async () => {
    const h = await start();
    expect((await fetch(h.url, { method: "PUT", body: "x" })).status).toBe(405);
    expect((await fetch(h.url.replace(WEBHOOK_PATH, "/metrics"))).status).toBe(404);
  });
});

describe("acknowledgement time", () => {
  it("observes each answer's time by method, the append's wait included", async () => {
    const slow: RawWebhookAppender = {
      append: () =>
        new Promise<void>((resolve) => {
          setTimeout(resolve, 300);
        }),
    };
    const h = await start({}, slow);
    const res = await post(h.url, metaBody, {
      "x-hub-signature-256": signWebhookBody(metaBody, SECRET),
    });
    expect(res.status).toBe(200);
    expect((await fetch(h.url, { method: "PUT", body: "x" })).status).toBe(405);
    const text = await h.metrics.metrics();
    const value = (series: string): number =>
      Number(new RegExp(`^${series} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    expect(
      value('parley_webhook_response_seconds_count\\{service="ingress-test",method="POST"\\}'),
    ).toBe(1);
    expect(
      value('parley_webhook_response_seconds_sum\\{service="ingress-test",method="POST"\\}'),
    ).toBeGreaterThanOrEqual(0.29);
    expect(
      value('parley_webhook_response_seconds_count\\{service="ingress-test",method="other"\\}'),
    ).toBe(1);
  });
});
