// The projector's own CPU per event, outside the service (docs/benchmarks.md, "Projection"): the
// projection bench's outbound messages (six events each) fed to `createProjector` in fetch-sized
// turns through `gather`, as the consumer hands them over, on the in-memory read models and, when
// MONGO_URL is set, on MongoDB (a database of its own, dropped afterwards). No Kafka, no service
// chassis (tracing, metrics, timers): what the read models, the decider runtime and the store
// cost per event, to set beside the service's figure and the bare consume's.
// Run: `BENCH_ONLY=projector bash bench/projection.sh`; BENCH_MESSAGES (4000).
import { finalOutcome } from "@parley/client";
import { createEvent, type AnyEvent } from "@parley/contracts";
import { createMongo } from "@parley/mongo";
import { countryOfContact } from "@parley/pricing";
import {
  collectionsOf,
  createMongoErasureIndex,
  createReadModelStores,
  ensureIndexes,
} from "../dist/adapters/store/read-model-stores.js";
import { createMongoBucketMarks } from "../dist/adapters/store/analytics-store.js";
import { gather } from "../dist/projector/gather.js";
import { createMemoryReadModels } from "../dist/projector/memory.js";
import { createProjector } from "../dist/projector/projector.js";
import type { BucketMarks, ErasureIndex, ReadModelStores } from "../dist/projector/ports.js";

const MESSAGES = Number(process.env["BENCH_MESSAGES"] ?? "4000");
const CONTACTS = 2_000;
const NUMBER = "106540352242999";
/** Records per fetch (a 2 MB fetch of ~1 KB events holds about this many of one topic's). */
const FETCH = 500;

let seq = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++seq).padStart(12, "0")}`;

/** The projection bench's message: request, dispatch, acceptance, sent, delivered, read. */
function messageEvents(i: number, at: number): AnyEvent[] {
  const contactId = `1650${String(5_000_000 + (i % CONTACTS))}`;
  const requestId = `bench-${String(i)}`;
  const wamid = `wamid.bench.${String(i)}`;
  const ids = { requestId, idempotencyKey: `k-${String(i)}`, contactId };
  const meta = (ms: number) => ({
    correlationId: requestId,
    businessNumber: NUMBER,
    occurredAt: new Date(at + ms),
    now: new Date(at + ms),
    eventId: uuid(),
  });
  const origin = { deliveryId: `d-${String(i)}`, wabaId: "102290129340999" };
  const status = (s: "sent" | "delivered" | "read", ms: number) =>
    createEvent(
      "StatusUpdated",
      {
        contactId,
        wamid,
        status: s,
        origin,
        recipientId: contactId,
        bizOpaqueCallbackData: requestId,
        ...(s === "sent"
          ? { pricing: { pricingModel: "PMP", type: "regular", category: "utility" } }
          : {}),
      },
      meta(ms),
    );
  return [
    createEvent(
      "SendRequested",
      {
        contactId,
        idempotencyKey: ids.idempotencyKey,
        recipient: { phone: `+${contactId}` },
        sender: { kind: "businessNumber", phoneNumberId: NUMBER },
        content: { type: "text", text: { body: `order ${String(i)} shipped` } },
        category: "utility",
        requester: "bench",
      },
      meta(0),
    ),
    createEvent(
      "DispatchMessage",
      {
        ...ids,
        to: contactId,
        toKind: "phone",
        content: { type: "text", text: { body: "x" } },
        category: "utility",
        usedTemplateFallback: false,
        bizOpaqueCallbackData: requestId,
      },
      meta(5),
    ),
    createEvent(
      "SendAccepted",
      { ...ids, wamid, usedTemplateFallback: false, attempts: 1 },
      meta(40),
    ),
    status("sent", 60),
    status("delivered", 900),
    status("read", 5_000),
  ] as AnyEvent[];
}

interface ReadModels {
  readonly stores: ReadModelStores;
  readonly marks: BucketMarks;
  readonly erasure: ErasureIndex;
}

/** The service's default (PROJECTION_MARK_ON_NEXT_SAVE); BENCH_MARK_ON_NEXT_SAVE=false: a mark per outbox. */
const MARK_ON_NEXT_SAVE = process.env["BENCH_MARK_ON_NEXT_SAVE"] !== "false";

/**
 * How a message's six events reach the projector: `lockstep`, every topic's records of the same
 * messages in one turn (each key saved once per turn); `apart`, one topic's records per apply,
 * the topics in turn, as the service working off a backlog receives them (a fetch holds one
 * topic's partitions), so a request's three events are three applies and three saves.
 */
type Arrival = "lockstep" | "apart";

/** CPU µs per event applying every event once, in fetches of each topic's records in turn. */
async function run(models: ReadModels, arrival: Arrival = "lockstep"): Promise<number> {
  const t0 = Date.parse("2026-03-01T00:00:00.000Z");
  const messages = Array.from({ length: MESSAGES }, (_, i) => messageEvents(i, t0 + i * 100));
  const topics = [0, 1, 2, 3, 4, 5].map((k) => messages.map((m) => m[k] as AnyEvent));
  const apply = gather(
    createProjector({
      ...models,
      finalOf: finalOutcome,
      countryOf: countryOfContact,
      markOnNextSave: MARK_ON_NEXT_SAVE,
    }),
  );
  const start = process.cpuUsage();
  let applied = 0;
  if (arrival === "lockstep") {
    for (let offset = 0; offset < MESSAGES; offset += FETCH / 2) {
      const calls = topics.flatMap((events) =>
        events.slice(offset, offset + FETCH / 2).map((event) => apply({ event })),
      );
      await Promise.all(calls);
      applied += calls.length;
    }
  } else {
    for (let offset = 0; offset < MESSAGES; offset += FETCH) {
      for (const events of topics) {
        const calls = events.slice(offset, offset + FETCH).map((event) => apply({ event }));
        await Promise.all(calls);
        applied += calls.length;
      }
    }
  }
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / applied;
}

const rows: string[] = [];
for (const arrival of ["lockstep", "apart"] as const)
  rows.push(
    `| in-memory read models, ${arrival} | ${(await run(createMemoryReadModels(), arrival)).toFixed(0)} |`,
  );
const url = process.env["MONGO_URL"];
if (url !== undefined) {
  const database = `bench_projector_${String(process.pid)}`;
  const mongo = createMongo({ url, database, appName: "bench-projector" });
  try {
    for (const [generation, arrival] of [
      [1, "lockstep"],
      [2, "apart"],
    ] as const) {
      const collections = collectionsOf("bench_", generation);
      await ensureIndexes(mongo.db, collections);
      const perEvent = await run(
        {
          stores: createReadModelStores(mongo.db, collections),
          marks: createMongoBucketMarks(mongo.db, collections),
          erasure: createMongoErasureIndex(mongo.db, collections),
        },
        arrival,
      );
      rows.push(
        `| MongoDB read models (${url.replace(/\/\/[^@]*@/, "//")}), ${arrival} | ${perEvent.toFixed(0)} |`,
      );
    }
  } finally {
    await mongo.db.dropDatabase();
    await mongo.client.close();
  }
}
process.stdout.write(
  `\nProjector alone, ${String(MESSAGES)} messages (${String(MESSAGES * 6)} events), markOnNextSave ${String(MARK_ON_NEXT_SAVE)}\n\n` +
    `| read models | CPU per event (µs) |\n| --- | --: |\n${rows.join("\n")}\n`,
);
