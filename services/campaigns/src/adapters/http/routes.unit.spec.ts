import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createCommandHandler, createMemoryStateStore } from "@parley/decider";
import { createAuthenticator } from "@parley/runtime";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createCampaigns } from "../../control/campaigns.js";
import { campaignDefinition } from "../../domain/campaign.js";
import { campaignDecider, type CampaignState } from "../../domain/lifecycle.js";
import { uuidV5Of } from "../../planning/ids.js";
import { createMemoryPlanStore } from "../../planning/memory-store.js";
import { createCampaignsApiApp } from "./routes.js";

const sha = (k: string) => createHash("sha256").update(k).digest("hex");
const authenticator = createAuthenticator({
  api: "campaigns",
  keys: [
    { id: "all", keySha256: sha("key-all-0123"), scopes: ["read", "write", "control"] },
    { id: "reader", keySha256: sha("key-read-0123"), scopes: ["read"] },
  ],
});

function build() {
  const states = createMemoryStateStore<CampaignState, never>();
  const plans = createMemoryPlanStore();
  const handler = createCommandHandler({
    decider: campaignDecider,
    store: states,
    publish: () => Promise.resolve(),
    context: (commands, now) => commands.map(() => ({ now })),
    cacheSize: 0,
  });
  const campaigns = createCampaigns({
    handler,
    reader: {
      get: (id) => Promise.resolve(states.peek(id)?.state),
      running: () => Promise.resolve([]),
    },
    plans,
    queue: plans,
    facts: { of: () => Promise.resolve(new Map()) },
    publish: () => Promise.resolve(),
    audiences: {
      save: async (_id, body) => {
        let bytes = 0;
        for await (const c of body) bytes += c.length;
        return { ref: "a", bytes };
      },
      rows: () => (async function* () {})(),
    },
    numbersOf: (d) => d.numbers.map((phoneNumberId) => ({ phoneNumberId, mps: 80 })),
    tier: "unlimited",
    reached: () => Promise.resolve(0),
    requestIdOf: uuidV5Of,
    clock: () => new Date(),
    chunkSize: 100,
    tickMs: 1000,
    releaseLeadMs: 0,
  });
  return createCampaignsApiApp({
    campaigns,
    skips: () => Promise.resolve([]),
    authenticator,
    isStopping: () => false,
    onWork: () => () => undefined,
    maxBodyBytes: 4096,
    maxAudienceBytes: 1000,
  }).app;
}

let server: Server;
let base = "";
beforeAll(async () => {
  server = createServer(build());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((r) =>
      server.close(() => {
        r();
      }),
    ),
);

const call = (
  method: string,
  path: string,
  body?: string,
  key = "key-all-0123",
  type = "application/json",
) =>
  fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": type },
    ...(body === undefined ? {} : { body }),
  });

const valid = {
  id: "c1",
  owner: "marketing",
  template: { name: "sale", language: { code: "en" } },
  category: "marketing",
  numbers: ["500001"],
  schedule: { startAt: "2026-12-01T00:00:00.000Z" },
};

