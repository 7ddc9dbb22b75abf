import { createHash } from "node:crypto";
import { finalOutcome } from "@parley/client";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiKeyEntry } from "../../config.js";
import type { RateCard } from "@parley/pricing";
import { createMemoryReadModels } from "../../projector/memory.js";
import { createProjector } from "../../projector/projector.js";
import { createRollup } from "../../projector/rollup.js";
import { countryOf, exampleWorld, NUMBER, type World } from "../../projector/world.unit-helpers.js";
import { createMemoryReader } from "../../queries/memory-reader.unit-helpers.js";
import { createQueries } from "../../queries/queries.js";
import { createAuthenticator } from "@parley/runtime";
import { createRateLimiter } from "./rate-limit.js";
import { queryApiRoutes } from "./routes.js";
import { startQueryApiServer, type QueryApiServer } from "./server.js";

const READ = "read-key-0123456789";
const PII = "pii-key-0123456789";
const NO_READ = "pii-only-key-012345";
const LIMITED = "limited-key-0123456";
const sha = (k: string) => createHash("sha256").update(k).digest("hex");
const keys: ApiKeyEntry[] = [
  { id: "analytics", keySha256: sha(READ), scopes: ["read"] },
  { id: "support", keySha256: sha(PII), scopes: ["read", "pii"] },
  { id: "odd", keySha256: sha(NO_READ), scopes: ["pii"] },
  { id: "limited", keySha256: sha(LIMITED), scopes: ["read"] },
];
const rateCard: RateCard = {
  currency: "EUR",
  source: "test card",
  markets: [{ market: "US", countries: ["US"], rates: { utility: 0.5 } }],
  otherwise: { market: "rest", rates: { utility: 0.25 } },
};

let server: QueryApiServer;
let base: string;
let world: World;
/** Every (route, status) seen, checked against the routes' documented statuses at the end. */
const observed = new Set<string>();

beforeAll(async () => {
  world = exampleWorld();
  const models = createMemoryReadModels();
  const projector = createProjector({
    stores: models.stores,
    marks: models.marks,
    finalOf: finalOutcome,
    countryOf,
  });
  await projector.apply(world.events.map((event) => ({ event })));
  await createRollup({ marks: models.marks, analytics: models.analytics }).drain();
  const limiter = createRateLimiter({ ratePerSecond: 1_000, burst: 1_000 });
  const strict = createRateLimiter({ ratePerSecond: 1, burst: 2 });
  server = await startQueryApiServer({
    host: "127.0.0.1",
    port: 0,
    queries: createQueries({
      reader: createMemoryReader(models),
      generations: {
        get: (g) =>
          Promise.resolve(
            g === 1
              ? { generation: 1, state: "live", startedAt: "2026-03-01T00:00:00.000Z" }
              : undefined,
          ),
        list: () =>
          Promise.resolve([
            { generation: 1, state: "live", startedAt: "2026-03-01T00:00:00.000Z" },
          ]),
      },
      active: () => 1,
      rateCard,
    }),
    authenticator: createAuthenticator({ api: "query", keys }),
    rateLimiter: { take: (id, now) => (id === "limited" ? strict : limiter).take(id, now) },
    logger: { warn: () => undefined, error: () => undefined },
  });
  base = `http://127.0.0.1:${String(server.port)}`;
});

afterAll(async () => {
  await server.stop();
  const documented = new Map<string, readonly number[]>(
    queryApiRoutes.map((r) => [r.path, r.statuses]),
  );
  for (const seen of observed) {
    const [path = "", status = ""] = seen.split(" ");
    expect(documented.get(path), seen).toContain(Number(status));
  }
});

async function get(path: string, key: string | null = READ, route = path.split("?")[0] ?? path) {
  const res = await fetch(
    `${base}${path}`,
    key === null ? {} : { headers: { authorization: `Bearer ${key}` } },
  );
  observed.add(`${routeOf(route)} ${String(res.status)}`);
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    body: JSON.parse(text) as Record<string, unknown>,
  };
}

/** The documented route a concrete path belongs to. */
function routeOf(path: string): string {
  for (const r of queryApiRoutes) {
    const pattern = new RegExp(`^${r.path.replace(/\{\w+\}/g, "[^/]+")}$`);
    if (pattern.test(path)) return r.path;
  }
  return path;
}

const requestIdOf = (scenario: number) =>
  world.events.filter((e) => e.type === "SendRequested").map((e) => e.correlationId)[scenario] ??
  "";

describe("the query API: keys and scopes", () => {
  it("refuses a missing, malformed or unknown key (401) and a key without read (403), as problem details", async () => {
    for (const [key, status] of [
      [null, 401],
      ["", 401],
      ["nope-nope-nope-nope", 401],
      [NO_READ, 403],
    ] as const) {
      const res = await get("/v1/requests", key);
      expect(res.status).toBe(status);
      expect(res.type).toContain("application/problem+json");
    }
  });

  it("answers 429 past a key's rate, with Retry-After", async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get("/v1/generations", LIMITED)).status);
    expect(statuses).toContain(429);
  });

  it("masks phone numbers and hides profile names without pii; shows them with it", async () => {
    const contact = "16505550001";
    const masked = await get(`/v1/contacts/${contact}`);
    expect(masked.status).toBe(200);
    expect(masked.body["contactId"]).toBe("165******01");
    expect(masked.body["profileName"]).toBeUndefined();
    expect(JSON.stringify(masked.body)).not.toContain(contact);
    const full = await get(`/v1/contacts/${contact}`, PII);
    expect(full.body["contactId"]).toBe(contact);
    expect(full.body["profileName"]).toBe("Person 0");
    expect(full.body["counts"]).toMatchObject({ inbound: 2 });
  });
});

