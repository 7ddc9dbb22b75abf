// Outbound benchmark (docs/benchmarks.md, "Outbound path (sender)"): the sender as its own
// process (services/sender/dist/main.js) against the real broker, registry and MongoDB, calling the Cloud API
// simulator served from this process. Each case pre-publishes its DispatchMessage backlog, starts
// a sender, and reads the simulator's log; the baselines (a raw keep-alive HTTP client posting the
// same requests straight to the simulator) run in the same process and the same run.
// Needs KAFKA_BROKERS, SCHEMA_REGISTRY_URL, MONGO_URL (bench/outbound.sh sets them).
// Knobs: BENCH_SECONDS (8; backlog = cap x seconds), BENCH_CONNECTIONS (64), BENCH_CPU_PROF (dir),
// BENCH_PER_RECIPIENT (1: sends per recipient, in blocks of 100 requests; more compares a workload
// that repeats recipients, as the bench did before 2026-12-06),
// BENCH_HEAP_SNAPSHOT (dir), BENCH_SENDER_NODE_FLAGS, BENCH_SIM_NICE (-10); any SENDER_* variable
// set for the bench (SENDER_RATE_MARGIN_MS=50, say) is passed to the sender, as is
// HEAP_GROWING_PERCENT; BENCH_SENDER_MAIN runs another build of the sender (another commit's
// services/sender/dist/main.js) on the same workload.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { MongoClient } from "mongodb";
import { createSimulator, serveSimulator, type Simulator } from "@parley/cloud-api-sim";
import { createCatalog, createEvent, type EventOf } from "@parley/contracts";
import {
  createEventProducer,
  partitionOfKey,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
} from "@parley/kafka";
import {
  SENDER_DISPATCH_CONSUMER,
  SENDER_GATES_CONSUMER,
  SENDER_STATUSES_CONSUMER,
} from "../dist/adapters/kafka/consumers.js";
import {
  cpuMs,
  cpuTicks,
  heapSnapshot,
  perSecond,
  rssMb,
  simPriority,
  steadyRate,
} from "./measure.js";
import {
  rawClient,
  requests,
  SIM_PORT,
  template,
  TOKEN,
  WABA,
  type NumberSpec,
  type Request,
} from "./workload.js";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 8);
const CONNECTIONS = Number(process.env["BENCH_CONNECTIONS"] ?? 64);
const CPU_PROF = process.env["BENCH_CPU_PROF"];
const HEAP_SNAPSHOT = process.env["BENCH_HEAP_SNAPSHOT"];
/** Extra node flags for the sender process (V8 heap settings, say), split on spaces. */
const SENDER_NODE_FLAGS = (process.env["BENCH_SENDER_NODE_FLAGS"] ?? "").split(" ").filter(Boolean);
const OPS_PORT = Number(process.env["BENCH_SENDER_PORT"] ?? 47111);
/** Each case is bounded: 20 s, or 2.5 s per second of backlog in longer runs. */
const CASE_LIMIT_MS = Math.max(20_000, SECONDS * 2_500);
/**
 * Sends per recipient: one, as a campaign sends, each to a recipient no other case or baseline
 * of the run uses (`requests`). Under Meta's pair rule (45 within 6 s, then one per 6 s; the
 * simulator's default since 6091c64) a recipient's sends must all fall within 6 s, and the
 * sender's sends to one recipient go one at a time: on a loaded machine four of them took more
 * than 6 s and the pacer held the recipient for its debt (the pair rule measured, not the
 * sender; pair pacing has its own tests).
 */
const PER_RECIPIENT = Number(process.env["BENCH_PER_RECIPIENT"] ?? 1);
if (!Number.isInteger(PER_RECIPIENT) || PER_RECIPIENT < 1 || PER_RECIPIENT > 40)
  throw new Error("BENCH_PER_RECIPIENT must be an integer from 1 to 40 (Meta's burst is 45)");
/**
 * The sender's entry point: this tree's build, or BENCH_SENDER_MAIN (another commit's built
 * `services/sender/dist/main.js`, to compare code on the same workload in one run).
 */
const MAIN =
  process.env["BENCH_SENDER_MAIN"] ?? fileURLToPath(new URL("../dist/main.js", import.meta.url));