describe("the campaigns API", () => {
  it("needs a known key and the route's scope", async () => {
    expect((await call("GET", "/v1/campaigns/c1", undefined, "nope-nope-nope")).status).toBe(401);
    expect((await fetch(`${base}/v1/campaigns/c1`)).status).toBe(401);
    expect(
      (await call("POST", "/v1/campaigns", JSON.stringify(valid), "key-read-0123")).status,
    ).toBe(403);
  });

  it("creates, takes an audience, starts, pauses, resumes and cancels; refuses what the state does not allow", async () => {
    const body = JSON.stringify({ ...valid, id: "flow" });
    expect((await call("POST", "/v1/campaigns", body)).status).toBe(201);
    expect((await call("POST", "/v1/campaigns", body)).status).toBe(201);
    expect(
      (await call("POST", "/v1/campaigns", JSON.stringify({ ...valid, id: "flow", owner: "x" })))
        .status,
    ).toBe(409);
    expect((await call("POST", "/v1/campaigns/flow/start")).status).toBe(409);
    expect((await call("PUT", "/v1/campaigns/flow/audience?format=xml", "a")).status).toBe(400);
    expect(
      (
        await call(
          "PUT",
          "/v1/campaigns/flow/audience?format=csv",
          "x".repeat(2000),
          undefined,
          "text/csv",
        )
      ).status,
    ).toBe(200);
    for (const [action, status] of [
      ["start", "running"],
      ["pause", "paused"],
      ["resume", "running"],
      ["cancel", "cancelled"],
    ] as const) {
      const res = await call("POST", `/v1/campaigns/flow/${action}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as CampaignState).status).toBe(status);
    }
    expect((await call("POST", "/v1/campaigns/flow/resume")).status).toBe(409);
    expect((await call("POST", "/v1/campaigns/nobody/start")).status).toBe(404);
    expect((await call("GET", "/v1/campaigns/NOT_AN_ID")).status).toBe(400);
  });

  it("forecast: 404 for an unknown campaign, 409 naming PARLEY_RATE_CARD_FILE without a rate card", async () => {
    expect((await call("GET", "/v1/campaigns/nobody/forecast")).status).toBe(404);
    expect(
      (await call("POST", "/v1/campaigns", JSON.stringify({ ...valid, id: "fc" }))).status,
    ).toBe(201);
    const res = await call("GET", "/v1/campaigns/fc/forecast", undefined, "key-read-0123");
    expect(res.status).toBe(409);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/PARLEY_RATE_CARD_FILE/);
  });

  it("answers each hostile body with a precise 400 and each valid one 201, never a 500 (property)", async () => {
    const mutated = fc.record({
      id: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/), fc.string({ maxLength: 80 })),
      owner: fc.oneof(fc.constant("marketing"), fc.constant(""), fc.integer()),
      template: fc.oneof(
        fc.constant(valid.template),
        fc.constant({ name: "Bad Name", language: { code: "en" } }),
        fc.constant(null),
      ),
      category: fc.constantFrom("marketing", "utility", "service", 7),
      numbers: fc.oneof(
        fc.constant(["500001"]),
        fc.constant([]),
        fc.array(fc.string(), { maxLength: 3 }),
      ),
      schedule: fc.oneof(
        fc.constant(valid.schedule),
        fc.constant({ startAt: "yesterday" }),
        fc.constant({
          startAt: valid.schedule.startAt,
          quietHours: { from: "25:00", to: "08:00" },
        }),
        fc.constant({ startAt: valid.schedule.startAt, defaultTimeZone: "Mars/Base" }),
      ),
    });
    const raw = fc.oneof(
      fc.constant("{"),
      fc.constant("[]"),
      fc.constant("null"),
      fc.constant(JSON.stringify({ ...valid, extra: 1 })),
      fc.constant(`{"a":"${"x".repeat(5000)}"}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated.map((m) => JSON.stringify(m)),
          raw,
        ),
        async (body) => {
          const res = await call("POST", "/v1/campaigns", body);
          let parsedOk = false;
          try {
            parsedOk = campaignDefinition.safeParse(JSON.parse(body)).success;
          } catch {
            parsedOk = false;
          }
          if (body.length > 4096) {
            expect(res.status).toBe(413);
            return;
          }
          if (parsedOk) {
            expect([201, 409]).toContain(res.status);
            return;
          }
          expect(res.status).toBe(400);
          const problem = (await res.json()) as { type: string; detail?: string };
          expect(problem.type).toMatch(/^urn:parley:problem:/);
          expect(problem.detail).toBeTruthy();
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("docs/campaigns-api.openapi.yaml", () => {
  it("is OpenAPI 3.1 and documents exactly the routes the app serves", () => {
    const doc = parse(
      readFileSync(
        resolve(
          dirname(fileURLToPath(import.meta.url)),
          "../../../../../docs/campaigns-api.openapi.yaml",
        ),
        "utf8",
      ),
    ) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((k) => k !== "parameters")
          .map((m) => `${m} ${path}`),
      )
      .sort();
    const stack = (
      build() as unknown as {
        router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
      }
    ).router.stack;
    const served = stack
      .flatMap((l) =>
        l.route === undefined
          ? []
          : Object.keys(l.route.methods).map(
              (m) => `${m} ${(l.route?.path ?? "").replace(/:(\w+)/g, "{$1}")}`,
            ),
      )
      .sort();
    expect(served).toEqual(documented);
  });
});
