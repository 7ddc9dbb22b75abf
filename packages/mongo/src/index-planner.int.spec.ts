import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { startStack, type Stack } from "@parley/testkit";
import type { Collection, Document, Filter } from "mongodb";
import { createMongo, type MongoConnection } from "./connection.js";

// The stand-in's planner (infra/native/mongo, LeadingFieldIndex and IndexPlanner) reads only the
// documents a secondary index's leading field allows. This property holds it to the scan: the
// same documents, written the same way into a collection with the indexes and one without,
// answer every filter alike (in the same order, on the in-memory stand-in), after inserts,
// updates that move a document between keys, and deletes. Against real MongoDB it checks that
// an index changes no result, which is what MongoDB promises.

interface Doc {
  _id: number;
  f?: unknown;
  g?: unknown;
}

let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("index-planner");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const epoch = new Date("2026-01-01T00:00:00Z").getTime();
/** Values that collide under loose keys (1, 1.0, -0, "1"), arrays, nested arrays, sub-documents. */
const scalar = fc.oneof(
  fc.constantFrom("a", "b", "1", "", "A"),
  fc.constantFrom(0, 1, 2, -0, 1.5, 2 ** 53 + 2),
  fc.boolean(),
  fc.constantFrom(0, 1, 2).map((d) => new Date(epoch + d * 1_000)),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.array(scalar, { maxLength: 2 }), { maxLength: 2 }) },
  { weight: 1, arbitrary: fc.record({ x: scalar }) },
);
/** A few values, so that filters and documents meet often (the cases a wrong index misses). */
const few = fc.constantFrom<unknown>("a", 1, -0, true, new Date(epoch), null);
const fewOrArray = fc.oneof(few, fc.array(few, { maxLength: 3 }));
const doc = fc.oneof(
  fc.record({ f: value, g: value }, { requiredKeys: [] }),
  fc.record({ f: fewOrArray, g: fewOrArray }, { requiredKeys: [] }),
);

/** Filters on f (as the indexes' leading field) with or without a condition on g. */
const fFilter: fc.Arbitrary<Filter<Doc>> = fc.oneof(
  value.map((v) => ({ f: v })),
  scalar.map((v) => ({ f: { $eq: v } })),
  fc.array(scalar, { maxLength: 4 }).map((vs) => ({ f: { $in: vs } })),
  fc.array(scalar, { minLength: 1, maxLength: 3 }).map((vs) => ({ f: { $in: vs, $ne: vs[0] } })),
  scalar.map((v) => ({ f: { $ne: v } })),
  fc.boolean().map((b) => ({ f: { $exists: b } })),
);
/** Ranges on g (the compound index's second field): dates, numbers, mixed, strings. */
const range = fc
  .array(fc.tuple(fc.constantFrom("$gt", "$gte", "$lt", "$lte", "$ne"), scalar), {
    minLength: 1,
    maxLength: 3,
  })
  .map((ops) => Object.fromEntries(ops));
const filter: fc.Arbitrary<Filter<Doc>> = fc.oneof(
  fFilter,
  fc.tuple(few, few).map(([f, g]) => ({ f, g })),
  fc
    .tuple(few, fc.array(few, { maxLength: 2 }))
    .map(([f, g]) => ({ f: { $in: [f] }, g: { $in: g } })),
  fc.tuple(few, few, few).map(([f, lo, hi]) => ({ f, g: { $gte: lo, $lt: hi } })),
  fc.tuple(fFilter, scalar).map(([f, g]) => ({ ...f, g })),
  fc.tuple(fFilter, range).map(([f, g]) => ({ ...f, g })),
  fc.tuple(fFilter, fc.array(scalar, { maxLength: 3 })).map(([f, g]) => ({ ...f, g: { $in: g } })),
  fc.tuple(fFilter, scalar).map(([f, g]) => ({ $and: [f, { g: { $ne: g } }] })),
  fc.tuple(scalar, scalar).map(([g, f]) => ({ g, $or: [{ f }, { f: { $in: [g] } }] })),
);

