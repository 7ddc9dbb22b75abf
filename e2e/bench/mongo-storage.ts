// What the durable MongoDB-wire server costs (issue 26, docs/benchmarks.md "MongoDB-wire storage:
// memory vs disk"): the same workload against the in-memory backend and the H2 MVStore backend
// (MONGO_STORAGE=disk, committed before each reply), started side by side by
// bench/mongo-storage.sh. The workload is the shape Parley's stores write (the decider runtime's
// state documents, ADR 0010): insert a new key, read it by _id, compare-and-set it by
// {_id, version}, each phase BENCH_OPS operations from BENCH_CONCURRENCY callers, then one
// aggregation over the collection as the projection's queries do. Prints one table row per backend
// and phase: operations per second, p50 and p99 latency.
import { createMongo } from "@parley/mongo";

const OPS = Number(process.env["BENCH_OPS"] ?? "20000");
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? "16");
const targets = [
  { name: "memory", url: process.env["BENCH_MONGO_MEMORY_URL"] },
  { name: "disk", url: process.env["BENCH_MONGO_DISK_URL"] },
];

interface StateDoc {
  _id: string;
  version: number;
  state: { count: number; contact: string; window: string };
  updatedAt: Date;
}

interface PhaseResult {
  readonly backend: string;
  readonly phase: string;
  readonly opsPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function phase(
  backend: string,
  name: string,
  count: number,
  op: (i: number) => Promise<unknown>,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  latencies.sort((a, b) => a - b);
  return {
    backend,
    phase: name,
    opsPerS: count / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  };
}

async function run(backend: string, url: string): Promise<PhaseResult[]> {
  const mongo = createMongo({
    url,
    database: `bench_storage_${String(Date.now())}`,
    appName: "bench",
  });
  const states = mongo.db.collection<StateDoc>("states");
  const key = (i: number) => `contact-${String(i).padStart(8, "0")}`;
  const results: PhaseResult[] = [];
  try {
    results.push(
      await phase(backend, "insert", OPS, (i) =>
        states.insertOne({
          _id: key(i),
          version: 1,
          state: { count: 1, contact: `1650555${String(i)}`, window: "open" },
          updatedAt: new Date(),
        }),
      ),
    );
    results.push(
      await phase(backend, "find by _id", OPS, (i) =>
        states.findOne({ _id: key((i * 7919) % OPS) }),
      ),
    );
    results.push(
      await phase(backend, "compare-and-set {_id, version}", OPS, async (i) => {
        const r = await states.updateOne(
          { _id: key(i), version: 1 },
          {
            $set: { version: 2, "state.window": "closed", updatedAt: new Date() },
            $inc: { "state.count": 1 },
          },
        );
        if (r.modifiedCount !== 1) throw new Error(`compare-and-set of ${key(i)} missed`);
      }),
    );
    results.push(
      await phase(backend, "aggregate ($group over all)", 20, () =>
        states.aggregate([{ $group: { _id: "$state.window", n: { $sum: 1 } } }]).toArray(),
      ),
    );
    await mongo.db.dropDatabase();
  } finally {
    await mongo.close();
  }
  return results;
}

const rows: PhaseResult[] = [];
for (const t of targets) {
  if (t.url === undefined) throw new Error(`BENCH_MONGO_${t.name.toUpperCase()}_URL is not set`);
  process.stderr.write(
    `[bench] ${t.name}: ${String(OPS)} operations per phase, ${String(CONCURRENCY)} callers\n`,
  );
  rows.push(...(await run(t.name, t.url)));
}
const memory = new Map(rows.filter((r) => r.backend === "memory").map((r) => [r.phase, r]));
console.log(`| backend | phase | ops/s | p50 (ms) | p99 (ms) | vs memory |`);
console.log(`| ------- | ----- | ----: | -------: | -------: | --------: |`);
for (const r of rows) {
  const base = memory.get(r.phase);
  const ratio = base ? (r.opsPerS / base.opsPerS).toFixed(2) : "";
  console.log(
    `| ${r.backend} | ${r.phase} | ${r.opsPerS.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${ratio} x |`,
  );
}
