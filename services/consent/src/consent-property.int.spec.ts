import { createEvent } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DLQ_REASON,
  headerOf,
  startConsentHarness,
  type ConsentHarness,
} from "./consent-harness.int-helpers.js";

// Every input surface of consent under a mix of valid and hostile input (CONTRIBUTING.md):
// each valid item is recorded exactly once, each hostile one is a precise 4xx problem or a dead
// letter with a reason; nothing loops, stalls or crashes.

let h: ConsentHarness;
beforeAll(async () => {
  h = await startConsentHarness("consent-prop");
}, 180_000);
afterAll(async () => {
  await h.stop();
});

const contacts = ["15551110001", "15551110002", "15551110003", "+44 20 7946 0958"];
const validArb = fc.record({
  contact: fc.constantFrom(...contacts),
  decision: fc.constantFrom("granted", "revoked"),
  purposes: fc.constantFrom(["marketing"], ["utility"], ["marketing", "utility"]),
  occurredAt: fc.date({
    min: new Date("2025-01-01T00:00:00Z"),
    max: new Date("2026-06-01T00:00:00Z"),
    noInvalidDate: true,
  }),
  channel: fc.constantFrom("web", "checkout", "in_person", "api", "import", "whatsapp"),
  evidence: fc.dictionary(
    fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/),
    fc.string({ minLength: 1, maxLength: 40 }),
    { maxKeys: 4 },
  ),
  wording: fc.string({ minLength: 1, maxLength: 80 }),
});

type Hostile = { readonly path: string; readonly body: string };
const hostileArb: fc.Arbitrary<Hostile> = fc.oneof(
  fc.string({ maxLength: 60 }).map((body) => ({ path: "15551110001", body })),
  fc.jsonValue().map((v) => ({ path: "15551110001", body: JSON.stringify(v) })),
  validArb.map((v) => ({
    path: "15551110001",
    body: JSON.stringify({ ...bodyOf(v, "x"), decision: "perhaps" }),
  })),
  validArb.map((v) => ({
    path: "15551110001",
    body: JSON.stringify({ ...bodyOf(v, "x"), purposes: [] }),
  })),
  validArb.map((v) => ({
    path: "15551110001",
    body: JSON.stringify({ ...bodyOf(v, "x"), extra: 1 }),
  })),
  validArb.map((v) => ({
    path: "15551110001",
    body: JSON.stringify({ ...bodyOf(v, "x"), occurredAt: "2999-01-01T00:00:00Z" }),
  })),
  validArb.map((v) => ({
    path: "15551110001",
    body: JSON.stringify({ ...bodyOf(v, "x"), evidence: { big: "x".repeat(70_000) } }),
  })),
  fc.stringMatching(/^[a-z%]{1,12}$/).map((path) => ({ path, body: "{}" })),
);

type Valid = typeof validArb extends fc.Arbitrary<infer T> ? T : never;

function bodyOf(item: Valid, inputId: string) {
  return {
    inputId,
    decision: item.decision,
    purposes: item.purposes,
    occurredAt: item.occurredAt.toISOString(),
    channel: item.channel,
    businessName: "Acme",
    wording: { text: item.wording },
    ...(Object.keys(item.evidence).length === 0 ? {} : { evidence: item.evidence }),
  };
}

