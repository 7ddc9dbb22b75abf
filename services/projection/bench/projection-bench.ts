// The projection's benchmark (docs/benchmarks.md, "Projection"): the service as its own process
// against the broker, registry and MongoDB-wire server named by the environment, in a namespace
// of its own (random topic prefix, database). It measures, against baselines in the same run:
//   (a) events applied per second while working off a backlog, against a bare consume of the
//       same topics (the consumer runner decoding every record through the registry, no work);
//   (b) `parley-projection rebuild` of the same log: events per second, and the time it would
//       take for 1 million events at that rate (the short run here is an extrapolation);
//   (c) query p99 of point lookups under 200 concurrent readers while 500 messages/s (six
//       events each) are published and projected, against the same lookups with no load;
//   (d) the projection's peak RSS over the run.
// Run with bench/projection.sh. Knobs: BENCH_MESSAGES (10000: backlog of (a) and (b), six
// events each), BENCH_RATE (500 messages/s in (c)), BENCH_SECONDS (8: length of (c)),
// BENCH_READERS (200), BENCH_LOOKUP_RATE (400 lookups/s over all readers in the paced measures),
// BENCH_CONTACTS (2000), BENCH_ONLY=a ((a) alone) or ab ((a) and the rebuild), BENCH_PROJECTION_NODE_FLAGS, BENCH_METRICS_FILE.
// BENCH_ONLY=ab BENCH_MESSAGES=166667 rebuilds 1,000,002 events and reports the time measured.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { createCatalog, createEvent, type AnyEvent, type Catalog } from "@parley/contracts";
import { freePort, repoRoot, serviceEnv, startService, stopService } from "@parley/e2e";
import {
  createConsumerRunner,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type EventProducer,
  type KafkaClient,
} from "@parley/kafka";
import { createMongo, createMongoStateStore } from "@parley/mongo";
import { startStack, waitFor } from "@parley/testkit";

const MESSAGES = Number(process.env["BENCH_MESSAGES"] ?? "10000");
const RATE = Number(process.env["BENCH_RATE"] ?? "500");
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? "8");
const READERS = Number(process.env["BENCH_READERS"] ?? "200");
/** Lookups per second in all for the paced measures (the closed loop asks as fast as it can). */
const LOOKUP_RATE = Number(process.env["BENCH_LOOKUP_RATE"] ?? "400");
const CONTACTS = Number(process.env["BENCH_CONTACTS"] ?? "2000");
/**
 * How often the backlog phase reads the projection's progress (`/metrics`, a scrape of the
 * process being measured; it was every 250 ms until 2026-12-06).
 */
const POLL_MS = Number(process.env["BENCH_POLL_MS"] ?? "1000");
/** Length of each of the two idle windows after the backlog (with the polls, then without). */
const IDLE_SECONDS = Number(process.env["BENCH_IDLE_SECONDS"] ?? "5");
/** "a": the backlog measure (a) alone. */
const ONLY = process.env["BENCH_ONLY"];
/** BENCH_COUNT_COMMANDS=1: count the projection's MongoDB commands (monitoring costs CPU). */
const COMMANDS_FILE =
  process.env["BENCH_COUNT_COMMANDS"] === "1"
    ? join(repoRoot, ".parley", "bench-projection", `mongo-commands-${String(process.pid)}.json`)
    : undefined;
const OPS_TOKEN = "bench-projection-ops-token";
const API_KEY = "bench-projection-api-key";
const NUMBER = "106540352242999";
const TOPICS = [
  "send-requests",
  "dispatch",
  "send-outcomes",
  "statuses",
  "inbound-messages",
  "conversation-windows",
  "consent",
  "media",
  "business-events",
] as const;

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

