import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createCommandHandler, createMemoryStateStore } from "@parley/decider";
import { createAuthenticator } from "@parley/runtime";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCampaigns } from "../../control/campaigns.js";
import { campaignDecider, type CampaignState } from "../../domain/lifecycle.js";
import { uuidV5Of } from "../../planning/ids.js";
import { createMemoryPlanStore } from "../../planning/memory-store.js";
import { createCampaignsApiApp } from "./routes.js";

// `PUT /v1/campaigns/{id}/audience?format=query`: a query document mixing valid and hostile
// fields is kept (validated, `at` pinned) when every field is valid, else refused with a 400
// naming exactly the refused fields; nothing is stored then.

const KEY = "key-all-0123";
const sha = (k: string) => createHash("sha256").update(k).digest("hex");
const stored = new Map<string, string>();
const states = createMemoryStateStore<CampaignState, never>();
const plans = createMemoryPlanStore();
const campaigns = createCampaigns({
  handler: createCommandHandler({
    decider: campaignDecider,
    store: states,
    publish: () => Promise.resolve(),
    context: (commands, now) => commands.map(() => ({ now })),
    cacheSize: 0,
  }),
  reader: {
    get: (id) => Promise.resolve(states.peek(id)?.state),
    running: () => Promise.resolve([]),
  },
  plans,
  queue: plans,
  facts: { of: () => Promise.resolve(new Map()) },
  publish: () => Promise.resolve(),
  audiences: {
    save: async (id, body) => {
      const parts: Uint8Array[] = [];
      for await (const c of body) parts.push(c);
      const text = Buffer.concat(parts).toString("utf8");
      stored.set(id, text);
      return { ref: id, bytes: text.length };
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

let server: Server;
let base = "";
beforeAll(async () => {
  const app = createCampaignsApiApp({
    campaigns,
    skips: () => Promise.resolve([]),
    authenticator: createAuthenticator({
      api: "campaigns",
      keys: [{ id: "all", keySha256: sha(KEY), scopes: ["read", "write", "control"] }],
    }),
    isStopping: () => false,
    onWork: () => () => undefined,
    maxBodyBytes: 4096,
    maxAudienceBytes: 100_000,
  }).app;
  server = createServer(app);
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

const call = (method: string, path: string, body: string) =>
  fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body,
  });

const valid: Record<string, fc.Arbitrary<unknown>> = {
  marketing: fc.constantFrom("granted", "revoked", "unknown"),
  utility: fc.constantFrom("granted", "unknown"),
  countries: fc.uniqueArray(fc.constantFrom("BR", "IN", "DE", "NG"), { minLength: 1 }),
  callingCodes: fc.uniqueArray(fc.constantFrom("55", "91", "49", "234"), { minLength: 1 }),
  lastInboundWithinDays: fc.integer({ min: 1, max: 3650 }),
  firstSeenFrom: fc.constant("2026-01-01T00:00:00Z"),
  firstSeenTo: fc.constant("2026-06-01T00:00:00.000Z"),
  at: fc.constant("2026-12-01T00:00:00.000Z"),
  params: fc.dictionary(
    fc.stringMatching(/^[a-z0-9_]{1,20}$/),
    fc.string({ minLength: 1, maxLength: 30 }),
    {
      maxKeys: 5,
    },
  ),
  timeZone: fc.constantFrom("Europe/Berlin", "America/Sao_Paulo"),
  paramsFrom: fc.dictionary(
    fc.stringMatching(/^[a-z0-9_]{1,20}$/),
    fc.constantFrom("profileName", "country"),
    { maxKeys: 5 },
  ),
};
const hostile: Record<string, fc.Arbitrary<unknown>> = {
  marketing: fc.constantFrom("yes", true, { $ne: 1 }),
  utility: fc.constantFrom(1, "opted_in"),
  countries: fc.constantFrom([], ["br"], ["BRA"], "BR", [1], Array(251).fill("BR")),
  callingCodes: fc.constantFrom(["0"], ["+55"], ["1234"], [], "55"),
  lastInboundWithinDays: fc.constantFrom(0, 3651, 1.5, "30", -1, null),
  firstSeenFrom: fc.constantFrom("yesterday", 5, "2026-13-01T00:00:00Z"),
  firstSeenTo: fc.constantFrom("soon", {}),
  at: fc.constantFrom("now", 0),
  params: fc.constantFrom({ "Bad Key": "x" }, { name: "" }, { name: 5 }, ["x"]),
  timeZone: fc.constantFrom("Mars/Olympus", 3),
  paramsFrom: fc.constantFrom(
    { first_name: "email" },
    { first_name: "$where" },
    { "First Name": "profileName" },
    { first_name: ["profileName"] },
    { first_name: null },
    "profileName",
    ["profileName"],
    Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`p${String(i)}`, "country"])),
  ),
  $where: fc.constant("1"),
  audience: fc.constant("all"),
};

describe("a query audience over HTTP (property)", () => {
  it("valid documents are kept with `at` pinned; any hostile field is a 400 naming exactly the refused fields, nothing kept", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(Object.keys(hostile)),
        fc.subarray(Object.keys(hostile)),
        fc.gen(),
        async (given, bad, g) => {
          const id = `q${String(n++)}`;
          const created = await call(
            "POST",
            "/v1/campaigns",
            JSON.stringify({
              id,
              owner: "marketing",
              template: { name: "sale", language: { code: "en" } },
              category: "marketing",
              numbers: ["500001"],
              schedule: { startAt: "2026-12-01T00:00:00.000Z" },
            }),
          );
          expect(created.status).toBe(201);
          const doc: Record<string, unknown> = {};
          const refused = new Set<string>();
          for (const name of given) {
            const v = valid[name];
            if (bad.includes(name) || v === undefined) {
              doc[name] = g(() => hostile[name] ?? fc.constant(0));
              refused.add(name);
            } else doc[name] = g(() => v);
          }
          const res = await call(
            "PUT",
            `/v1/campaigns/${id}/audience?format=query`,
            JSON.stringify(doc),
          );
          if (refused.size === 0) {
            expect(res.status).toBe(200);
            const kept = JSON.parse(stored.get(id) ?? "{}") as Record<string, unknown>;
            expect(typeof kept["at"]).toBe("string");
            for (const k of Object.keys(doc)) expect(kept).toHaveProperty(k);
            return;
          }
          expect(res.status).toBe(400);
          const problem = (await res.json()) as { errors: { field: string }[] };
          const named = new Set(
            problem.errors.map((e) => (e.field === "(body)" ? "" : (e.field.split(".")[0] ?? ""))),
          );
          // Unknown keys are one issue at the document's root naming them in the detail.
          const unknown = [...refused].filter((k) => valid[k] === undefined);
          const known = [...refused].filter((k) => valid[k] !== undefined);
          for (const k of known) expect(named.has(k)).toBe(true);
          if (unknown.length > 0) expect(named.has("")).toBe(true);
          for (const f of named) expect(f === "" || refused.has(f)).toBe(true);
          expect(stored.has(id)).toBe(false);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("a hostile parameter mapping is a 400 naming the exact mapping refused and why", async () => {
    await call(
      "POST",
      "/v1/campaigns",
      JSON.stringify({
        id: "map",
        owner: "m",
        template: { name: "sale", language: { code: "en" } },
        category: "utility",
        numbers: ["500001"],
        schedule: { startAt: "2026-12-01T00:00:00.000Z" },
      }),
    );
    const refusedOf = async (paramsFrom: unknown) => {
      const res = await call(
        "PUT",
        "/v1/campaigns/map/audience?format=query",
        JSON.stringify({ paramsFrom, params: { greeting: "hi" } }),
      );
      expect(res.status).toBe(400);
      return ((await res.json()) as { errors: { field: string; detail: string }[] }).errors;
    };
    expect(await refusedOf({ first_name: "profileName", last_name: "email" })).toEqual([
      { field: "paramsFrom.last_name", detail: "a member field: profileName or country" },
    ]);
    const badKey = await refusedOf({ "First Name": "profileName" });
    expect(badKey.map((e) => e.field)).toEqual(["paramsFrom.First Name"]);
    const notRecord = await refusedOf("profileName");
    expect(notRecord.map((e) => e.field)).toEqual(["paramsFrom"]);
    expect(notRecord[0]?.detail).toMatch(/record|object/);
    expect(stored.has("map")).toBe(false);
    const ok = await call(
      "PUT",
      "/v1/campaigns/map/audience?format=query",
      JSON.stringify({
        paramsFrom: { first_name: "profileName" },
        params: { first_name: "friend" },
      }),
    );
    expect(ok.status).toBe(200);
    expect(JSON.parse(stored.get("map") ?? "{}")).toMatchObject({
      paramsFrom: { first_name: "profileName" },
    });
  });

  it("a body that is no JSON, or over the size, is refused", async () => {
    await call(
      "POST",
      "/v1/campaigns",
      JSON.stringify({
        id: "raw",
        owner: "m",
        template: { name: "sale", language: { code: "en" } },
        category: "utility",
        numbers: ["500001"],
        schedule: { startAt: "2026-12-01T00:00:00.000Z" },
      }),
    );
    expect((await call("PUT", "/v1/campaigns/raw/audience?format=query", "{not json")).status).toBe(
      400,
    );
    expect(
      (
        await call(
          "PUT",
          "/v1/campaigns/raw/audience?format=query",
          JSON.stringify({ params: { a: "x".repeat(5000) } }),
        )
      ).status,
    ).toBe(413);
    expect(stored.has("raw")).toBe(false);
  });
});
