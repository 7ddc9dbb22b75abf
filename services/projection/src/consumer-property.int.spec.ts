import { createEvent, exampleEvent, headerNames, type AnyEvent } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupOf } from "./adapters/kafka/projection-consumer.js";
import { collectionsOf } from "./adapters/store/read-model-stores.js";
import { worldArb } from "./projector/world.unit-helpers.js";
import {
  PREFIX,
  startProjectionHarness,
  type ProjectionHarness,
} from "./projection-harness.int-helpers.js";

// A property over the projection's input surface, through the real consumer, broker, registry
// and MongoDB-wire server: random traffic mixed with hostile records. Valid events that are
// hostile in content (caller keys that are operators, 100 KB texts, 90-level payloads, 256-char
// ids, statuses and outcomes of messages nobody asked for) are applied and stay bounded;
// records that are not events of their topic (random bytes, an empty value, an unknown schema
// id, another topic's event, an envelope its contract refuses) are dead-lettered with a reason.
// Each run reads everything from the start into a fresh generation: no stall, no loop, every
// partition committed to its end. PARLEY_PROPERTY_RUNS raises the number of runs (default 3).

const RUNS = Number(process.env["PARLEY_PROPERTY_RUNS"] ?? "3");

let h: ProjectionHarness;
beforeAll(async () => {
  h = await startProjectionHarness("projection-property");
});
afterAll(async () => {
  await h.stop();
});

let n = 0;
const uuid = () => `00000000-0000-4000-9000-${String(++n).padStart(12, "0")}`;
const at = new Date("2026-03-04T08:00:00.000Z");

/** Events their contract accepts, made to hurt: caller keys, sizes, depth, strangers' ids. */
function adversarial(run: number): AnyEvent[] {
  const nested = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < levels; i++) value = { n: value };
    return value;
  };
  const requestId = `req-adv-${String(run)}`;
  const meta = (correlationId: string) => ({ correlationId, now: at, eventId: uuid() });
  return [
    createEvent(
      "SendRequested",
      {
        contactId: "16505559999",
        idempotencyKey: `adv-${String(run)}`,
        recipient: { phone: "+16505559999" },
        sender: { kind: "businessNumber", phoneNumberId: "106540352242922" },
        content: { type: "text", text: { body: "x".repeat(4_096) } },
        category: "utility",
        metadata: Object.fromEntries(
          [
            "$where",
            "a.b",
            "__proto__",
            "constructor",
            "$set",
            ...Array.from({ length: 15 }, (_, i) => `k${String(i)}`),
          ].map((k) => [k, "v".repeat(10_000)]),
        ),
      },
      meta(requestId),
    ),
    createEvent(
      "SendRejected",
      {
        requestId,
        idempotencyKey: `adv-${String(run)}`,
        contactId: "16505559999",
        reason: "invalid_request",
        detail: "d".repeat(100_000),
      },
      meta(requestId),
    ),
    createEvent(
      "StatusUpdated",
      {
        contactId: "16505559998",
        wamid: `wamid.${"W".repeat(240)}${String(run)}`,
        status: "failed",
        origin: { deliveryId: `d-adv-${String(run)}`, wabaId: "102290129340398" },
        errors: Array.from({ length: 50 }, (_, i) => ({
          code: 131000 + i,
          title: "t".repeat(5_000),
        })),
        bizOpaqueCallbackData: "r".repeat(512),
      },
      meta(`d-adv-${String(run)}`),
    ),
    createEvent(
      "InboundMessageReceived",
      {
        contactId: "US.13491208655302741918",
        wamid: `wamid.adv.in.${String(run)}`,
        contact: { userId: "US.13491208655302741918", profileName: "p".repeat(50_000) },
        origin: { deliveryId: `d-adv-in-${String(run)}`, wabaId: "102290129340398" },
        message: { type: "unknown", originalType: "hologram", payload: nested(90) },
      },
      { ...meta(`d-adv-in-${String(run)}`), businessNumber: "106540352242922" },
    ),
  ];
}