/** The sender's own log (warnings and errors) of each case, to read after a surprise. */
const LOG_DIR = fileURLToPath(
  new URL("../../../.parley/bench-outbound/sender-logs", import.meta.url),
);
const GRAPH = `http://127.0.0.1:${SIM_PORT}`;

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run bench/outbound.sh)`);
  return v;
};

/** BENCH_ONLY=a, b or d: that case alone; unset: every case. */
const ONLY = process.env["BENCH_ONLY"];

async function main(): Promise<void> {
  const prefix = `bench-sender-${String(Date.now())}`;
  const catalog = createCatalog({ prefix: `${prefix}.`, partitions: { business: 4 } });
  const kafka = createKafka({ brokers: env("KAFKA_BROKERS").split(","), clientId: prefix });
  const serde = createSerde({ registry: createRegistry({ url: env("SCHEMA_REGISTRY_URL") }) });
  await provisionTopics({
    kafka,
    serde,
    topics: [
      ...catalog.topics,
      ...[SENDER_DISPATCH_CONSUMER, SENDER_GATES_CONSUMER, SENDER_STATUSES_CONSUMER].map((c) =>
        catalog.deadLetterTopic(c),
      ),
    ],
  });
  const producer = createEventProducer({ kafka, serde, name: "bench producer" });
  await producer.connect();
  const dispatchTopic = catalog.topic("dispatch");

  // Keyed by number on a 4-partition topic: these two land on different partitions (1 and 2),
  // so the 80 msg/s number's records do not queue behind the 1,000 msg/s backlog (that
  // head-of-line effect is a property of partition sharing, ADR 0006, not of the limiter).
  const FAST = "106540352250001";
  const SLOW = "106540352250003";
  // Only for the warm-up of servers that have just started (BENCH_WARMUP=1).
  const WARM = "106540352250007";
  const many: NumberSpec[] = Array.from({ length: 20 }, (_, i) => ({
    id: `1065403522510${String(i).padStart(2, "0")}`,
    mps: 1_000,
  }));
  // (d) two numbers on one partition of the dispatch topic: the first pair of candidates that
  // murmur2 puts together.
  const candidates = Array.from(
    { length: 12 },
    (_, i) => `1065403522520${String(i).padStart(2, "0")}`,
  );
  const [HEAVY = "", LIGHT = ""] =
    candidates
      .map((a) =>
        candidates.filter(
          (b) =>
            partitionOfKey(b, dispatchTopic.partitions) ===
            partitionOfKey(a, dispatchTopic.partitions),
        ),
      )
      .find((group) => group.length >= 2) ?? [];
  const all: NumberSpec[] = [
    { id: FAST, mps: 1_000 },
    { id: SLOW, mps: 80 },
    { id: WARM, mps: 1_000 },
    ...many,
    { id: HEAVY, mps: 200 },
    { id: LIGHT, mps: 80 },
  ];
  const sim: Simulator = createSimulator({
    seed: "sender-bench",
    accessTokens: [{ token: TOKEN }],
    businesses: [
      {
        wabaId: WABA,
        phoneNumbers: all.map((n, i) => ({
          id: n.id,
          displayPhoneNumber: `1555000${String(i).padStart(4, "0")}`,
          throughputMps: n.mps,
        })),
      },
    ],
    webhooks: { enabled: false },
  });
  sim.addTemplate({
    wabaId: WABA,
    name: "order_update",
    language: "en",
    body: "Your order shipped",
  });
  const server = await serveSimulator(sim, { port: SIM_PORT });
  simPriority();
  const load: number[][] = [loadavg()];

  const publish = async (list: readonly Request[]): Promise<void> => {
    for (let i = 0; i < list.length; i += 1_000) {
      const chunk = list.slice(i, i + 1_000).map((r) => {
        const event: EventOf<"DispatchMessage"> = createEvent(
          "DispatchMessage",
          {
            requestId: r.requestId,
            idempotencyKey: r.requestId,
            contactId: r.to,
            to: r.to,
            toKind: "phone",
            content: { type: "template", template },
            category: "utility",
            usedTemplateFallback: false,
            bizOpaqueCallbackData: r.requestId,
          },
          { correlationId: r.requestId, businessNumber: r.number, now: new Date() },
        );
        return { key: dispatchTopic.keyOf(event), event };
      });
      await producer.publish(dispatchTopic, chunk);
    }
  };

  /** Starts a sender process over `numbers`, waits until `expected` sends reached the simulator. */
  const runSender = async (
    name: string,
    numbers: readonly NumberSpec[],
    expected: number,
    extraEnv: Record<string, string> = {},
  ): Promise<{ rssMaxMb: number; timedOut: boolean }> => {
    const before = sim.stats().reduce((s, n) => s + n.accepted, 0);
    // How late this process (the simulator) handles what arrives: its stamps are that late.
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const ticksBefore = cpuTicks();
    const args = [
      // As the images and `make dev` run it; BENCH_SENDER_NODE_FLAGS may override it.
      "--initial-old-space-size=64",
      "--max-semi-space-size=8",
      ...SENDER_NODE_FLAGS,
      ...(CPU_PROF
        ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF}`, `--cpu-prof-name=${name}.cpuprofile`]
        : []),
      ...(HEAP_SNAPSHOT
        ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${HEAP_SNAPSHOT}`]
        : []),
      MAIN,
    ];
    const dbName = `${prefix}-${name}`.replace(/[^a-zA-Z0-9_-]/g, "_");
    mkdirSync(LOG_DIR, { recursive: true });
    const logFile = join(LOG_DIR, `${prefix}-${name}.log`);
    const child: ChildProcess = spawn(process.execPath, args, {
      stdio: ["ignore", openSync(logFile, "w"), "inherit"],
      env: {
        PATH: process.env["PATH"] ?? "",
        KAFKA_BROKERS: env("KAFKA_BROKERS"),
        SCHEMA_REGISTRY_URL: env("SCHEMA_REGISTRY_URL"),
        MONGO_URL: env("MONGO_URL"),
        MONGO_DB: dbName,
        PARLEY_TOPIC_PREFIX: `${prefix}.`,
        HTTP_PORT: String(OPS_PORT),
        OPS_TOKEN: "bench-ops-token",
        LOG_LEVEL: "warn",
        WA_GRAPH_BASE_URL: GRAPH,
        SENDER_GRAPH_CONNECTIONS: String(CONNECTIONS),
        // Any SENDER_* setting in the bench's environment, HEAP_GROWING_PERCENT and
        // MONGO_COMMAND_METRICS (true: MongoDB commands counted) reach the sender as they are.
        ...Object.fromEntries(
          Object.entries(process.env).filter(
            ([k]) =>
              k.startsWith("SENDER_") ||
              k === "HEAP_GROWING_PERCENT" ||
              k === "MONGO_COMMAND_METRICS",
          ),
        ),
        ...extraEnv,
        PARLEY_NUMBERS: JSON.stringify({
          numbers: numbers.map((n) => ({
            phoneNumberId: n.id,
            wabaId: WABA,
            mps: n.mps,
            accessToken: TOKEN,
          })),
        }),
      },
    });
    let rssMaxMb = 0;
    /** The highest RSS seen in each second of the case: where the peak came. */
    const rssBySecond: number[] = [];
    const started = Date.now();
    let timedOut = false;
    // CPU per send is counted from the first send on (start-up and module loading left out).
    let first: { cpu: number; sent: number } | undefined;
    let last = { cpu: 0, sent: 0 };
    /** From halfway through the sends on: the JIT's and the lanes' start-up left out. */
    let half: { cpu: number; sent: number } | undefined;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        if (child.pid !== undefined) {
          const rss = rssMb(child.pid);
          rssMaxMb = Math.max(rssMaxMb, rss);
          const second = Math.floor((Date.now() - started) / 1_000);
          rssBySecond[second] = Math.max(rssBySecond[second] ?? 0, rss);
        }
        const now = sim.stats().reduce((s, n) => s + n.accepted, 0) - before;
        if (child.pid !== undefined && now > 0) {
          last = { cpu: cpuMs(child.pid), sent: now };
          first ??= last;
          if (half === undefined && now >= expected / 2) half = last;
        }
        if (now >= expected || Date.now() - started > CASE_LIMIT_MS + 15_000) {
          timedOut = now < expected;
          clearInterval(tick);
          resolve();
        }
      }, 100);
    });
    if (first && last.sent > first.sent)
      console.log(
        `${name}: sender CPU per send ${((last.cpu - first.cpu) / (last.sent - first.sent)).toFixed(2)} ms (${String(last.sent - first.sent)} sends)`,
      );
    if (half && last.sent > half.sent)
      console.log(
        `${name}: sender CPU per send, second half of the sends ${((last.cpu - half.cpu) / (last.sent - half.sent)).toFixed(2)} ms (${String(last.sent - half.sent)} sends)`,
      );
    console.log(
      `${name}: sender max RSS MB by second from its start: ${rssBySecond.map((r) => r.toFixed(0)).join(", ")}`,
    );
    load.push(loadavg());
    try {
      const res = await fetch(`http://127.0.0.1:${String(OPS_PORT)}/metrics`, {
        headers: { authorization: "Bearer bench-ops-token" },
      });
      const text = await res.text();
      const sums = new Map<string, number>();
      for (const m of text.matchAll(
        /^parley_sender_stage_seconds_(sum|count)\{[^}]*stage="(\w+)"[^}]*\} (\S+)$/gm,
      ))
        sums.set(`${m[2] ?? ""}.${m[1] ?? ""}`, Number(m[3]));
      const gauge = (metric: string): number => {
        const m = new RegExp(`^parley_${metric}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
        return m ? Number(m[1]) / 1024 / 1024 : 0;
      };
      console.log(
        `${name}: memory at the end (MB): rss ${gauge("process_resident_memory_bytes").toFixed(0)}, heap used ${gauge("nodejs_heap_size_used_bytes").toFixed(0)} of ${gauge("nodejs_heap_size_total_bytes").toFixed(0)}, external ${gauge("nodejs_external_memory_bytes").toFixed(0)}`,
      );
      // Round trips over the sender's life (start-up included: a few dozen) per send of the case.
      const trips = new Map<string, number>();
      for (const [, kind, what, value] of text.matchAll(
        /^parley_(kafka_requests|mongo_commands)_total\{[^}]*(?:api|command)="([^"]+)"[^}]*\} (\S+)$/gm,
      )) {
        const key = `${kind === "kafka_requests" ? "kafka" : "mongo"} ${what ?? ""}`;
        trips.set(key, (trips.get(key) ?? 0) + Number(value));
      }
      const sends = Math.max(1, last.sent);
      console.log(
        `${name}: round trips per 1,000 sends (Kafka requests by API, MongoDB commands${process.env["MONGO_COMMAND_METRICS"] === "true" ? "" : " with MONGO_COMMAND_METRICS=true"}; ${String(last.sent)} sends): ${[
          ...trips,
        ]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([what, n]) => `${what} ${((1_000 * n) / sends).toFixed(1)}`)
          .join(
            ", ",
          )}; all ${([...trips.values()].reduce((a, b) => a + b, 0) / sends).toFixed(2)} per send`,
      );
      const stages = ["admit", "pacing", "gate", "claim", "slot", "call", "settle", "publish"];
      console.log(
        `${name}: mean ms per stage: ${stages
          .map(
            (st) =>
              `${st} ${((1_000 * (sums.get(`${st}.sum`) ?? 0)) / Math.max(1, sums.get(`${st}.count`) ?? 0)).toFixed(1)}`,
          )
          .join(", ")}`,
      );
    } catch (error) {
      console.log(`${name}: no metrics (${String(error)})`);
    }
    lag.disable();
    const ticksAfter = cpuTicks();
    // A virtual machine's neighbours may take CPU meanwhile: such a case says little.
    console.log(
      `${name}: CPU stolen by the hypervisor during the case: ${((100 * (ticksAfter.steal - ticksBefore.steal)) / Math.max(1, ticksAfter.total - ticksBefore.total)).toFixed(1)} %`,
    );
    // The histogram holds whole sampling intervals: lateness is what exceeds the 5 ms.
    const late = (ns: number): string => Math.max(0, ns / 1e6 - 5).toFixed(1);
    console.log(
      `${name}: simulator loop lateness ms p50 ${late(lag.percentile(50))}, p99 ${late(lag.percentile(99))}, max ${late(lag.max)}`,
    );
    if (HEAP_SNAPSHOT) await heapSnapshot(child, HEAP_SNAPSHOT, name);
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    // The MongoDB stand-in holds everything in memory: a case's database goes with it, so that
    // servers reused run after run (BENCH_KEEP_INFRA=1) do not fill up.
    const mongo = new MongoClient(env("MONGO_URL"));
    try {
      await mongo.db(dbName).dropDatabase();
    } finally {
      await mongo.close();
    }
    return { rssMaxMb, timedOut };
  };

  const rows: string[][] = [];
  const pct = (x: number, cap: number): string => `${((100 * x) / cap).toFixed(1)} %`;
  const fmt = (x: number): string => Math.round(x).toLocaleString("en-US");
  const perNumber = (id: string, tag: string) => {
    const msgs = sim.messages({ phoneNumberId: id }).filter((m) => m.callbackData?.startsWith(tag));
    return msgs.map((m) => m.acceptedAt);
  };
  let caseStart = Date.now();
  const windowsOver = (id: string, cap: number): number => {
    // Sliding one-second windows over the cap, counted over this case's sends at the simulator.
    const s = sim.stats().find((n) => n.phoneNumberId === id);
    const rejected = sim
      .rejections()
      .filter((r) => r.code === 130429 && r.phoneNumberId === id && r.at >= caseStart).length;
    return (s && s.maxAcceptedInAnySecond > cap ? 1 : 0) + rejected;
  };
  // Each 130429 of a case, with what the simulator had accepted on that number in the second
  // before it, to set beside the sender's log.
  const explainRefusals = (name: string, ids: readonly string[]): void => {
    const codes = new Map<string, number>();
    for (const r of sim.rejections()) {
      if (!ids.includes(r.phoneNumberId) || r.at < caseStart) continue;
      const key = `${r.phoneNumberId}/${String(r.code)}`;
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    const seen = new Map<string, number>();
    for (const id of ids)
      for (const m of sim.messages({ phoneNumberId: id }))
        if (m.callbackData !== undefined)
          seen.set(m.callbackData, (seen.get(m.callbackData) ?? 0) + 1);
    const twice = [...seen.values()].filter((n) => n > 1).length;
    if (codes.size > 0 || twice > 0)
      console.log(
        `${name}: refusals by number/code: ${JSON.stringify(Object.fromEntries(codes))}; requests accepted more than once: ${String(twice)}`,
      );
    for (const r of sim.rejections()) {
      if (r.code !== 130429 || !ids.includes(r.phoneNumberId) || r.at < caseStart) continue;
      const stamps = sim.messages({ phoneNumberId: r.phoneNumberId }).map((m) => m.acceptedAt);
      const inSecond = stamps.filter((t) => t > r.at - 1_000 && t <= r.at).sort((a, b) => a - b);
      const by100 = Array.from(
        { length: 10 },
        (_, i) =>
          inSecond.filter((t) => t > r.at - 1_000 + i * 100 && t <= r.at - 900 + i * 100).length,
      );
      console.log(
        `${name}: 130429 on ${r.phoneNumberId} at ${new Date(r.at).toISOString()} (${String(r.at - caseStart)} ms into the case): ${String(inSecond.length)} accepted in the second before, by 100 ms: ${by100.join(", ")}; first ${new Date(inSecond[0] ?? r.at).toISOString()}`,
      );
    }
  };

  // Servers that have just started compile their hot paths during the first seconds of load
  // (see "the JVM servers were still compiling" in docs/benchmarks.md): bench/outbound.sh sets
  // BENCH_WARMUP=1 then, and a sender sends 4 s at 1,000 msg/s on a number of its own first, not
  // measured.
  const warm = process.env["BENCH_WARMUP"] === "1" ? requests(WARM, 4_000, PER_RECIPIENT, "w") : [];
  if (warm.length > 0) {
    await publish(warm);
    const started = Date.now();
    await runSender("warm-up", [{ id: WARM, mps: 1_000 }], warm.length);
    console.log(
      `warm-up: ${String(perNumber(WARM, "w-").length)} sends in ${String(Date.now() - started)} ms (servers just started; not measured)`,
    );
  }

  // (a) 1,000 msg/s and 80 msg/s at once, backlog of SECONDS at each cap, one send to each of the
  // case's own recipients.
  if (ONLY === undefined || ONLY === "a") {
    const fast = requests(FAST, 1_000 * SECONDS, PER_RECIPIENT, "a");
    const slow = requests(SLOW, 80 * SECONDS, PER_RECIPIENT, "a");
    await publish([...fast, ...slow]);
    sim.resetStats();
    caseStart = Date.now();
    const { rssMaxMb, timedOut } = await runSender(
      "caps",
      [
        { id: FAST, mps: 1_000 },
        { id: SLOW, mps: 80 },
      ],
      fast.length + slow.length,
    );
    const f = steadyRate(perNumber(FAST, "a-"));
    const s = steadyRate(perNumber(SLOW, "a-"));
    console.log(
      `caps: 1,000 msg/s number, accepted per second: ${perSecond(perNumber(FAST, "a-")).join(", ")}`,
    );
    const stats = new Map(sim.stats().map((n) => [n.phoneNumberId, n]));
    const pacing = sim.pairPacing().filter((p) => !p.ok).length;
    const warmSent = perNumber(WARM, "w-").length;
    if (warm.length > 0 && warmSent !== warm.length)
      console.log(
        warmSent > warm.length
          ? `caps: the warm-up number was sent again (${String(warmSent)} sends for ${String(warm.length)} requests): the case is not clean`
          : `caps: the warm-up had not finished (${String(warmSent)} sends of ${String(warm.length)}): its sender stopped early`,
      );
    const fastOver = windowsOver(FAST, 1_000);
    const slowOver = windowsOver(SLOW, 80);
    explainRefusals("caps", [FAST, SLOW]);
    // Baseline: the same requests from a raw client with an ideal limiter, same machine, same run.
    sim.resetStats();
    caseStart = Date.now();
    const bf = requests(FAST, 1_000 * Math.min(SECONDS, 5), PER_RECIPIENT, "bf");
    const bs = requests(SLOW, 80 * Math.min(SECONDS, 5), PER_RECIPIENT, "bs");
    await Promise.all([rawClient(bf, CONNECTIONS, 1_000), rawClient(bs, 8, 80)]);
    const rf = steadyRate(perNumber(FAST, "bf-"));
    const rs = steadyRate(perNumber(SLOW, "bs-"));
    // The ideal limiter spaces requests evenly with the same 15 ms per second of margin: its
    // refusals (it does not retry them) show how much the receipt clock jitters on this machine.
    const refusedBaseline = (id: string): string =>
      `${fmt(sim.rejections().filter((r) => r.code === 130429 && r.phoneNumberId === id && r.at >= caseStart).length)} refused`;
    const baselineRefusals = { fast: refusedBaseline(FAST), slow: refusedBaseline(SLOW) };
    rows.push([
      "(a) 80 msg/s number, sustained",
      `${fmt(s.rate)} msg/s = ${pct(s.rate, 80)}`,
      `${fmt(rs.rate)} msg/s = ${pct(rs.rate, 80)}, ${baselineRefusals.slow}`,
      `max in any 1 s: ${String(stats.get(SLOW)?.maxAcceptedInAnySecond)}; windows over: ${String(slowOver)}`,
    ]);
    rows.push([
      "(a) 1,000 msg/s number, sustained",
      `${fmt(f.rate)} msg/s = ${pct(f.rate, 1_000)}`,
      `${fmt(rf.rate)} msg/s = ${pct(rf.rate, 1_000)}, ${baselineRefusals.fast}`,
      `max in any 1 s: ${String(stats.get(FAST)?.maxAcceptedInAnySecond)}; windows over: ${String(fastOver)}; pairs over pacing: ${String(pacing)}${timedOut ? "; TIMED OUT" : ""}`,
    ]);
    rows.push(["(c) sender RSS, caps run", `${rssMaxMb.toFixed(0)} MB`, "-", "target < 200 MB"]);

    // The 80 msg/s number alone: the same sender, without the 1,000 msg/s number's load on the
    // same two cores (with it, every send's MongoDB and Kafka round trips slow down).
    const alone = requests(SLOW, 80 * SECONDS, PER_RECIPIENT, "c");
    await publish(alone);
    sim.resetStats();
    caseStart = Date.now();
    const soloRun = await runSender("slow-alone", [{ id: SLOW, mps: 80 }], alone.length);
    const solo = steadyRate(perNumber(SLOW, "c-"));
    rows.push([
      "(a) 80 msg/s number alone",
      `${fmt(solo.rate)} msg/s = ${pct(solo.rate, 80)}`,
      `${fmt(rs.rate)} msg/s = ${pct(rs.rate, 80)}`,
      `max in any 1 s: ${String(sim.stats().find((n) => n.phoneNumberId === SLOW)?.maxAcceptedInAnySecond)}; windows over: ${String(windowsOver(SLOW, 80))}${soloRun.timedOut ? "; TIMED OUT" : ""}`,
    ]);
  }

  // (b) 20 numbers (1,000 msg/s each, so the caps do not bind) against the raw client.
  if (ONLY === undefined || ONLY === "b") {
    const per = Math.max(200, Math.round((400 * SECONDS) / 8));
    const list = many.flatMap((n) => requests(n.id, per, PER_RECIPIENT, "b"));
    await publish(list);
    sim.resetStats();
    const { rssMaxMb, timedOut } = await runSender("twenty", many, list.length);
    const times = many.flatMap((n) => perNumber(n.id, "b-")).sort((a, b) => a - b);
    const senderRate = (times.length * 1_000) / Math.max(1, (times.at(-1) ?? 0) - (times[0] ?? 0));
    const rawList = many.flatMap((n) => requests(n.id, per, PER_RECIPIENT, "r"));
    const t0 = Date.now();
    const raw = await rawClient(rawList, CONNECTIONS);
    const rawRate = (raw.ok * 1_000) / (Date.now() - t0);
    rows.push([
      `(b) 20 numbers, aggregate (${fmt(list.length)} sends, ${String(CONNECTIONS)} connections)`,
      `${fmt(senderRate)} msg/s = ${(senderRate / rawRate).toFixed(2)} x raw`,
      `${fmt(rawRate)} msg/s (raw keep-alive client)`,
      `raw failures: ${String(raw.failed)}${timedOut ? "; TIMED OUT" : ""}`,
    ]);
    rows.push([
      "(c) sender RSS, 20-number run",
      `${rssMaxMb.toFixed(0)} MB`,
      "-",
      "target < 200 MB",
    ]);
  }

  // (d) A light number behind a heavy number's backlog on the same dispatch partition: 200 x
  // SECONDS dispatches at 200 msg/s (more than the partition's share of SENDER_MAX_IN_FLIGHT),
  // then 20 of the light number's. With parking (the default SENDER_PARK_ABOVE) and without it
  // (SENDER_PARK_ABOVE=0, the baseline): how long the light number's waited, and the heavy
  // number's rate.
  if (ONLY === undefined || ONLY === "d") {
    const shared = async (label: string, tag: string, extraEnv: Record<string, string>) => {
      const heavy = requests(HEAVY, 200 * SECONDS, PER_RECIPIENT, `${tag}h`);
      const light = requests(LIGHT, 20, 1, `${tag}l`);
      await publish(heavy);
      await publish(light);
      sim.resetStats();
      caseStart = Date.now();
      const started = Date.now();
      const run = await runSender(
        label,
        [
          { id: HEAVY, mps: 200 },
          { id: LIGHT, mps: 80 },
        ],
        heavy.length + light.length,
        extraEnv,
      );
      const lightTimes = perNumber(LIGHT, `${tag}l-`);
      const heavyTimes = perNumber(HEAVY, `${tag}h-`);
      const firstSend = Math.min(...heavyTimes, ...lightTimes);
      explainRefusals(label, [HEAVY, LIGHT]);
      return {
        // From the sender's first Graph call (its start-up left out) to the light number's last.
        lightMs: Math.max(...lightTimes) - firstSend,
        heavy: steadyRate(heavyTimes),
        over: windowsOver(HEAVY, 200) + windowsOver(LIGHT, 80),
        wallMs: Date.now() - started,
        timedOut: run.timedOut,
      };
    };
    const parked = await shared("shared-park", "dp", {});
    const held = await shared("shared-noprk", "dn", { SENDER_PARK_ABOVE: "0" });
    rows.push([
      "(d) light number behind a heavy backlog, same partition: light number's 20 done after",
      `${fmt(parked.lightMs)} ms (parking)`,
      `${fmt(held.lightMs)} ms (SENDER_PARK_ABOVE=0)`,
      `heavy ${String(200 * SECONDS)} at 200 msg/s before them`,
    ]);
    rows.push([
      "(d) heavy number (200 msg/s) sustained beside it",
      `${fmt(parked.heavy.rate)} msg/s = ${pct(parked.heavy.rate, 200)}`,
      `${fmt(held.heavy.rate)} msg/s = ${pct(held.heavy.rate, 200)}`,
      `windows over: ${String(parked.over)} / ${String(held.over)}${parked.timedOut || held.timedOut ? "; TIMED OUT" : ""}`,
    ]);
  }

  const head = ["case", "sender", "baseline (same run)", "checks"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  console.log(line(head));
  console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  for (const r of rows) console.log(line(r));
  console.log(
    `load average (1 min) during the cases: ${load.map((l) => (l[0] ?? 0).toFixed(2)).join(", ")}`,
  );
  await producer.disconnect();
  // This run's topics go too (each run has its own prefix).
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ours = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  } finally {
    await admin.disconnect();
  }
  await server.close();
  await sim.stop();
}

await main();
