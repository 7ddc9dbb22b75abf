// The campaigns benchmark (docs/benchmarks.md, "Campaigns"): BENCH_ROWS (500000) audience rows
// planned and enqueued by the campaigns service as its own process (the real service: API upload,
// start, the plan run with its MongoDB store and the contacts' facts), against the servers the
// environment names (bench/campaigns.sh starts its own). Same-run baselines: a bare producer
// writing the same number of SendRequested records to Kafka (acks=all, batches of the plan's
// chunk), and bare MongoDB bulk writes of the same number of queue documents (the enqueue alone:
// upserts, the store's write before 2026-12-07, and inserts, its write since).
// Prints wall time, rows/s, the service's CPU per row (from /proc) and its peak RSS (VmHWM), and
// the CPU per row of the bench's own servers (MongoDB, Kafka, the registry: their pid files under
// PARLEY_STATE_DIR) during the plan and during each baseline.
// Knobs: BENCH_ROWS, BENCH_CHUNK (1000, CAMPAIGNS_PLAN_CHUNK), BENCH_CAP (1: a frequency cap, so
// every chunk also counts earlier campaign sends), BENCH_SERVICE_NODE_FLAGS.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { buildEvent, createCatalog } from "@parley/contracts";
import {
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import { startStack, waitFor } from "@parley/testkit";

const ROWS = Number(process.env["BENCH_ROWS"] ?? "500000");
const CHUNK = Number(process.env["BENCH_CHUNK"] ?? "1000");
const CAP = (process.env["BENCH_CAP"] ?? "1") === "1";
/** 0: the service alone (a quick look; no same-run baseline, not for the record). */
const BASELINES = (process.env["BENCH_BASELINES"] ?? "1") === "1";
const OPS_TOKEN = "bench-campaigns-ops-token";
const API_KEY = "bench-campaigns-api-key-0123456789";
const NUMBERS = [
  { phoneNumberId: "106540352253001", mps: 200 },
  { phoneNumberId: "106540352253002", mps: 100 },
];
// bench/dist/ of services/campaigns.
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICKS = 100; // USER_HZ on Linux
/** utime + stime of a process, in µs. */
const cpuOf = (pid: number): number => {
  const fields =
    readFileSync(`/proc/${String(pid)}/stat`, "utf8")
      .split(") ")[1]
      ?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1e6;
};
/**
 * The bench's own servers' pids (bench/campaigns.sh exports PARLEY_STATE_DIR; infra.sh keeps a pid
 * file per server): their CPU over the plan is what the plan costs MongoDB and Kafka.
 */
const serverPids = (): Record<string, number> => {
  const state = process.env["PARLEY_STATE_DIR"];
  const out: Record<string, number> = {};
  if (state === undefined) return out;
  for (const name of ["mongo", "kafka", "registry"]) {
    try {
      const pid = Number(readFileSync(join(state, "run", `${name}.pid`), "utf8").trim());
      if (pid > 0) {
        cpuOf(pid);
        out[name] = pid;
      }
    } catch {
      // not running under this state directory: not measured
    }
  }
  return out;
};
const serversCpu = (pids: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuOf(pid)]));
const peakRssMb = (pid: number) => {
  const kb = /VmHWM:\s+(\d+)/u.exec(readFileSync(`/proc/${String(pid)}/status`, "utf8"))?.[1];
  return kb === undefined ? NaN : Number(kb) / 1024;
};
const freePort = () =>
  new Promise<number>((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => {
        ok(typeof a === "object" && a !== null ? a.port : 0);
      });
    });
  });

/** A mixed audience: Spain, Brazil, Mexico, India, UK numbers; 1 % duplicates, 1 % invalid. */
function phoneOf(i: number): string {
  if (i % 100 === 99) return `+999${String(i).padStart(9, "0")}`;
  const n = i % 100 === 98 ? i - 1 : i;
  const s = String(n).padStart(7, "0");
  switch (n % 5) {
    case 0:
      return `+3461${s}`;
    case 1:
      return `+551198${s}`;
    case 2:
      return `+5255${s}0`;
    case 3:
      return `+9198${s}0`;
    default:
      return `+4477${s}0`;
  }
}