describe("the query API: read models", () => {
  it("answers a request with its final word and its messages' status timelines", async () => {
    const res = await get(`/v1/requests/${requestIdOf(0)}`, PII);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "accepted", final: { status: "accepted" } });
    const [message] = res.body["messages"] as { status: string; timeline: { status: string }[] }[];
    expect(message?.status).toBe("read");
    expect(message?.timeline.map((e) => e.status)).toEqual(["sent", "read"]);
    const fallback = await get(`/v1/requests/${requestIdOf(1)}`);
    expect(fallback.body).toMatchObject({
      final: { status: "accepted", usedTemplateFallback: true },
    });
    expect((fallback.body["messages"] as unknown[]).length).toBe(2);
    const doubt = await get(`/v1/requests/${requestIdOf(2)}`);
    expect(doubt.body["status"]).toBe("reconciled");
    const later = await get(`/v1/requests/${requestIdOf(4)}`);
    expect(later.body).toMatchObject({ status: "failed", final: { phase: "async", code: 131026 } });
  });

  it("pages through a list with cursors: every item once, newest first", async () => {
    const all = await get("/v1/requests?limit=100");
    const ids = (all.body["items"] as { requestId: string }[]).map((r) => r.requestId);
    expect(ids).toHaveLength(5);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await get(
        `/v1/requests?limit=2${cursor === undefined ? "" : `&cursor=${cursor}`}`,
      );
      paged.push(...(page.body["items"] as { requestId: string }[]).map((r) => r.requestId));
      cursor = page.body["next"] as string | undefined;
    } while (cursor !== undefined);
    expect(paged).toEqual(ids);
  });

  it("filters messages, finds one by wamid, and 404s what is not there", async () => {
    const inbound = await get("/v1/messages?direction=inbound");
    expect((inbound.body["items"] as unknown[]).length).toBe(3);
    const failed = await get(`/v1/messages?status=failed&businessNumber=${NUMBER}`);
    expect((failed.body["items"] as { status: string }[]).every((m) => m.status === "failed")).toBe(
      true,
    );
    const one = (inbound.body["items"] as { wamid: string }[])[0]?.wamid ?? "";
    expect((await get(`/v1/messages/${encodeURIComponent(one)}`)).status).toBe(200);
    expect((await get("/v1/messages/wamid.nobody")).status).toBe(404);
    expect((await get("/v1/requests?generation=7")).status).toBe(404);
    expect((await get(`/v1/conversations/16505550001/${NUMBER}`)).status).toBe(200);
    expect((await get("/v1/conversations?contactId=16505550001")).status).toBe(200);
  });

  it("adds analytics up by day, with the rate card's estimate, and gives the KPIs", async () => {
    const series = await get(
      "/v1/analytics/series?from=2026-03-01&to=2026-03-03&groupBy=direction,country",
    );
    expect(series.status).toBe(200);
    const rows = series.body["series"] as {
      direction: string;
      requests: { total: number };
      estimatedCost?: { currency: string };
    }[];
    expect(
      rows.filter((r) => r.direction === "out").reduce((n, r) => n + r.requests.total, 0),
    ).toBe(5);
    expect(rows.find((r) => r.direction === "out")?.estimatedCost?.currency).toBe("EUR");
    const kpis = await get("/v1/analytics/kpis?from=2026-03-01&to=2026-03-03");
    expect(kpis.body).toMatchObject({ templateApprovalRate: 0.5 });
    expect(typeof kpis.body["deliveryRate"]).toBe("number");
  });

  it("answers other methods with 405 and names unknown routes", async () => {
    const res = await fetch(`${base}/v1/requests`, {
      method: "POST",
      headers: { authorization: `Bearer ${READ}` },
    });
    observed.add(`/v1/requests ${String(res.status)}`);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("the query API's parameters (property)", () => {
  const names = [
    "limit",
    "cursor",
    "from",
    "to",
    "direction",
    "status",
    "contactId",
    "businessNumber",
    "template",
    "category",
    "requestId",
    "generation",
    "groupBy",
    "granularity",
    "country",
    "$where",
    "__proto__",
    "limit[0]",
    "x",
  ];
  const values = fc.oneof(
    fc.constantFrom(
      "1",
      "50",
      "100",
      "0",
      "101",
      "-1",
      "1e3",
      "inbound",
      "outbound",
      "read",
      "failed",
      "2026-03-01",
      "2026-03-01T10:00:00Z",
      "2027-13-45",
      "country,template",
      "day",
      "hour",
      "US",
      "-",
      '{"$gt":""}',
      "",
      "%00",
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ minLength: 600, maxLength: 700 }),
  );
  const query = fc.array(fc.tuple(fc.constantFrom(...names), values), { maxLength: 6 });

  for (const path of ["/v1/messages", "/v1/requests", "/v1/analytics/series", "/v1/contacts"]) {
    it(`${path}: every mix of valid and hostile parameters gets 200, or 400 naming each refused one; never a 500`, async () => {
      await fc.assert(
        fc.asyncProperty(query, async (pairs) => {
          const qs = new URLSearchParams(pairs).toString();
          const res = await get(`${path}${qs === "" ? "" : `?${qs}`}`);
          expect([200, 400, 404]).toContain(res.status);
          if (res.status === 400) {
            expect(res.type).toContain("application/problem+json");
            const errors = res.body["errors"] as { parameter: string; detail: string }[];
            expect(errors.length).toBeGreaterThan(0);
            for (const e of errors) expect(e.detail.length).toBeGreaterThan(0);
          }
          if (res.status === 404) expect(pairs.some(([n]) => n === "generation")).toBe(true);
          if (res.status === 200 && path !== "/v1/analytics/series")
            expect(Array.isArray(res.body["items"])).toBe(true);
        }),
        { numRuns: 60 },
      );
    });
  }
});