describe("consent input surfaces", () => {
  it("HTTP: every valid opt-in/opt-out is recorded once; every hostile request is a precise 4xx", async () => {
    let k = 0;
    const recorded = new Map<string, { contact: string; purposes: number }>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            validArb.map((v) => ({ valid: v })),
            hostileArb.map((x) => ({ hostile: x })),
          ),
          { minLength: 1, maxLength: 12 },
        ),
        async (items) => {
          await Promise.all(
            items.map(async (item) => {
              if ("valid" in item) {
                const inputId = `in-${String(++k)}`;
                const res = await h.call(
                  `/v1/contacts/${encodeURIComponent(item.valid.contact)}/consent`,
                  {
                    method: "POST",
                    body: JSON.stringify(bodyOf(item.valid, inputId)),
                  },
                );
                expect(res.status).toBe(201);
                recorded.set(inputId, {
                  contact: item.valid.contact,
                  purposes: item.valid.purposes.length,
                });
              } else {
                const res = await h.call(
                  `/v1/contacts/${encodeURIComponent(item.hostile.path)}/consent`,
                  {
                    method: "POST",
                    body: item.hostile.body,
                  },
                );
                expect([400, 413]).toContain(res.status);
                expect(res.headers.get("content-type")).toContain("application/problem+json");
                const problem = (await res.json()) as { type: string; detail?: string };
                expect(problem.type).toMatch(/^urn:parley:problem:/);
              }
            }),
          );
        },
      ),
      { numRuns: 25 },
    );
    // Each valid input's entries are in its contact's ledger once per purpose.
    const counts = new Map<string, number>();
    for (const contact of contacts) {
      const id = contact.replace(/\D/g, "");
      const res = await h.call(`/v1/contacts/${id}/consent/history`);
      if (res.status === 404) continue;
      const history = (await res.json()) as {
        entries: { entry: { data: { inputId?: string } } }[];
      };
      for (const e of history.entries) {
        const inputId = e.entry.data.inputId ?? "";
        counts.set(inputId, (counts.get(inputId) ?? 0) + 1);
      }
    }
    for (const [inputId, { purposes }] of recorded)
      expect(counts.get(inputId), inputId).toBe(purposes);
    expect([...counts.keys()].filter((id) => !recorded.has(id))).toEqual([]);
  }, 300_000);

  it("Kafka: every valid reply is decided once, every hostile record is dead-lettered with a reason", async () => {
    let run = 0;
    let hostileSoFar = 0;
    const wamids: string[] = [];
    const topic = h.catalog.topic("consent").name;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.constantFrom("15552220001", "15552220002"),
            fc.constantFrom("stop", "start" as const),
          ),
          { maxLength: 6 },
        ),
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 48 }), { minLength: 1, maxLength: 3 }),
        async (replies, hostile) => {
          run++;
          const events = replies.map(([contactId, word], i) => {
            const wamid = `wamid.prop.${String(run)}.${String(i)}`;
            wamids.push(wamid);
            return createEvent(
              "ConsentKeywordReceived",
              { contactId, wamid, keyword: word, text: word },
              { correlationId: wamid, now: new Date() },
            );
          });
          const half = Math.floor(events.length / 2);
          await h.publish(events.slice(0, half));
          for (const [i, bytes] of hostile.entries()) {
            // 0xff first: never the registry wire format's magic byte.
            await h.publishRaw(
              topic,
              `hostile-${String(run)}-${String(i)}`,
              Buffer.concat([Buffer.from([0xff]), Buffer.from(bytes)]),
            );
          }
          await h.publish(events.slice(half));
          // Every event published twice more: redeliveries decide nothing.
          await h.publish(events);
          hostileSoFar += hostile.length;
        },
      ),
      { numRuns: 6 },
    );
    const decided = () =>
      h.published.filter(
        (e) =>
          e.type !== "ContactErased" && (e.data.inputId ?? "").startsWith("keyword:wamid.prop."),
      );
    await waitFor(() => decided().length >= wamids.length * 2, {
      timeoutMs: 120_000,
      description: "every reply decided",
    });
    await waitFor(
      () =>
        h.deadLetters.filter((d) => d.key?.toString().startsWith("hostile-")).length >=
        hostileSoFar,
      {
        timeoutMs: 120_000,
        description: "every hostile record dead-lettered",
      },
    );
    const perInput = new Map<string, number>();
    for (const e of decided()) {
      const id = e.type === "ContactErased" ? "" : (e.data.inputId ?? "");
      perInput.set(id, (perInput.get(id) ?? 0) + 1);
    }
    for (const wamid of wamids) expect(perInput.get(`keyword:${wamid}`), wamid).toBe(2);
    const dead = h.deadLetters.filter((d) => d.key?.toString().startsWith("hostile-"));
    expect(dead).toHaveLength(hostileSoFar);
    for (const d of dead) expect(headerOf(d.headers, DLQ_REASON)?.length ?? 0).toBeGreaterThan(0);
  }, 300_000);

  it("Kafka: a START for an erased contact is dead-lettered with the reason, the consumer goes on", async () => {
    const c = "15552220009";
    expect((await h.call(`/v1/contacts/${c}/erasure`, { method: "POST", body: "{}" })).status).toBe(
      200,
    );
    const start = createEvent(
      "ConsentKeywordReceived",
      { contactId: c, wamid: "wamid.erased.1", keyword: "start", text: "START" },
      { correlationId: "x", now: new Date() },
    );
    const stop = createEvent(
      "ConsentKeywordReceived",
      { contactId: c, wamid: "wamid.erased.2", keyword: "stop", text: "STOP" },
      { correlationId: "y", now: new Date() },
    );
    await h.publish([start, stop]);
    await waitFor(() => h.deadLetters.some((d) => d.key?.toString() === c), {
      timeoutMs: 60_000,
      description: "refused START dead-lettered",
    });
    expect(
      headerOf(h.deadLetters.find((d) => d.key?.toString() === c)?.headers ?? {}, DLQ_REASON),
    ).toContain("erased");
    await waitFor(
      () => h.published.some((e) => e.type === "ConsentRevoked" && e.data.contactId === c),
      { timeoutMs: 60_000, description: "STOP after it decided" },
    );
  }, 120_000);
});