const stack = await startStack();
const ns = stack.namespace("bench-campaigns");
const catalog = createCatalog({
  prefix: `${ns.id}.`,
  partitions: { contact: 4, business: 1, raw: 1 },
});
const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
await provisionTopics({
  kafka,
  serde,
  topics: [
    catalog.topic("send-requests"),
    catalog.topic("consent"),
    catalog.topic("conversation-windows"),
    catalog.topic("business-events"),
    catalog.topic("send-outcomes"),
    catalog.topic("audit"),
    // The progress consumer's (added after this bench: without it the service refused to start).
    catalog.topic("statuses"),
    catalog.deadLetterTopic("campaigns-contacts"),
    catalog.deadLetterTopic("campaigns-signals"),
    catalog.deadLetterTopic("campaigns-progress"),
  ],
});
const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
const dir = await mkdtemp(join(tmpdir(), "bench-campaigns-"));
const file = join(dir, "audience.csv");
await new Promise<void>((ok, fail) => {
  const out = createWriteStream(file);
  out.on("error", fail);
  out.write("phone,first_name\n");
  let i = 0;
  const more = () => {
    while (i < ROWS) {
      const line = `${phoneOf(i)},Customer ${String(i)}\n`;
      i++;
      if (!out.write(line)) {
        out.once("drain", more);
        return;
      }
    }
    out.end(ok);
  };
  more();
});
progress(`audience: ${String(ROWS)} rows, ${((await stat(file)).size / 1e6).toFixed(1)} MB`);

// Baseline 1: a bare producer writing ROWS SendRequested records, acks=all, CHUNK at a time.
const producer = createEventProducer({ kafka, serde, name: "bench bare producer" });
await producer.connect();
const topic = catalog.topic("send-requests");
const requestOf = (i: number) => {
  const contactId = phoneOf(i).slice(1);
  return buildEvent(
    "SendRequested",
    {
      contactId,
      idempotencyKey: `campaign:bare:${contactId}`,
      recipient: { phone: contactId },
      sender: { kind: "businessNumber", phoneNumberId: NUMBERS[i % 2]?.phoneNumberId ?? "" },
      content: {
        type: "template",
        template: {
          name: "flash_sale",
          language: { code: "es" },
          components: [
            {
              type: "body",
              parameters: [
                { type: "text", text: `Customer ${String(i)}`, parameterName: "first_name" },
              ],
            },
          ],
        },
      },
      category: "marketing",
      metadata: { campaignId: "bare" },
      requester: "marketing",
    },
    { correlationId: `bare-${String(i)}`, now: new Date() },
  );
};
let bareKafka = { s: NaN, cpu: NaN };
let bareMongo = { s: NaN, cpu: NaN };
let bareInsert = { s: NaN, cpu: NaN };
let bareInsertServers: Record<string, number> = {};
const servers = serverPids();
const serversSince = (before: Record<string, number>): Record<string, number> => {
  const now = serversCpu(servers);
  return Object.fromEntries(Object.entries(now).map(([n, c]) => [n, c - (before[n] ?? 0)]));
};
let bareKafkaServers: Record<string, number> = {};
let bareMongoServers: Record<string, number> = {};
if (BASELINES) {
  const srv0 = serversCpu(servers);
  const base0 = { wall: performance.now(), cpu: process.cpuUsage() };
  for (let i = 0; i < ROWS; i += CHUNK) {
    const records = await Promise.all(
      Array.from({ length: Math.min(CHUNK, ROWS - i) }, (_, k) => {
        const event = requestOf(i + k);
        return producer.encode(topic, { key: event.data.contactId, event });
      }),
    );
    await producer.publishEncoded(topic, records);
  }
  bareKafka = {
    s: (performance.now() - base0.wall) / 1000,
    cpu: ((c) => c.user + c.system)(process.cpuUsage(base0.cpu)),
  };
  bareKafkaServers = serversSince(srv0);
  progress(`bare producer: ${bareKafka.s.toFixed(1)} s`);

  // Baselines 2 and 3: a bare MongoDB bulk write of ROWS queue documents (the fields the plan
  // store writes), CHUNK at a time: replaceOne upserts by _id (the store's write before
  // 2026-12-07, kept for comparison with earlier runs), then inserts (the store's write now).
  const bareWrite = async (mode: "upsert" | "insert") => {
    const bare = mongo.db.collection<{ _id: string }>(`bench_bare_recipients_${mode}`);
    const srv1 = serversCpu(servers);
    const base1 = { wall: performance.now(), cpu: process.cpuUsage() };
    for (let i = 0; i < ROWS; i += CHUNK) {
      const now = new Date();
      await bare.bulkWrite(
        Array.from({ length: Math.min(CHUNK, ROWS - i) }, (_, k) => {
          const event = requestOf(i + k);
          const doc = {
            _id: `bare:${event.data.contactId}:${String(i + k)}`,
            campaignId: "bare",
            contactId: event.data.contactId,
            index: i + k,
            requestId: event.correlationId,
            phoneNumberId: NUMBERS[(i + k) % 2]?.phoneNumberId ?? "",
            plannedAt: now,
            releaseAt: now,
            released: false,
            country: "ES",
            windowOpen: false,
            // As the plan store queues a send: its body parameters' values (the rest is rebuilt
            // from the campaign when released).
            params: [`Customer ${String(i + k)}`],
          };
          return mode === "insert"
            ? { insertOne: { document: doc } }
            : { replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } };
        }),
        { ordered: false },
      );
    }
    const result = {
      s: (performance.now() - base1.wall) / 1000,
      cpu: ((c) => c.user + c.system)(process.cpuUsage(base1.cpu)),
    };
    const used = serversSince(srv1);
    await bare.drop();
    progress(`bare MongoDB bulk ${mode}: ${result.s.toFixed(1)} s`);
    return { result, used };
  };
  ({ result: bareMongo, used: bareMongoServers } = await bareWrite("upsert"));
  ({ result: bareInsert, used: bareInsertServers } = await bareWrite("insert"));
}

