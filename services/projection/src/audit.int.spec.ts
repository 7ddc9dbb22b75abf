import { createHash, randomUUID } from "node:crypto";
import { createEvent, headerNames } from "@parley/contracts";
import { createAuditPublisher, createEventProducer, type EventProducer } from "@parley/kafka";
import { createAuthenticator } from "@parley/runtime";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startQueryApiServer, type QueryApiServer } from "./adapters/http/server.js";
import { createMongoAuditLog } from "./adapters/store/audit-store.js";
import { createAuditQueries } from "./audit/queries.js";
import type { Queries } from "./queries/queries.js";
import {
  PREFIX,
  startProjectionHarness,
  type ProjectionHarness,
} from "./projection-harness.int-helpers.js";

// The audit log queryable by an auditor, on the real broker, registry and MongoDB-wire server:
// AuditRecorded events as the consent, media and campaigns APIs publish them (their publisher,
// @parley/kafka's createAuditPublisher) reach the projection's audit read model through the
// audit topic, once each even when a record comes again; GET /v1/audit finds them for the
// auditor by actor, action, target and time, page by page, and refuses a viewer; a rebuild from
// the log gives the same entries (invariant 11).

const AUDITOR = "auditor-key-0123456789";
const VIEWER = "viewer-key-0123456789";
const sha = (k: string) => createHash("sha256").update(k).digest("hex");

let h: ProjectionHarness;
let producer: EventProducer;
let server: QueryApiServer;
let base: string;
let active = 1;

beforeAll(async () => {
  h = await startProjectionHarness("projection-audit");
  producer = createEventProducer({ kafka: h.kafka, serde: h.serde, name: "audit publishers" });
  await producer.connect();
  server = await startQueryApiServer({
    host: "127.0.0.1",
    port: 0,
    queries: {} as Queries,
    audit: createAuditQueries({
      log: createMongoAuditLog(h.mongo.db, PREFIX),
      generations: h.generations,
      active: () => active,
    }),
    authenticator: createAuthenticator({
      api: "query",
      keys: [
        { id: "auditor", keySha256: sha(AUDITOR), role: "auditor" },
        { id: "viewer", keySha256: sha(VIEWER), role: "viewer" },
      ],
    }),
    rateLimiter: { take: () => true },
    logger: { warn: () => undefined, error: () => undefined },
  });
  base = `http://127.0.0.1:${String(server.port)}`;
}, 180_000);

afterAll(async () => {
  await server.stop();
  await producer.disconnect();
  await h.stop();
});