/** User and system CPU seconds a process has used so far (Linux /proc, 100 ticks a second). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${String(pid)}/stat`, "utf8")
      .split(") ")[1]
      ?.split(" ");
    return (Number(fields?.[11]) + Number(fields?.[12])) / 100;
  } catch {
    return NaN;
  }
}

function rssMb(pid: number | undefined): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${String(pid)}/status`, "utf8"))?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
}

let seq = 0;
const uuid = () => {
  const n = ++seq;
  return `00000000-0000-4000-8${String(Math.floor(n / 1e12) % 1000).padStart(3, "0")}-${String(n % 1e12).padStart(12, "0")}`;
};

/** One outbound message's six events: request, dispatch, acceptance, sent, delivered, read. */
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
  return [
    createEvent(
      "SendRequested",
      {
        contactId,
        idempotencyKey: ids.idempotencyKey,
        recipient: { phone: `+${contactId}` },
        sender: { kind: "businessNumber", phoneNumberId: NUMBER },
        content:
          i % 3 === 0
            ? { type: "template", template: { name: "order_update", language: { code: "en_US" } } }
            : { type: "text", text: { body: `order ${String(i)} shipped` } },
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
    createEvent(
      "StatusUpdated",
      {
        contactId,
        wamid,
        status: "sent",
        origin,
        recipientId: contactId,
        bizOpaqueCallbackData: requestId,
        pricing: { pricingModel: "PMP", type: "regular", category: "utility" },
      },
      meta(60),
    ),
    createEvent(
      "StatusUpdated",
      {
        contactId,
        wamid,
        status: "delivered",
        origin,
        recipientId: contactId,
        bizOpaqueCallbackData: requestId,
      },
      meta(900),
    ),
    createEvent(
      "StatusUpdated",
      {
        contactId,
        wamid,
        status: "read",
        origin,
        recipientId: contactId,
        bizOpaqueCallbackData: requestId,
      },
      meta(5_000),
    ),
  ] as AnyEvent[];
}

async function publishAll(producer: EventProducer, catalog: Catalog, events: readonly AnyEvent[]) {
  const chunk = 500;
  for (let i = 0; i < events.length; i += chunk) {
    await Promise.all(
      events.slice(i, i + chunk).map((event) => {
        const topic = catalog.topicOf(event.type);
        return producer.publish(topic, [{ key: topic.keyOf(event), event }]);
      }),
    );
  }
}

async function endOffsets(kafka: KafkaClient, topics: readonly string[]) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let total = 0;
    for (const t of topics)
      for (const p of await admin.fetchTopicOffsets(t)) total += Number(p.high);
    return total;
  } finally {
    await admin.disconnect();
  }
}

async function committedTotal(kafka: KafkaClient, groupId: string, topics: readonly string[]) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let total = 0;
    for (const { partitions } of await admin.fetchOffsets({ groupId, topics: [...topics] }))
      for (const p of partitions) total += Math.max(0, Number(p.offset));
    return total;
  } finally {
    await admin.disconnect();
  }
}

async function metric(url: string, name: string, containing = ""): Promise<number> {
  const text = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })
  ).text();
  let sum = 0;
  for (const line of text.split("\n"))
    if (line.startsWith(name) && line.includes(containing)) sum += Number(line.split(" ").at(-1));
  return sum;
}

/**
 * The built service as its own process, as e2e's startService starts it, with the flags of
 * BENCH_PROJECTION_NODE_FLAGS added (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": Node refuses
 * profiling flags in NODE_OPTIONS).
 */
