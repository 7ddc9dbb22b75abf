import { createHash, randomUUID } from "node:crypto";
import { createEvent, type EventOf } from "@parley/contracts";
import { createAuthenticator, type ApiKeyConfig } from "@parley/runtime";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryAuditLog, matches } from "../../audit/memory.js";
import { auditQueryOf, createAuditQueries } from "../../audit/queries.js";
import { auditListParams } from "../../audit/params.js";
import { encodeCursor, parseParams } from "../../queries/params.js";
import { withAuditLog } from "../../projector/audit.js";
import type { Projector } from "../../projector/projector.js";
import { startQueryApiServer, type QueryApiServer } from "./server.js";
import type { Queries } from "../../queries/queries.js";

// GET /v1/audit over the in-memory audit log (the MongoDB adapter is checked against the same
// expectations in audit.int.spec.ts): who may read it, what each filter keeps, that paging gives
// every matching entry once, newest first, and that hostile parameters get a 400 naming exactly
// the refused ones.

const AUDITOR = "auditor-key-0123456789";
const ADMIN = "admin-key-0123456789";
const VIEWER = "viewer-key-0123456789";
const NO_PII = "audit-only-key-0123456";
const sha = (k: string) => createHash("sha256").update(k).digest("hex");
const keys: ApiKeyConfig[] = [
  { id: "auditor", keySha256: sha(AUDITOR), role: "auditor" },
  { id: "admin", keySha256: sha(ADMIN), role: "admin" },
  { id: "viewer", keySha256: sha(VIEWER), role: "viewer" },
  { id: "audit-only", keySha256: sha(NO_PII), scopes: ["audit:read"] },
];
const CONTACT = "16505550123";

const actors = ["crm", "privacy-desk", "ops@example.com"] as const;
const actions: readonly (readonly [string, string, Readonly<Record<string, string>>])[] = [
  ["consent.recorded", "consent", { contactId: CONTACT }],
  ["consent.erased", "consent", { contactId: CONTACT }],
  ["media.deleted", "media", { id: "m-1" }],
  ["campaign.paused", "campaigns", { id: "c-1" }],
  ["dlq.redriven", "parley-kafka", { deadLetterTopic: "parley.dlq.router" }],
];

const auditEvent = fc
  .record({
    actor: fc.constantFrom(...actors),
    action: fc.constantFrom(...actions),
    // Whole seconds in two months, so equal times (the id breaks the tie) are common.
    second: fc.integer({ min: 0, max: 60 * 24 * 3_600 }).map((s) => s - (s % 600)),
  })
  .map(({ actor, action: [action, service, target], second }): EventOf<"AuditRecorded"> =>
    createEvent(
      "AuditRecorded",
      {
        action,
        service,
        actorId: actor,
        authMethod: service === "parley-kafka" ? "cli" : "api-key",
        ...(service === "parley-kafka"
          ? { details: { redriven: 2, dryRun: false } }
          : { method: "POST", route: "/v1/x", status: 200 }),
        target: { ...target },
      },
      {
        correlationId: randomUUID(),
        now: new Date(Date.parse("2026-01-01T00:00:00Z") + second * 1_000),
      },
    ),
  );

const unused: Projector = { apply: () => Promise.reject(new Error("not an audit event")) };
let server: QueryApiServer;
let base: string;
let all: EventOf<"AuditRecorded">[];

beforeAll(async () => {
  const log = createMemoryAuditLog();
  all = fc.sample(auditEvent, { numRuns: 150, seed: 28 });
  const projector = withAuditLog(unused, log, 1);
  // Applied twice (a redelivery): each event is kept once.
  await projector.apply(all.map((event) => ({ event })));
  await projector.apply(all.slice(0, 50).map((event) => ({ event })));
  expect(log.entries(1)).toHaveLength(new Set(all.map((e) => e.eventId)).size);
  server = await startQueryApiServer({
    host: "127.0.0.1",
    port: 0,
    queries: {} as Queries,
    audit: createAuditQueries({
      log,
      generations: {
        get: (g) =>
          Promise.resolve(
            g === 1
              ? { generation: 1, state: "live", startedAt: "2026-03-01T00:00:00.000Z" }
              : undefined,
          ),
      },
      active: () => 1,
    }),
    authenticator: createAuthenticator({ api: "query", keys }),
    rateLimiter: { take: () => true },
    logger: { warn: () => undefined, error: () => undefined },
  });
  base = `http://127.0.0.1:${String(server.port)}`;
});
afterAll(async () => {
  await server.stop();
});