interface Hostile {
  readonly topic: string;
  readonly value: Buffer;
}

async function hostile(bytes: Uint8Array): Promise<Hostile[]> {
  const { catalog, serde } = h;
  const requests = catalog.topic("send-requests");
  const statuses = catalog.topic("statuses");
  const status = exampleEvent("StatusUpdated");
  const otherTopic = await serde.encode(statuses, { ...status, eventId: uuid() });
  const own = await serde.encode(requests, { ...exampleEvent("SendRequested"), eventId: uuid() });
  const broken = JSON.parse(own.subarray(5).toString("utf8")) as { data: Record<string, unknown> };
  delete broken.data["contactId"];
  return [
    { topic: requests.name, value: Buffer.from(bytes) },
    { topic: statuses.name, value: Buffer.alloc(0) },
    {
      topic: requests.name,
      value: Buffer.concat([Buffer.from([0, 0, 0x0f, 0x42, 0x3f]), Buffer.from("{}")]),
    },
    { topic: requests.name, value: otherTopic },
    {
      topic: requests.name,
      value: Buffer.concat([own.subarray(0, 5), Buffer.from(JSON.stringify(broken))]),
    },
  ];
}

const header = (
  headers: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>,
  name: string,
) => {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v)?.toString();
};

describe("the projection's input surface", () => {
  it("applies every valid event once, dead-letters every record that is not one, and stalls on nothing", async () => {
    let run = 0;
    let hostileSoFar = 0;
    const requestIds = new Set<string>();
    const wamids = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        worldArb,
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        async (world, bytes) => {
          run++;
          const valid = [...world.events, ...adversarial(run)];
          const bad = await hostile(bytes);
          // Interleaved on the topics: valid and hostile records share partitions.
          const half = Math.floor(valid.length / 2);
          await h.publish(valid.slice(0, half));
          for (const [i, r] of bad.entries())
            await h.publishRaw(r.topic, `hostile-${String(run)}-${String(i)}`, r.value);
          await h.publish(valid.slice(half));
          hostileSoFar += bad.length;
          for (const e of valid) {
            if (e.type === "SendRequested") requestIds.add(e.correlationId);
            if (e.type === "StatusUpdated" || e.type === "InboundMessageReceived")
              wamids.add(e.data.wamid);
          }

          const generation = (await h.generations.create({ now: new Date() })).generation;
          const filling = await h.start(generation);
          await h.caughtUp(generation, 180_000);
          await filling.stop();

          const group = groupOf(h.catalog, generation);
          await waitFor(
            () =>
              h.deadLetters.filter(
                (d) => header(d.headers, headerNames.dlq.consumerGroup) === group,
              ).length >= hostileSoFar,
            { timeoutMs: 60_000, description: "every hostile record dead-lettered" },
          );
          const dead = h.deadLetters.filter(
            (d) => header(d.headers, headerNames.dlq.consumerGroup) === group,
          );
          expect(dead).toHaveLength(hostileSoFar);
          for (const d of dead) {
            expect(d.key?.toString()).toMatch(/^hostile-/);
            expect(header(d.headers, headerNames.dlq.errorMessage)?.length ?? 0).toBeGreaterThan(0);
          }
          const collections = collectionsOf(PREFIX, generation);
          const requests = await h.mongo.db.collection(collections.requests).find({}).toArray();
          const messages = await h.mongo.db.collection(collections.messages).find({}).toArray();
          const known = new Set(
            requests.filter((r) => r["request"] !== undefined).map((r) => String(r["_id"])),
          );
          for (const id of requestIds) expect(known.has(id), id).toBe(true);
          const seen = new Set(messages.map((m) => String(m["_id"])));
          for (const w of wamids) expect(seen.has(w), w.slice(0, 40)).toBe(true);
          for (const doc of [...requests, ...messages])
            expect(Buffer.byteLength(JSON.stringify(doc))).toBeLessThan(96 * 1024);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