function startProjection(port: number, env: Record<string, string>, logDir: string) {
  const extra = (process.env["BENCH_PROJECTION_NODE_FLAGS"] ?? "")
    .split(" ")
    .filter((f) => f !== "");
  if (COMMANDS_FILE !== undefined)
    extra.push(
      "--import",
      join(repoRoot, "services/projection/dist-bench/count-mongo-commands.js"),
    );
  if (extra.length === 0) return startService("projection", port, env, logDir);
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, "projection.log"));
  const child = spawn(
    process.execPath,
    [
      "--initial-old-space-size=64",
      "--max-semi-space-size=8",
      ...extra,
      join(repoRoot, "services/projection/dist/main.js"),
    ],
    {
      env: {
        ...process.env,
        ...env,
        HTTP_PORT: String(port),
        HTTP_HOST: "127.0.0.1",
        ...(COMMANDS_FILE === undefined ? {} : { BENCH_MONGO_COMMANDS_FILE: COMMANDS_FILE }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { name: "projection", url: `http://127.0.0.1:${String(port)}`, child, exited };
}

async function main() {
  const stack = await startStack();
  const ns = stack.namespace("bench-projection");
  const catalog = createCatalog({
    prefix: `${ns.id}.`,
    partitions: { contact: 12, business: 12, raw: 6 },
  });
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  await provisionTopics({
    kafka,
    serde,
    topics: [
      ...catalog.topics,
      catalog.deadLetterTopic("projection"),
      catalog.deadLetterTopic("bench-bare"),
    ],
  });
  const topics = TOPICS.map((id) => catalog.topic(id).name);
  const producer = createEventProducer({ kafka, serde, name: "bench" });
  await producer.connect();
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  const rows: string[][] = [];
  const env = serviceEnv(stack, {
    database: ns.database(),
    topicPrefix: catalog.prefix,
    opsToken: OPS_TOKEN,
  });
  let peakRss = 0;
  try {
    const t0 = Date.parse("2026-03-01T00:00:00.000Z");
    progress(
      `publishing a backlog of ${String(MESSAGES)} messages (${String(MESSAGES * 6)} events)`,
    );
    const backlog = Array.from({ length: MESSAGES }, (_, i) =>
      messageEvents(i, t0 + i * 100),
    ).flat();
    await publishAll(producer, catalog, backlog);
    const total = await endOffsets(kafka, topics);

    // (a) baseline: the same topics, decoded through the registry, no work.
    progress("baseline: bare consume of the same topics");
    let consumed = 0;
    let first = 0;
    let last = 0;
    const bare = createConsumerRunner({
      kafka,
      groupId: ns.group("bare"),
      topics,
      deadLetterTopic: catalog.deadLetterTopic("bench-bare").name,
      fromBeginning: true,
      decode: async (r) =>
        serde.decode(
          catalog.topics.find((t) => t.name === r.topic) ?? catalog.topic("statuses"),
          r.value,
        ),
      handle: () => {
        if (consumed++ === 0) first = performance.now();
        last = performance.now();
        return Promise.resolve();
      },
    });
    const bareCpuStart = process.cpuUsage();
    await bare.start();
    await waitFor(() => consumed >= total, {
      timeoutMs: 600_000,
      intervalMs: 100,
      description: "bare consume",
    });
    const bareCpu = process.cpuUsage(bareCpuStart);
    await bare.stop();
    const bareRate = (consumed / (last - first)) * 1_000;
    // CPU per event is what a saturated shared machine leaves comparable: the rate ratio moves
    // with the neighbours' load, the CPU each side spends per event much less.
    const bareCpuPerEvent = (bareCpu.user + bareCpu.system) / consumed;

    // (a) second baseline: the MongoDB server's ceiling for the writes the decider runtime makes
    // (versioned replaces of ~1 KB documents, 150 a call, two calls in flight), same run.
    progress("baseline: versioned saves of the decider runtime's MongoDB store");
    const scratch = createMongoStateStore<{ pad: string }, never>({
      db: mongo.db,
      collection: "bench_saves",
      toDocument: (state) => state,
      fromDocument: (doc) => ({ pad: String(doc["pad"]) }),
    });
    const keys = Array.from({ length: 3_000 }, (_, i) => `k${String(i)}`);
    const versions = new Map(keys.map((k) => [k, 0]));
    const pad = "x".repeat(900);
    let saved = 0;
    const saveUntil = performance.now() + 4_000;
    const saving = async (lane: number) => {
      for (let b = lane; performance.now() < saveUntil; b += 2) {
        const batch = keys.slice((b * 150) % 3_000, ((b * 150) % 3_000) + 150);
        const lost = await scratch.saveMany(
          batch.map((key) => ({
            key,
            state: { pad },
            outbox: [],
            expectedVersion: versions.get(key) ?? 0,
          })),
        );
        for (const k of batch) if (!lost.has(k)) versions.set(k, (versions.get(k) ?? 0) + 1);
        saved += batch.length;
      }
    };
    const saveStart = performance.now();
    await Promise.all([saving(0), saving(1)]);
    const saveRate = (saved / (performance.now() - saveStart)) * 1_000;

    // (a) the projection working off the same backlog.
    progress("projection: working off the backlog");
    const apiPort = await freePort();
    const service = startProjection(
      await freePort(),
      {
        ...env,
        LOG_LEVEL: "warn",
        PROJECTION_API_PORT: String(apiPort),
        PROJECTION_API_KEYS: JSON.stringify([
          {
            id: "bench",
            keySha256: createHash("sha256").update(API_KEY).digest("hex"),
            scopes: ["read", "pii"],
          },
        ]),
        PROJECTION_API_RATE_PER_SECOND: "0",
      },
      join(repoRoot, ".parley", "bench-projection", ns.id),
    );
    const pid = service.child.pid;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(pid) || 0)), 250);
    let applyFirst: { at: number; n: number; cpu: number } | undefined;
    let applyLast = { at: 0, n: 0, cpu: 0 };
    await waitFor(
      async () => {
        const n = await metric(service.url, "parley_projection_records_total").catch(() => 0);
        const at = performance.now();
        const cpu = cpuSeconds(pid);
        if (n > 0 && applyFirst === undefined) applyFirst = { at, n, cpu };
        applyLast = { at, n, cpu };
        return n >= total;
      },
      { timeoutMs: 900_000, intervalMs: POLL_MS, description: "projection caught up" },
    );
    if (process.env["BENCH_METRICS_FILE"] !== undefined) {
      const text = await (
        await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })
      ).text();
      writeFileSync(process.env["BENCH_METRICS_FILE"], text);
    }
    // What the projection spends per second with nothing to apply (timers, rollup rounds, the
    // generation poll, Kafka heartbeats, this bench's /metrics polls at the same BENCH_POLL_MS): on a
    // slow machine those seconds are spread over few events and inflate the CPU per event.
    const IDLE_MS = IDLE_SECONDS * 1_000;
    const idleStart = { at: performance.now(), cpu: cpuSeconds(pid) };
    const idleUntil = idleStart.at + IDLE_MS;
    while (performance.now() < idleUntil) {
      await metric(service.url, "parley_projection_records_total").catch(() => 0);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const idleCpuPerSecond =
      (cpuSeconds(pid) - idleStart.cpu) / ((performance.now() - idleStart.at) / 1_000);
    // The next 5 s without the polls: a projection with nothing left to do (the first window
    // also holds what trails the backlog: the rollup's last rounds, collections).
    const quietStart = { at: performance.now(), cpu: cpuSeconds(pid) };
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const quietCpuPerSecond =
      (cpuSeconds(pid) - quietStart.cpu) / ((performance.now() - quietStart.at) / 1_000);
    const appliedRate =
      applyFirst === undefined
        ? NaN
        : ((applyLast.n - applyFirst.n) / (applyLast.at - applyFirst.at)) * 1_000;
    const changed = await metric(
      service.url,
      "parley_projection_commands_total",
      'outcome="changed"',
    );
    rows.push([
      "read-model documents changed per event",
      (changed / total).toFixed(2),
      "each a versioned save, most with an outbox marked published after",
      "",
    ]);
    rows.push([
      "MongoDB versioned saves/s (the runtime's store, 150 a call)",
      saveRate.toFixed(0),
      "the ceiling the read models' writes share",
      "",
    ]);
    const cpuPerEvent =
      applyFirst === undefined
        ? NaN
        : ((applyLast.cpu - applyFirst.cpu) / (applyLast.n - applyFirst.n)) * 1e6;
    rows.push([
      "projection CPU per event applied (µs, user + system)",
      cpuPerEvent.toFixed(0),
      `bare consume ${bareCpuPerEvent.toFixed(0)} µs (the bench process, whole bare phase)`,
      (bareCpuPerEvent / cpuPerEvent).toFixed(2),
    ]);
    if (applyFirst !== undefined) {
      const seconds = (applyLast.at - applyFirst.at) / 1_000;
      const net =
        ((applyLast.cpu - applyFirst.cpu - idleCpuPerSecond * seconds) /
          (applyLast.n - applyFirst.n)) *
        1e6;
      rows.push([
        "projection CPU per event net of its idle CPU (µs)",
        net.toFixed(0),
        `idle ${(idleCpuPerSecond * 1_000).toFixed(0)} ms CPU/s over ${String(IDLE_MS / 1_000)} s after the backlog (${(quietCpuPerSecond * 1_000).toFixed(0)} without the bench's /metrics polls, the ${String(IDLE_MS / 1_000)} s after), x ${seconds.toFixed(1)} s of backlog`,
        (bareCpuPerEvent / net).toFixed(2),
      ]);
    }
    rows.push([
      "projection CPU at rest (ms per s)",
      (quietCpuPerSecond * 1_000).toFixed(1),
      `the second ${String(IDLE_SECONDS)} s after the backlog, no /metrics polls (${(idleCpuPerSecond * 1_000).toFixed(1)} in the first, with them and the backlog's tail)`,
      "",
    ]);
    rows.push([
      "events applied/s (backlog)",
      appliedRate.toFixed(0),
      `bare consume ${bareRate.toFixed(0)}/s`,
      (appliedRate / bareRate).toFixed(2),
    ]);

    if (ONLY === "a") {
      clearInterval(sampler);
      rows.push(["projection peak RSS (MB)", peakRss.toFixed(0), "", ""]);
      await stopService(service);
      if (COMMANDS_FILE !== undefined) {
        const { documents, ...counts } = JSON.parse(readFileSync(COMMANDS_FILE, "utf8")) as {
          documents?: Record<string, number>;
        } & Record<string, number>;
        const all = Object.values(counts).reduce((a, b) => a + b, 0);
        rows.push([
          "MongoDB commands per event (whole run, monitored)",
          (all / total).toFixed(3),
          Object.entries(counts)
            .sort(([, a], [, b]) => b - a)
            .map(([name, n]) => `${name} ${String(n)}`)
            .join(", "),
          "",
        ]);
        for (const way of ["written", "read", "op"]) {
          const found = Object.entries(documents ?? {}).filter(([k]) => k.startsWith(way));
          rows.push([
            way === "op"
              ? "MongoDB updates per event by operator (whole run, monitored)"
              : `MongoDB documents ${way} per event (whole run, monitored)`,
            (found.reduce((a, [, n]) => a + n, 0) / total).toFixed(3),
            found
              .sort(([, a], [, b]) => b - a)
              .map(([k, n]) => `${k.slice(way.length + 1)} ${String(n)}`)
              .join(", "),
            "",
          ]);
        }
      }
      return;
    }

    // (b) a rebuild of the same log, beside the live generation.
    progress("rebuild of the same log");
    let rebuildRss = 0;
    const rebuild = await new Promise<{ records: number; ms: number }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [join(repoRoot, "services/projection/dist/cli.js"), "rebuild"],
        { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] },
      );
      let out = "";
      const watch = setInterval(
        () => (rebuildRss = Math.max(rebuildRss, rssMb(child.pid) || 0)),
        250,
      );
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.once("exit", (code) => {
        clearInterval(watch);
        if (code === 0) resolve(JSON.parse(out) as { records: number; ms: number });
        else reject(new Error(`rebuild exited ${String(code)}`));
      });
    });
    const rebuildRate = (rebuild.records / rebuild.ms) * 1_000;
    rows.push([
      "rebuild events/s",
      rebuildRate.toFixed(0),
      `${String(rebuild.records)} events in ${(rebuild.ms / 1000).toFixed(1)} s`,
      "",
    ]);
    // BENCH_MESSAGES=166667 (1,000,002 events) times the million itself.
    rows.push(
      rebuild.records >= 1_000_000
        ? [
            "rebuild of 1,000,000 events (measured)",
            `${(rebuild.ms / 1_000).toFixed(0)} s`,
            `${String(rebuild.records)} events`,
            "",
          ]
        : [
            "rebuild of 1,000,000 events (extrapolated)",
            `${(1_000_000 / rebuildRate).toFixed(0)} s`,
            "",
            "",
          ],
    );
    rows.push(["rebuild process peak RSS (MB)", rebuildRss.toFixed(0), "", ""]);
    if (ONLY === "ab") {
      clearInterval(sampler);
      rows.push(["projection peak RSS (MB)", peakRss.toFixed(0), "", ""]);
      await stopService(service);
      return;
    }

    // (c) point lookups: first alone, then under 500 msg/s of new traffic.
    const api = `http://127.0.0.1:${String(apiPort)}`;
    await waitFor(
      async () =>
        (
          await fetch(`${api}/v1/generations`, {
            headers: { authorization: `Bearer ${API_KEY}` },
          }).catch(() => undefined)
        )?.status === 200,
      { timeoutMs: 60_000 },
    );
    /** Closed loop (each reader asks again at once), or paced at `rate` lookups/s in all. */
    const lookups = async (ms: number, rate?: number, at = api) => {
      const latencies: number[] = [];
      let errors = 0;
      const until = performance.now() + ms;
      await Promise.all(
        Array.from({ length: READERS }, async (_, r) => {
          let i = r;
          const gap = rate === undefined ? 0 : (READERS / rate) * 1_000;
          let next = performance.now() + (gap * r) / READERS;
          while (performance.now() < until) {
            if (gap > 0) {
              const wait = next - performance.now();
              if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
              next += gap;
            }
            i = (i * 7_919 + 13) % MESSAGES;
            const path =
              i % 2 === 0
                ? `/v1/requests/bench-${String(i)}`
                : `/v1/messages/wamid.bench.${String(i)}`;
            const start = performance.now();
            const res = await fetch(`${at}${path}`, {
              headers: { authorization: `Bearer ${API_KEY}` },
            }).catch(() => undefined);
            await res?.arrayBuffer();
            latencies.push(performance.now() - start);
            if (res?.status !== 200) errors++;
          }
        }),
      );
      latencies.sort((a, b) => a - b);
      return {
        n: latencies.length,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        errors,
        rps: (latencies.length / ms) * 1_000,
      };
    };
    progress(`query p99: ${String(READERS)} readers, idle`);
    const idle = await lookups(SECONDS * 1_000);
    const paced = await lookups(SECONDS * 1_000, LOOKUP_RATE);
    progress(
      `query p99: ${String(READERS)} readers while ${String(RATE)} messages/s are published`,
    );
    const offered = RATE * SECONDS;
    const publishAtRate = async (from: number) => {
      const start = performance.now();
      for (let s = 0; s < SECONDS * 10; s++) {
        const batch = Array.from({ length: RATE / 10 }, (_, k) =>
          messageEvents(from + s * (RATE / 10) + k, Date.now()),
        ).flat();
        await publishAll(producer, catalog, batch);
        const due = start + (s + 1) * 100;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      return performance.now() - start;
    };
    const [loaded, publishMs] = await Promise.all([
      lookups(SECONDS * 1_000, LOOKUP_RATE),
      publishAtRate(MESSAGES),
    ]);
    const lagAtEnd =
      (await endOffsets(kafka, topics)) -
      (await committedTotal(kafka, `${catalog.prefix}parley.projection.g2`, topics).catch(() => 0));
    const drainStart = performance.now();
    const goal = await endOffsets(kafka, topics);
    await waitFor(
      async () =>
        (await committedTotal(kafka, `${catalog.prefix}parley.projection.g2`, topics)) >= goal,
      { timeoutMs: 600_000, intervalMs: 250 },
    );
    const drainMs = performance.now() - drainStart;
    clearInterval(sampler);

    // (c) again, against a query-only process (PROJECTION_ROLE=api) beside the projector.
    progress("query p99 against a query-only process while the projector works");
    const apiOnlyPort = await freePort();
    const apiOnly = startService(
      "projection",
      await freePort(),
      {
        ...env,
        LOG_LEVEL: "warn",
        PROJECTION_ROLE: "api",
        PROJECTION_API_PORT: String(apiOnlyPort),
        PROJECTION_API_KEYS: JSON.stringify([
          {
            id: "bench",
            keySha256: createHash("sha256").update(API_KEY).digest("hex"),
            scopes: ["read", "pii"],
          },
        ]),
        PROJECTION_API_RATE_PER_SECOND: "0",
      },
      join(repoRoot, ".parley", "bench-projection", ns.id),
      "projection-api",
    );
    const apiOnlyUrl = `http://127.0.0.1:${String(apiOnlyPort)}`;
    await waitFor(
      async () =>
        (
          await fetch(`${apiOnlyUrl}/v1/generations`, {
            headers: { authorization: `Bearer ${API_KEY}` },
          }).catch(() => undefined)
        )?.status === 200,
      { timeoutMs: 60_000 },
    );
    const [apart] = await Promise.all([
      lookups(SECONDS * 1_000, LOOKUP_RATE, apiOnlyUrl),
      publishAtRate(MESSAGES + offered),
    ]);
    await stopService(apiOnly);
    rows.push([
      `point lookups p50 / p99, idle, ${String(READERS)} readers closed loop (ms)`,
      `${idle.p50.toFixed(1)} / ${idle.p99.toFixed(1)}`,
      `${idle.rps.toFixed(0)} lookups/s, ${String(idle.errors)} non-200`,
      "",
    ]);
    rows.push([
      `point lookups p50 / p99, idle, paced at ${String(LOOKUP_RATE)}/s (ms)`,
      `${paced.p50.toFixed(1)} / ${paced.p99.toFixed(1)}`,
      `${paced.rps.toFixed(0)} lookups/s, ${String(paced.errors)} non-200`,
      "",
    ]);
    rows.push([
      `point lookups p50 / p99, paced at ${String(LOOKUP_RATE)}/s, while ${String(RATE)} msg/s published (ms)`,
      `${loaded.p50.toFixed(1)} / ${loaded.p99.toFixed(1)}`,
      `${loaded.rps.toFixed(0)} lookups/s, ${String(loaded.errors)} non-200`,
      "",
    ]);
    rows.push([
      `point lookups p50 / p99, paced at ${String(LOOKUP_RATE)}/s, from a query-only process (PROJECTION_ROLE=api) while ${String(RATE)} msg/s published (ms)`,
      `${apart.p50.toFixed(1)} / ${apart.p99.toFixed(1)}`,
      `${apart.rps.toFixed(0)} lookups/s, ${String(apart.errors)} non-200`,
      "",
    ]);
    rows.push([
      "load offered / published in (s)",
      `${String(offered)} msgs (${String(offered * 6)} events)`,
      `${(publishMs / 1000).toFixed(1)} s; lag at end ${String(lagAtEnd)} events, drained in ${(drainMs / 1000).toFixed(1)} s`,
      "",
    ]);
    rows.push(["projection peak RSS (MB)", peakRss.toFixed(0), "", ""]);
    await stopService(service);
  } finally {
    await producer.disconnect();
    await mongo.db.dropDatabase().catch(() => undefined);
    await mongo.close();
    await stack.stop();
    printTable(rows);
  }
}

function printTable(rows: readonly string[][]) {
  const [l1, l5] = loadavg();
  process.stdout.write(
    `\nProjection benchmark, ${new Date().toISOString()}, ${String(cpus().length)} CPUs (${cpus()[0]?.model ?? "?"}), load average ${(l1 ?? 0).toFixed(2)} / ${(l5 ?? 0).toFixed(2)}\n`,
  );
  process.stdout.write(
    `backlog ${String(MESSAGES)} messages (${String(MESSAGES * 6)} events), ${String(CONTACTS)} contacts\n\n`,
  );
  process.stdout.write(
    "| measure | value | baseline / detail | vs baseline |\n| --- | --: | --- | --: |\n",
  );
  for (const r of rows) process.stdout.write(`| ${r.join(" | ")} |\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