const get = async (path: string, key = AUDITOR) => {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
interface Item {
  eventId: string;
  at: string;
  action: string;
  target: Record<string, string>;
  actor: { id: string };
}

describe("GET /v1/audit", () => {
  it("is read by the auditor and admin, refused to a viewer with 403 naming audit:read", async () => {
    expect((await get("/v1/audit")).status).toBe(200);
    expect((await get("/v1/audit", ADMIN)).status).toBe(200);
    const refused = await get("/v1/audit", VIEWER);
    expect(refused.status).toBe(403);
    expect(String(refused.body["detail"])).toContain("audit:read");
  });

  it("shows a contact's number to the auditor (query:pii) and masks it without pii", async () => {
    const q = `/v1/audit?action=consent.erased&target=${CONTACT}&limit=1`;
    const [plain] = (await get(q)).body["items"] as Item[];
    expect(plain?.target["contactId"]).toBe(CONTACT);
    const [masked] = (await get(q, NO_PII)).body["items"] as Item[];
    expect(masked?.eventId).toBe(plain?.eventId);
    expect(masked?.target["contactId"]).toBe("165******23");
  });

  it("answers other methods with 405", async () => {
    const res = await fetch(`${base}/v1/audit`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${AUDITOR}` },
    });
    expect(res.status).toBe(405);
  });

  it("pages through exactly the entries each filter keeps, each once, newest first (property)", async () => {
    const filters = fc.record(
      {
        actor: fc.constantFrom(...actors, "nobody"),
        action: fc.constantFrom("consent.erased", "consent.*", "media.deleted", "dlq.redriven"),
        service: fc.constantFrom("consent", "parley-kafka"),
        target: fc.constantFrom(CONTACT, "c-1", "parley.dlq.router"),
        from: fc
          .integer({ min: 0, max: 30 })
          .map((d) => `2026-01-${String(d + 1).padStart(2, "0")}T00:00:00Z`),
        to: fc
          .integer({ min: 0, max: 27 })
          .map((d) => `2026-02-${String(d + 1).padStart(2, "0")}T00:00:00Z`),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(filters, fc.integer({ min: 8, max: 60 }), async (f, limit) => {
        const parsed = parseParams(auditListParams, { ...f, limit: String(limit) });
        if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
        const query = auditQueryOf(parsed.value);
        const expected = all
          .filter((e) =>
            matches(
              {
                _id: e.eventId,
                at: e.occurredAt,
                action: e.data.action,
                area: e.data.action.split(".")[0] ?? "",
                service: e.data.service,
                actorId: e.data.actorId,
                authMethod: e.data.authMethod,
                target: e.data.target,
                targetValues: Object.values(e.data.target),
                correlationId: e.correlationId,
              },
              { ...query, limit },
            ),
          )
          .map((e) => e.eventId);
        const seen: Item[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 400; pages++) {
          const qs = new URLSearchParams({
            ...f,
            limit: String(limit),
            ...(cursor === undefined ? {} : { cursor }),
          });
          const res = await get(`/v1/audit?${qs.toString()}`);
          expect(res.status).toBe(200);
          const items = res.body["items"] as Item[];
          expect(items.length).toBeLessThanOrEqual(limit);
          seen.push(...items);
          cursor = res.body["next"] as string | undefined;
          if (cursor === undefined) break;
        }
        expect(new Set(seen.map((i) => i.eventId)).size).toBe(seen.length);
        expect(seen.map((i) => i.eventId).sort()).toEqual([...expected].sort());
        for (let i = 1; i < seen.length; i++) {
          const [a, b] = [seen[i - 1], seen[i]];
          if (a === undefined || b === undefined) continue;
          expect(a.at > b.at || (a.at === b.at && a.eventId > b.eventId)).toBe(true);
        }
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});

describe("GET /v1/audit's parameters (property)", () => {
  type Pair = readonly [name: string, value: string, hostile: boolean];
  const ok = (name: string, values: readonly string[]) =>
    fc.constantFrom(...values).map((v): Pair => [name, v, false]);
  const bad = (name: string, values: readonly string[]) =>
    fc.constantFrom(...values).map((v): Pair => [name, v, true]);
  const cursor = encodeCursor({ at: "2026-01-20T00:00:00.000Z", id: "f".repeat(36) });
  const pair: fc.Arbitrary<Pair> = fc.oneof(
    ok("actor", ["crm", "ops@example.com"]),
    ok("action", ["consent.erased", "consent.*", "keys.changed"]),
    ok("service", ["consent", "parley-kafka"]),
    ok("target", [CONTACT, "parley.dlq.router"]),
    ok("from", ["2026-01-01T00:00:00Z", "2026-01-02T01:00:00.000+01:00"]),
    ok("to", ["2026-06-01T00:00:00Z", "2026-03-01T12:00:00Z"]),
    ok("limit", ["1", "50", "100"]),
    ok("cursor", [cursor]),
    ok("generation", ["1"]),
    bad("actor", ["", "a".repeat(257)]),
    bad("action", ["", "Consent.erased", "consent", "consent.*.x", '{"$gt":""}', "*", "a.b c"]),
    bad("service", ["", "s".repeat(65)]),
    bad("target", ["", "t".repeat(513)]),
    bad("from", ["yesterday", "2026-13-01T00:00:00Z", "2026-03-01"]),
    bad("to", ["2026-02-30T00:00:00Z", "1e12", "now"]),
    bad("limit", ["0", "101", "-1", "1.5", "abc", ""]),
    bad("cursor", ["!!", "e30", "x".repeat(3_000)]),
    bad("generation", ["0", "x", "-3"]),
    bad("$where", ["1"]),
    bad("actor.$ne", ["x"]),
    bad("limit[0]", ["1"]),
    bad("x", [""]),
  );

  it("answers every mix with 200, or 400 naming exactly the refused parameters; never a 500", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(pair, { maxLength: 6 }), async (pairs) => {
        const qs = new URLSearchParams(pairs.map(([n, v]): [string, string] => [n, v])).toString();
        const res = await get(`/v1/audit${qs === "" ? "" : `?${qs}`}`);
        const counts = new Map<string, number>();
        for (const [n] of pairs) counts.set(n, (counts.get(n) ?? 0) + 1);
        const repeated = [...counts].filter(([, n]) => n > 1).map(([name]) => name);
        const expected = new Set(
          repeated.length > 0 ? repeated : pairs.filter(([, , h]) => h).map(([n]) => n),
        );
        if (expected.size === 0) {
          expect(res.status).toBe(200);
          expect(Array.isArray(res.body["items"])).toBe(true);
          return;
        }
        expect(res.status).toBe(400);
        expect(res.body["type"]).toBe("urn:parley:problem:invalid-parameter");
        const errors = res.body["errors"] as { parameter: string; detail: string }[];
        expect(new Set(errors.map((e) => e.parameter))).toEqual(expected);
        for (const e of errors) expect(e.detail.length).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });
});