interface Item {
  eventId: string;
  at: string;
  action: string;
  service: string;
  actor: { id: string; method: string; role?: string };
  target: Record<string, string>;
}
const get = async (path: string, key = AUDITOR) => {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const items = async (path: string) => {
  const res = await get(path);
  expect(res.status).toBe(200);
  return res.body["items"] as Item[];
};

describe("the audit log, queryable by an auditor", () => {
  it("finds what the consent, media and campaigns APIs recorded, once each; refuses a viewer", async () => {
    expect(await h.generations.activeOrFirst(new Date())).toBe(1);
    await h.start(1);
    const failures: unknown[] = [];
    const publisherOf = (service: string) =>
      createAuditPublisher({
        producer,
        catalog: h.catalog,
        service,
        onError: (error) => failures.push(error),
      });
    const at = (minute: number) => new Date(Date.UTC(2026, 11, 6, 12, minute));
    publisherOf("consent")({
      action: "consent.erased",
      principal: { id: "privacy-desk", method: "jwt", role: "admin" },
      method: "POST",
      route: "/v1/contacts/{contactId}/erasure",
      params: { contactId: "16505550001" },
      status: 200,
      at: at(1),
    });
    publisherOf("consent")({
      action: "consent.recorded",
      principal: { id: "crm", method: "api-key", role: "operator" },
      method: "POST",
      route: "/v1/contacts/{contactId}/consent",
      params: { contactId: "16505550002" },
      status: 201,
      at: at(2),
    });
    publisherOf("media")({
      action: "media.deleted",
      principal: { id: "crm", method: "api-key", role: "operator" },
      method: "DELETE",
      route: "/v1/media/{id}",
      params: { id: "media-7" },
      status: 204,
      at: at(3),
    });
    publisherOf("campaigns")({
      action: "campaign.paused",
      principal: { id: "ops", method: "jwt", role: "operator" },
      method: "POST",
      route: "/v1/campaigns/{id}/pause",
      params: { id: "spring-sale" },
      status: 200,
      at: at(4),
    });
    await waitFor(async () => (await items("/v1/audit")).length === 4, {
      timeoutMs: 60_000,
      description: "4 audit entries",
    });
    expect(failures).toEqual([]);

    const all = await items("/v1/audit");
    expect(all.map((i) => [i.service, i.action, i.actor.id])).toEqual([
      ["campaigns", "campaign.paused", "ops"],
      ["media", "media.deleted", "crm"],
      ["consent", "consent.recorded", "crm"],
      ["consent", "consent.erased", "privacy-desk"],
    ]);
    expect((await items("/v1/audit?actor=crm")).map((i) => i.action)).toEqual([
      "media.deleted",
      "consent.recorded",
    ]);
    expect((await items("/v1/audit?action=consent.*")).map((i) => i.action)).toEqual([
      "consent.recorded",
      "consent.erased",
    ]);
    expect((await items("/v1/audit?target=16505550001")).map((i) => i.action)).toEqual([
      "consent.erased",
    ]);
    expect(
      (await items("/v1/audit?from=2026-12-06T12:02:00Z&to=2026-12-06T12:04:00Z")).map(
        (i) => i.action,
      ),
    ).toEqual(["media.deleted", "consent.recorded"]);

    // One entry a page, following `next`: every entry once, newest first.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await get(`/v1/audit?limit=1${cursor === undefined ? "" : `&cursor=${cursor}`}`);
      paged.push(...(page.body["items"] as Item[]).map((i) => i.eventId));
      cursor = page.body["next"] as string | undefined;
    } while (cursor !== undefined);
    expect(paged).toEqual(all.map((i) => i.eventId));

    const refused = await get("/v1/audit", VIEWER);
    expect(refused.status).toBe(403);
    expect(String(refused.body["detail"])).toContain("audit:read");
    expect(h.deadLetters).toEqual([]);
  });

  it("an event that comes twice (a producer retry, a re-drive) is one entry", async () => {
    const event = createEvent(
      "AuditRecorded",
      {
        action: "dlq.redriven",
        service: "parley-kafka",
        actorId: "oncall",
        authMethod: "cli",
        target: { deadLetterTopic: "parley.dlq.router" },
        details: { redriven: 3, skipped: 0, dryRun: false },
      },
      { correlationId: randomUUID(), now: new Date("2026-12-06T12:05:00Z") },
    );
    await h.publish([event, event]);
    await h.caughtUp(1);
    const found = await items(`/v1/audit?actor=oncall`);
    expect(found.map((i) => i.eventId)).toEqual([event.eventId]);
    expect(await h.mongo.db.collection(`${PREFIX}g1_audit`).countDocuments()).toBe(5);
  });

  it("dead-letters hostile records on the audit topic with the reason, and goes on", async () => {
    const topic = h.catalog.topic("audit").name;
    await h.publishRaw(topic, "x", Buffer.from("not the registry wire format"));
    await h.publishRaw(topic, "x", Buffer.alloc(0));
    await h.publishRaw(topic, "x", Buffer.from([0, 0, 0x0f, 0x42, 0x3f, 0x7b, 0x7d]));
    const after = createEvent(
      "AuditRecorded",
      {
        action: "media.erased",
        service: "media",
        actorId: "privacy-desk",
        authMethod: "jwt",
        method: "DELETE",
        route: "/v1/contacts/{contactId}/media",
        target: { contactId: "16505550009" },
        status: 200,
      },
      { correlationId: randomUUID(), now: new Date("2026-12-06T12:06:00Z") },
    );
    await h.publish([after]);
    await h.caughtUp(1);
    await waitFor(() => h.deadLetters.length >= 3, {
      timeoutMs: 30_000,
      description: "3 dead letters",
    });
    expect(h.deadLetters).toHaveLength(3);
    for (const letter of h.deadLetters)
      expect(String(letter.headers[headerNames.dlq.errorClass])).toBe("PoisonRecordError");
    expect((await items("/v1/audit?action=media.erased")).map((i) => i.eventId)).toEqual([
      after.eventId,
    ]);
  });

  it("a rebuild from the log gives the same audit entries (invariant 11)", async () => {
    const result = await h.rebuild();
    expect(result).toMatchObject({ switched: true });
    const [current, rebuilt] = [await h.dump(1), await h.dump(result.generation)];
    expect(rebuilt["audit"]).toHaveLength(6);
    for (const kind of Object.keys(current)) expect(rebuilt[kind], kind).toEqual(current[kind]);
    active = result.generation;
    expect((await items("/v1/audit")).length).toBe(6);
  });
});
