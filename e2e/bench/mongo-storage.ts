// What the durable MongoDB-wire server costs (issue 26, docs/benchmarks.md "MongoDB-wire storage:
// memory vs disk"): the same workload against the in-memory backend and the H2 MVStore backend
// (MONGO_STORAGE=disk, committed before each reply), started side by side by
// bench/mongo-storage.sh. The workload is the shape Parley's stores write (the decider runtime's
// state documents, ADR 0010): insert a new key, read it by _id, compare-and-set it by
// {_id, version}, each phase BENCH_OPS operations from BENCH_CONCURRENCY callers, then one
// aggregation over the collection as the projection's queries do; then the sender's attempt
// store's shape (issue 31): calls inserted under a compound index (number, calledAt), read back
// by {number, calledAt: {$gt}}, against the indexed collection and an unindexed twin (what the
// stand-in did before it kept secondary indexes: a scan). Prints one table row per backend and
// phase: operations per second, p50 and p99 latency, and the server's CPU per operation (from
// /proc/<pid>/stat of BENCH_MONGO_MEMORY_PID / BENCH_MONGO_DISK_PID when set).
import { readFileSync } from "node:fs";
import { createMongo } from "@parley/mongo";

const OPS = Number(process.env["BENCH_OPS"] ?? "20000");
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? "16");
const targets = [
  {
    name: "memory",
    url: process.env["BENCH_MONGO_MEMORY_URL"],
    pid: process.env["BENCH_MONGO_MEMORY_PID"],
  },
  {
    name: "disk",
    url: process.env["BENCH_MONGO_DISK_URL"],
    pid: process.env["BENCH_MONGO_DISK_PID"],
  },
];
/** Lookups per phase on the call collections (the unindexed twin scans every call each time). */
const LOOKUPS = Math.max(100, Math.floor(OPS / 10));

/** The server's CPU time so far in ms (user + system, 10 ms ticks), or NaN without a pid. */
function serverCpuMs(pid: string | undefined): number {
  if (pid === undefined || pid === "") return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface CallDoc {
  _id: number;
  number: string;
  to: string;
  calledAt: Date;
}

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
  readonly cpuUsPerOp: number;
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function phase(
  backend: string,
  pid: string | undefined,
  name: string,
  count: number,
  op: (i: number) => Promise<unknown>,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  const cpuBefore = serverCpuMs(pid);
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
    cpuUsPerOp: ((serverCpuMs(pid) - cpuBefore) * 1_000) / count,
  };
}

async function run(backend: string, url: string, pid: string | undefined): Promise<PhaseResult[]> {
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
      await phase(backend, pid, "insert", OPS, (i) =>
        states.insertOne({
          _id: key(i),
          version: 1,
          state: { count: 1, contact: `1650555${String(i)}`, window: "open" },
          updatedAt: new Date(),
        }),
      ),
    );
    results.push(
      await phase(backend, pid, "find by _id", OPS, (i) =>
        states.findOne({ _id: key((i * 7919) % OPS) }),
      ),
    );
    results.push(
      await phase(backend, pid, "compare-and-set {_id, version}", OPS, async (i) => {
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
      await phase(backend, pid, "aggregate ($group over all)", 20, () =>
        states.aggregate([{ $group: { _id: "$state.window", n: { $sum: 1 } } }]).toArray(),
      ),
    );
    // The sender's attempt store: calls of 20 numbers under (number, calledAt), then the
    // pacing's look-back ({number, calledAt > t}) on the indexed collection and on a twin
    // without the index.
    const calls = mongo.db.collection<CallDoc>("calls");
    const twin = mongo.db.collection<CallDoc>("calls_unindexed");
    await calls.createIndex({ number: 1, calledAt: 1 });
    await calls.createIndex({ number: 1, to: 1, calledAt: 1 });
    const t0 = Date.now();
    const call = (i: number): CallDoc => ({
      _id: i,
      number: `10654035225${String(i % 20).padStart(4, "0")}`,
      to: `1650555${String(i % 5_000).padStart(4, "0")}`,
      calledAt: new Date(t0 + i),
    });
    results.push(
      await phase(backend, pid, "calls: insert (2 compound indexes)", OPS, (i) =>
        calls.insertOne(call(i)),
      ),
    );
    // In batches of 500: one message of every call would hold the server past the driver's
    // heartbeat on a busy machine.
    for (let i = 0; i < OPS; i += 500)
      await twin.insertMany(Array.from({ length: Math.min(500, OPS - i) }, (_, j) => call(i + j)));
    const lookBack = (i: number) => ({
      number: call(i).number,
      calledAt: { $gt: new Date(t0 + OPS - 200) },
    });
    results.push(
      await phase(backend, pid, "calls: {number, calledAt > t} (indexed)", LOOKUPS, (i) =>
        calls.find(lookBack(i)).toArray(),
      ),
    );
    results.push(
      await phase(backend, pid, "calls: {number, calledAt > t} (no index: scan)", LOOKUPS, (i) =>
        twin.find(lookBack(i)).toArray(),
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
  rows.push(...(await run(t.name, t.url, t.pid)));
}
const memory = new Map(rows.filter((r) => r.backend === "memory").map((r) => [r.phase, r]));
console.log(
  `| backend | phase | ops/s | p50 (ms) | p99 (ms) | vs memory | server CPU per op (µs) |`,
);
console.log(
  `| ------- | ----- | ----: | -------: | -------: | --------: | ---------------------: |`,
);
for (const r of rows) {
  const base = memory.get(r.phase);
  const ratio = base ? (r.opsPerS / base.opsPerS).toFixed(2) : "";
  console.log(
    `| ${r.backend} | ${r.phase} | ${r.opsPerS.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${ratio} x | ${r.cpuUsPerOp.toFixed(0)} |`,
  );
}