// The campaigns service as its own process.
const httpPort = await freePort();
const apiPort = await freePort();
const child = spawn(
  process.execPath,
  [
    ...(
      process.env["BENCH_SERVICE_NODE_FLAGS"] ??
      "--initial-old-space-size=64 --max-semi-space-size=8"
    )
      .split(" ")
      .filter((f) => f !== ""),
    join(repo, "services", "campaigns", "dist", "main.js"),
  ],
  {
    env: {
      ...process.env,
      KAFKA_BROKERS: stack.kafkaBrokers.join(","),
      SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      MONGO_URL: stack.mongoUrl,
      MONGO_DB: ns.database(),
      PARLEY_TOPIC_PREFIX: catalog.prefix,
      OPS_TOKEN,
      LOG_LEVEL: "warn",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(httpPort),
      CAMPAIGNS_API_PORT: String(apiPort),
      CAMPAIGNS_API_KEYS: JSON.stringify([
        {
          id: "bench",
          keySha256: createHash("sha256").update(API_KEY).digest("hex"),
          scopes: ["read", "write", "control"],
        },
      ]),
      CAMPAIGNS_AUDIENCE_DIR: join(dir, "audiences"),
      CAMPAIGNS_MESSAGING_LIMIT: "unlimited",
      CAMPAIGNS_PLAN_CHUNK: String(CHUNK),
      PARLEY_NUMBERS: JSON.stringify({
        numbers: NUMBERS.map((n) => ({
          ...n,
          wabaId: "102290129353001",
          accessToken: "bench-campaigns-graph-token",
        })),
      }),
    },
    stdio: ["ignore", "inherit", "inherit"],
  },
);
const pid = child.pid ?? 0;
const api = async (
  method: string,
  path: string,
  body?: NonNullable<RequestInit["body"]>,
  type = "application/json",
) => {
  const res = await fetch(`http://127.0.0.1:${String(apiPort)}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { "content-type": type }),
    },
    ...(body === undefined ? {} : { body, duplex: "half" }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${String(res.status)} ${text}`);
  return JSON.parse(text) as {
    plan?: {
      complete: boolean;
      counters: { next: number; planned: number; skipped: Record<string, number> };
    };
    queued: number;
  };
};
const exited = new Promise<never>((_, fail) => {
  child.once("exit", (code) => {
    fail(new Error(`campaigns exited (${String(code)})`));
  });
});
exited.catch(() => undefined);
try {
  await Promise.race([
    exited,
    waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${String(httpPort)}/readyz`, {
          headers: { authorization: `Bearer ${OPS_TOKEN}` },
        }).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 120_000, description: "campaigns ready" },
    ),
  ]);
  await api(
    "POST",
    "/v1/campaigns",
    JSON.stringify({
      id: "bench",
      owner: "marketing",
      template: { name: "flash_sale", language: { code: "es" } },
      category: "utility",
      bodyParameters: ["first_name"],
      numbers: NUMBERS.map((n) => n.phoneNumberId),
      // Tomorrow: planned and enqueued, nothing released during the measure.
      schedule: { startAt: new Date(Date.now() + 86_400_000).toISOString() },
      ...(CAP ? { frequencyCap: { max: 2, days: 7 } } : {}),
    }),
  );
  const up0 = performance.now();
  await api(
    "PUT",
    "/v1/campaigns/bench/audience?format=csv",
    Readable.toWeb(createReadStream(file)),
    "text/csv",
  );
  const upload = (performance.now() - up0) / 1000;
  const cpu0 = cpuOf(pid);
  const srv2 = serversCpu(servers);
  const t0 = performance.now();
  await api("POST", "/v1/campaigns/bench/start");
  // Polled from the plan's checkpoint document (by _id): the API's progress also counts the queue,
  // a scan of the recipients on the stand-in that would load the server during the measure.
  const plans = mongo.db.collection<{ _id: string; complete: boolean; counters: { next: number } }>(
    "campaign_plans",
  );
  let last = 0;
  for (;;) {
    const p = await plans.findOne({ _id: "bench" });
    if (p?.complete === true) break;
    const next = p?.counters.next ?? 0;
    if (next - last >= ROWS / 10) {
      progress(`${String(next)} rows planned, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      last = next;
    }
    await sleep(100);
  }
  const planS = (performance.now() - t0) / 1000;
  const cpu = cpuOf(pid) - cpu0;
  const planServers = serversSince(srv2);
  const rss = peakRssMb(pid);
  const final = await api("GET", "/v1/campaigns/bench");
  const counters = final.plan?.counters;
  const queued = final.queued;
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(
    `## campaigns plan (${String(cpus().length)} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, ${fmt(ROWS)} rows, chunk ${String(CHUNK)}, frequency cap ${CAP ? "on" : "off"})`,
  );
  console.log("| run | time | rows/s | CPU per row | peak RSS |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(
    `| campaigns service: plan + enqueue (${fmt(counters?.planned ?? 0)} planned, ${fmt(queued)} queued, skipped ${JSON.stringify(counters?.skipped ?? {})}) | ${planS.toFixed(1)} s | ${fmt(ROWS / planS)} | ${(cpu / ROWS).toFixed(1)} µs | ${rss.toFixed(0)} MB |`,
  );
  console.log(
    `| baseline: bare producer, ${fmt(ROWS)} SendRequested (acks=all) | ${bareKafka.s.toFixed(1)} s | ${fmt(ROWS / bareKafka.s)} | ${(bareKafka.cpu / ROWS).toFixed(1)} µs (bench process) | |`,
  );
  console.log(
    `| baseline: bare MongoDB bulk upsert, ${fmt(ROWS)} queue documents | ${bareMongo.s.toFixed(1)} s | ${fmt(ROWS / bareMongo.s)} | ${(bareMongo.cpu / ROWS).toFixed(1)} µs (bench process) | |`,
  );
  console.log(
    `| baseline: bare MongoDB bulk insert, ${fmt(ROWS)} queue documents | ${bareInsert.s.toFixed(1)} s | ${fmt(ROWS / bareInsert.s)} | ${(bareInsert.cpu / ROWS).toFixed(1)} µs (bench process) | |`,
  );
  console.log(`(audience upload: ${upload.toFixed(1)} s, not in the plan time)`);
  const perRow = (c: Record<string, number>) =>
    Object.keys(servers).length === 0
      ? "not measured (no PARLEY_STATE_DIR pid files)"
      : Object.entries(c)
          .map(([n, v]) => `${n} ${(v / ROWS).toFixed(1)} µs`)
          .join(", ");
  console.log("servers' CPU per row (from /proc, the bench's own servers):");
  console.log(`- plan + enqueue: ${perRow(planServers)}`);
  if (BASELINES) {
    console.log(`- bare producer: ${perRow(bareKafkaServers)}`);
    console.log(`- bare MongoDB bulk upsert: ${perRow(bareMongoServers)}`);
    console.log(`- bare MongoDB bulk insert: ${perRow(bareInsertServers)}`);
  }
} finally {
  child.kill("SIGTERM");
  await Promise.race([new Promise((r) => child.once("exit", r)), sleep(10_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await producer.disconnect();
  await mongo.db.dropDatabase();
  await mongo.close();
  await rm(dir, { recursive: true, force: true });
  await stack.stop();
}