type Op =
  | { kind: "insert"; doc: Omit<Doc, "_id"> }
  | { kind: "set"; id: number; f: unknown }
  | { kind: "unset"; id: number }
  | { kind: "delete"; id: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: doc.map((d) => ({ kind: "insert" as const, doc: d })) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("set" as const), id: fc.nat(40), f: value }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unset" as const), id: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), id: fc.nat(40) }) },
);

async function apply(col: Collection<Doc>, ops: readonly Op[]): Promise<void> {
  let next = 0;
  for (const o of ops) {
    if (o.kind === "insert") await col.insertOne({ _id: next++, ...o.doc });
    else if (o.kind === "set") await col.updateOne({ _id: o.id }, { $set: { f: o.f } });
    else if (o.kind === "unset") await col.updateOne({ _id: o.id }, { $unset: { f: "" } });
    else await col.deleteOne({ _id: o.id });
  }
}

describe("the stand-in's secondary indexes", () => {
  it("answer every filter on an index's leading field exactly as the scan does", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 40 }),
        fc.array(filter, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (ops, filters, indexFirst) => {
          run += 1;
          const indexed = mongo.db.collection<Doc>(`indexed-${String(run)}`);
          const scanned = mongo.db.collection<Doc>(`scanned-${String(run)}`);
          const build = async (): Promise<void> => {
            await indexed.createIndex({ f: 1, g: 1 });
            await indexed.createIndex({ f: 1 }, { sparse: true });
            await indexed.createIndex({ g: 1, f: -1 });
          };
          // Indexes created before the writes are kept up by them; created after, built from
          // the documents.
          if (indexFirst) await build();
          await apply(indexed, ops);
          await apply(scanned, ops);
          if (!indexFirst) await build();
          try {
            for (const f of filters) {
              const expected = await scanned.find(f).toArray();
              expect(await indexed.find(f).toArray()).toEqual(expected);
              expect(await indexed.find(f).sort({ g: -1, _id: 1 }).limit(3).toArray()).toEqual(
                await scanned.find(f).sort({ g: -1, _id: 1 }).limit(3).toArray(),
              );
              expect(await indexed.countDocuments(f)).toBe(expected.length);
              const probe = await indexed.updateMany(f, { $inc: { n: 1 } });
              const twin = await scanned.updateMany(f, { $inc: { n: 1 } });
              expect(probe.matchedCount).toBe(twin.matchedCount);
            }
            const [a, b] = await Promise.all(
              [indexed, scanned].map((c) => c.find({} as Document).toArray()),
            );
            expect(a).toEqual(b);
          } finally {
            await Promise.all([indexed.drop(), scanned.drop()]);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("read only the documents a leading field allows: a lookup beats the same lookup on an unindexed twin", async () => {
    // The cost the indexes exist for, on this server's clock: 10,000 documents, a number with
    // two of them; the indexed collection reads two candidates, the twin scans all. Interleaved
    // rounds, so a busy machine slows both alike.
    type Call = { _id: number; number: string; calledAt: Date };
    const indexed = mongo.db.collection<Call>("cost-indexed");
    const scanned = mongo.db.collection<Call>("cost-scanned");
    await indexed.createIndex({ number: 1, calledAt: 1 });
    const docs: Call[] = Array.from({ length: 10_000 }, (_, i) => ({
      _id: i,
      number: i < 2 ? "hot" : `n-${String(i % 250)}`,
      calledAt: new Date(epoch + i),
    }));
    await indexed.insertMany(docs);
    await scanned.insertMany(docs);
    const time = async (col: Collection<Call>): Promise<number> => {
      const started = performance.now();
      for (let i = 0; i < 20; i += 1) {
        const found = await col.find({ number: "hot", calledAt: { $gt: new Date(0) } }).toArray();
        expect(found).toHaveLength(2);
      }
      return performance.now() - started;
    };
    let [fast, slow] = [0, 0];
    for (let round = 0; round < 3; round += 1) {
      fast += await time(indexed);
      slow += await time(scanned);
    }
    console.log(
      `60 lookups among 10,000 documents: ${fast.toFixed(0)} ms indexed, ${slow.toFixed(0)} ms scanned`,
    );
    expect(fast * 2).toBeLessThan(slow);
  });
});
