// End-to-end outbound latency (docs/benchmarks.md, "Outbound path end to end"): send requests
// published at a fixed rate through @parley/client -> router (policy, template catalog) ->
// dispatch -> sender -> Graph (the simulator, in this process). For every request it measures
// the time from the SendRequested append (acks=all answered) to the simulator accepting the
// Graph call that carries the request id in biz_opaque_callback_data. Baseline in the same run:
// a bare consumer group on the send-requests topic (append -> consumed), the floor any
// consumer of that topic pays. Also samples the RSS of all six services under that load.
// Run with bench/outbound-latency.sh (it starts and stops its own servers).
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { createParleyClient } from "@parley/client";
import { createSimulator, serveSimulator } from "@parley/cloud-api-sim";
import { createCatalog } from "@parley/contracts";
import {
  createEventConsumer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
} from "@parley/kafka";
import { startStack, waitFor } from "@parley/testkit";
import { freePort, repoRoot, serviceEnv, startService, type ServiceProcess } from "@parley/e2e";

const RATE = Number(process.env["BENCH_RATE"] ?? "500");
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? "10");
// Enough contacts that none is sent to faster than Meta's pair rate (one message per 6 s, a
// burst borrowing against it and then silence until it is repaid): at 500/s over 2,000 contacts
// each got one every 4 s, and about 8 s into the window every recipient's burst closed and its
// sends waited out the debt, ~5 s (2026-12-07, 14:46–15:01: p90 5.2 s, p99 5.5–5.7 s in five
// runs). That is the pair pacing doing its job, not Parley's latency: one send per recipient
// every 12 s at the measured rate keeps it out of the figure.
const CONTACTS = Number(
  process.env["BENCH_CONTACTS"] ?? String(Math.max(2_000, Math.ceil(RATE * 12))),
);
// The warm-up runs the same open loop for this long, at this rate, then waits for every warm-up
// request to reach Graph. It is long because the JVM servers (Kafka, the registry, the MongoDB
// stand-in) compile their hot paths for over a minute of load: on two cores their JIT compiler
// threads took up to 0.8 of a core, and with a 10 s warm-up that compiling fell inside the
// measured window. The warm-up rate stays low enough to drain on a cold stack.
const WARMUP_SECONDS = Number(process.env["BENCH_WARMUP_SECONDS"] ?? "90");
const WARMUP_RATE = Number(process.env["BENCH_WARMUP_RATE"] ?? String(Math.min(RATE, 150)));
const OPS_TOKEN = "bench-outbound-ops-token";
const GRAPH_TOKEN = "bench-outbound-graph-token";
const WABA = "102290129340501";
const NUMBER = "106540352242951";

const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
}

// The fields of /proc/<pid>/stat after the command name (field 3 on); undefined when it is gone.
function statFields(pid: number | undefined): string[] | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

// CPU time of one process in seconds (utime + stime, fields 14 and 15, at 100 ticks/s).
function cpuSeconds(pid: number | undefined): number {
  const fields = statFields(pid);
  return fields === undefined ? NaN : (Number(fields[11]) + Number(fields[12])) / 100;
}

// A process's nice value (its main thread's, field 19); NaN when it is gone.
function niceOf(pid: number | undefined): number {
  const fields = statFields(pid);
  return fields === undefined ? NaN : Number(fields[16]);
}

// CPU time in seconds of a JVM's JIT compiler threads (C1 and C2), from /proc/<pid>/task; NaN
// for a process that has none (Node's compiler threads are not told apart by name).
function jitSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  let ticks = 0;
  let found = false;
  try {
    for (const task of readdirSync(`/proc/${String(pid)}/task`)) {
      const stat = readFileSync(`/proc/${String(pid)}/task/${task}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (!/^C[12] CompilerThre/.test(name)) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
      found = true;
    }
  } catch {
    return NaN;
  }
  return found ? ticks / 100 : NaN;
}

// The machine's CPU ticks: all, idle and stolen by the hypervisor (/proc/stat, first line).
function machineTicks(): { total: number; idle: number; steal: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    total: fields.reduce((a, b) => a + b, 0),
    idle: (fields[3] ?? 0) + (fields[4] ?? 0),
    steal: fields[7] ?? 0,
  };
}

// The infrastructure servers started by infra/native/infra.sh, from its pid files (absent when
// the servers were started some other way).
function infraPids(): Map<string, number> {
  const profile = process.env["PARLEY_PROFILE"] ?? "default";
  const dir = join(process.env["PARLEY_STATE_DIR"] ?? join(repoRoot, ".parley", profile), "run");
  const out = new Map<string, number>();
  if (!existsSync(dir)) return out;
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(".pid")) continue;
    const pid = Number(readFileSync(join(dir, file), "utf8").trim());
    if (Number.isInteger(pid) && pid > 0) out.set(file.slice(0, -4), pid);
  }
  return out;
}

/** The round trips a service has sent so far: Kafka requests by API, MongoDB commands by name. */
async function roundTrips(service: ServiceProcess): Promise<Map<string, number>> {
  const text = await fetch(`${service.url}/metrics`, {
    headers: { authorization: `Bearer ${OPS_TOKEN}` },
  })
    .then((r) => r.text())
    .catch(() => "");
  const out = new Map<string, number>();
  for (const [, kind, name, value] of text.matchAll(
    /^parley_(kafka_requests|mongo_commands)_total\{[^}]*(?:api|command)="([^"]+)"[^}]*\} (\S+)$/gm,
  )) {
    if (kind === undefined || name === undefined || value === undefined) continue;
    const key = `${kind === "kafka_requests" ? "kafka" : "mongo"} ${name}`;
    out.set(key, (out.get(key) ?? 0) + Number(value));
  }
  return out;
}

/** A service's consumer lag in records, summed over its groups' partitions (NaN: no answer). */
async function consumerLag(service: ServiceProcess): Promise<number> {
  const text = await fetch(`${service.url}/metrics`, {
    headers: { authorization: `Bearer ${OPS_TOKEN}` },
  })
    .then((r) => r.text())
    .catch(() => "");
  let lag = NaN;
  for (const [, value] of text.matchAll(/^parley_kafka_consumer_lag_records\{[^}]*\} (\S+)$/gm)) {
    lag = (Number.isNaN(lag) ? 0 : lag) + Number(value);
  }
  return lag;
}

const stack = await startStack();
const ns = stack.namespace("bench-outbound");
const catalog = createCatalog({ prefix: `${ns.id}.` });
const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
const consumers = [...new Set(catalog.topics.flatMap((t) => t.consumers))].filter((c) =>
  /^[a-z0-9][a-z0-9._-]*$/.test(c),
);
progress("provisioning topics");
await provisionTopics({
  kafka,
  serde,
  topics: [
    ...catalog.topics,
    ...[...consumers, "bench-baseline"].map((c) => catalog.deadLetterTopic(c)),
  ],
});

const sim = createSimulator({
  seed: "bench-outbound",
  accessTokens: [{ token: GRAPH_TOKEN }],
  businesses: [
    {
      wabaId: WABA,
      phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100951", throughputMps: 1000 }],
    },
  ],
  webhooks: { enabled: false },
  retainMessages: 200_000,
});
sim.addTemplate({
  wabaId: WABA,
  name: "order_update",
  language: "en_US",
  category: "UTILITY",
  status: "APPROVED",
  body: "Hello {{1}}, order {{2}} has shipped.",
});
const simServer = await serveSimulator(sim, { port: await freePort(), host: "127.0.0.1" });

const numbers = JSON.stringify({
  numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, mps: 1000, accessToken: GRAPH_TOKEN }],
});
const logDir = join(repoRoot, ".parley", "bench-outbound", ns.id);
const services: ServiceProcess[] = [];
// A failed wait or a throw below must not leave the six services running: 'exit' also fires
// after an uncaught error.
process.on("exit", () => {
  for (const s of services) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});
for (const name of ["ingress", "router", "sender", "media", "consent", "projection"]) {
  const port = await freePort();
  const nodeOptions = process.env[`BENCH_${name.toUpperCase()}_NODE_OPTIONS`];
  // e.g. BENCH_ROUTER_MAIN=<a worktree of main>/services/router/dist/main.js: the before case.
  const main = process.env[`BENCH_${name.toUpperCase()}_MAIN`];
  const cpuNice = process.env[`BENCH_${name.toUpperCase()}_CPU_NICE`];
  const service = startService(
    name,
    port,
    serviceEnv(
      stack,
      { database: ns.database(), topicPrefix: catalog.prefix, opsToken: OPS_TOKEN },
      {
        LOG_LEVEL: "warn",
        PARLEY_NUMBERS: numbers,
        WA_GRAPH_BASE_URL: simServer.url,
        // media refuses to start without a key-encryption key: a throwaway one.
        ...(name === "media"
          ? {
              MEDIA_KEYS: `k1:${randomBytes(32).toString("base64")}`,
              MEDIA_STORE_DIR: join(logDir, "media-store"),
            }
          : {}),
        // e.g. BENCH_ROUTER_NODE_OPTIONS="--require /path/to/profiler.cjs" to profile the router,
        // BENCH_SENDER_NODE_OPTIONS for the sender (Node refuses --cpu-prof in NODE_OPTIONS;
        // see docs/benchmarks.md).
        ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
        // e.g. BENCH_PROJECTION_CPU_NICE=0: the projection at the send path's priority (the
        // before case of its default, 10).
        ...(cpuNice === undefined ? {} : { CPU_NICE: cpuNice }),
      },
    ),
    logDir,
    name,
    ...(main === undefined ? [] : [main]),
  );
  services.push(service);
  await waitFor(
    async () =>
      (
        await fetch(`${service.url}/readyz`, {
          headers: { authorization: `Bearer ${OPS_TOKEN}` },
        }).catch(() => undefined)
      )?.status === 200,
    { timeoutMs: 60_000, description: `${name} ready` },
  );
}
progress("six services ready");

// Baseline: a bare consumer of the same records, append -> consumed.
const appendedAt = new Map<string, number>();
const consumedAt = new Map<string, number>();
const dispatchedAt = new Map<string, number>();
const baseline = createEventConsumer({
  kafka,
  serde,
  catalog,
  consumer: "bench-baseline",
  topics: [catalog.topic("send-requests"), catalog.topic("dispatch")],
  tuning: { fromBeginning: true },
  handle: (record) => {
    const event = record.value as { type: string; correlationId: string };
    (event.type === "DispatchMessage" ? dispatchedAt : consumedAt).set(
      event.correlationId,
      Date.now(),
    );
    return Promise.resolve();
  },
});
await baseline.start();

const client = createParleyClient({
  brokers: stack.kafkaBrokers,
  schemaRegistryUrl: stack.schemaRegistryUrl,
  clientId: `${ns.id}-bench`,
  prefix: catalog.prefix,
});
let sequence = 0;
const send = async (): Promise<void> => {
  const i = sequence++;
  const contact = String(16_505_000_000 + (i % CONTACTS));
  const { requestId } = await client.requestSend({
    idempotencyKey: `bench-${String(i)}`,
    contactId: contact,
    recipient: { phone: contact },
    sender: { kind: "businessNumber", phoneNumberId: NUMBER },
    content: {
      type: "template",
      template: {
        name: "order_update",
        language: { code: "en_US" },
        components: [
          {
            type: "body",
            parameters: [
              { type: "text", text: "Ana" },
              { type: "text", text: String(i) },
            ],
          },
        ],
      },
    },
    category: "utility",
  });
  appendedAt.set(requestId, Date.now());
};

const acceptedAt = (): Map<string, number> => {
  const out = new Map<string, number>();
  for (const m of sim.messages({ phoneNumberId: NUMBER })) {
    if (m.callbackData !== undefined) out.set(m.callbackData, m.acceptedAt);
  }
  return out;
};

/** Issues `count` requests at `rate` per second, open loop: on schedule, whatever the answers do. */
const openLoop = async (
  count: number,
  rate: number,
): Promise<{ began: number; calls: Promise<void>[] }> => {
  const tickMs = 10;
  const perTick = (rate * tickMs) / 1000;
  const began = Date.now();
  const calls: Promise<void>[] = [];
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const due = Math.min(count, Math.floor(((Date.now() - began) / tickMs) * perTick));
      while (calls.length < due) calls.push(send());
      if (calls.length >= count) {
        clearInterval(timer);
        done();
      }
    }, tickMs);
  });
  return { began, calls };
};

const warmup = Math.round(WARMUP_RATE * WARMUP_SECONDS);
progress(`warm-up: ${String(WARMUP_RATE)} requests/s for ${String(WARMUP_SECONDS)} s`);
await Promise.all((await openLoop(warmup, WARMUP_RATE)).calls);
await waitFor(() => acceptedAt().size >= warmup, {
  timeoutMs: 180_000,
  intervalMs: 250,
  description: "warm-up sent",
});
const warm = new Set(appendedAt.keys());

progress(`measuring: ${String(RATE)} requests/s for ${String(SECONDS)} s`);
const total = RATE * SECONDS;
const rss = new Map<string, number>();
const sampleRss = (): void => {
  for (const s of services) rss.set(s.name, Math.max(rss.get(s.name) ?? 0, rssMb(s.child.pid)));
};
// CPU per process over the measured window (publishing until the last request reached Graph).
const cpuProcesses = new Map<string, number | undefined>([
  ...services.map((s): [string, number | undefined] => [s.name, s.child.pid]),
  ...[...infraPids()].map(([name, pid]): [string, number | undefined] => [`${name} (server)`, pid]),
  ["bench (client, simulator, baseline)", process.pid],
]);
const cpuBefore = new Map([...cpuProcesses].map(([name, pid]) => [name, cpuSeconds(pid)]));
const jitBefore = new Map([...cpuProcesses].map(([name, pid]) => [name, jitSeconds(pid)]));
const tripsBefore = new Map(
  await Promise.all(services.map(async (s) => [s.name, await roundTrips(s)] as const)),
);
const ticksBefore = machineTicks();
const sampler = setInterval(sampleRss, 250);
const { began: started, calls: pending } = await openLoop(total, RATE);
const publishSeconds = (Date.now() - started) / 1000;
await Promise.all(pending);
// The open loop issues on schedule; the appends are acknowledged when the producer gets to them.
const appendedSeconds = (Date.now() - started) / 1000;
// Memory of each service as the backlog peaks (every request appended): the V8 heap and the
// buffers outside it, from the service's own metrics, beside its RSS.
const memoryAtPeak = new Map(
  await Promise.all(
    services.map(async (s): Promise<[string, string]> => {
      const text = await fetch(`${s.url}/metrics`, {
        headers: { authorization: `Bearer ${OPS_TOKEN}` },
      })
        .then((r) => r.text())
        .catch(() => "");
      const mb = (metric: string): string => {
        const value = new RegExp(`^\\w*${metric}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1];
        return value === undefined ? "?" : (Number(value) / 1024 / 1024).toFixed(0);
      };
      return [
        s.name,
        `${mb("process_resident_memory_bytes")} | ${mb("nodejs_heap_size_used_bytes")} / ${mb("nodejs_heap_size_total_bytes")} | ${mb("nodejs_external_memory_bytes")}`,
      ];
    }),
  ),
);
progress(
  `window began ${new Date(started).toISOString()}; issued in ${publishSeconds.toFixed(1)} s, every append acknowledged after ${appendedSeconds.toFixed(1)} s`,
);
await waitFor(() => acceptedAt().size >= warmup + total, {
  timeoutMs: 180_000,
  intervalMs: 250,
  description: "every measured request sent to Graph",
}).catch(() => {
  progress("not every request reached Graph within 180 s; reporting what did");
});
clearInterval(sampler);
sampleRss();
const measuredSeconds = (Date.now() - started) / 1000;
const ticksAfter = machineTicks();
const tripsAfter = new Map(
  await Promise.all(services.map(async (s) => [s.name, await roundTrips(s)] as const)),
);
const cpuUsed = new Map(
  [...cpuProcesses].map(([name, pid]) => [name, cpuSeconds(pid) - (cpuBefore.get(name) ?? NaN)]),
);
const jitUsed = new Map(
  [...cpuProcesses].map(([name, pid]) => [name, jitSeconds(pid) - (jitBefore.get(name) ?? NaN)]),
);
// The read side after the window (outside the measured CPU): how far the projection trailed
// when the last request reached Graph, and how long it took to catch up (it yields CPU to the
// send path at CPU_NICE 10; BENCH_PROJECTION_CPU_NICE=0 runs it at the send path's priority).
const projection = services.find((s) => s.name === "projection");
const trailing = projection === undefined ? NaN : await consumerLag(projection);
const caughtUpAfter = await (async () => {
  if (projection === undefined) return NaN;
  const from = Date.now();
  while (Date.now() - from < 120_000) {
    if ((await consumerLag(projection)) === 0) return (Date.now() - from) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return NaN;
})();

const accepted = acceptedAt();
const measured = [...appendedAt.entries()].filter(([id]) => !warm.has(id));
const toGraph = measured
  .flatMap(([id, t]) => {
    const a = accepted.get(id);
    return a === undefined ? [] : [a - t];
  })
  .sort((a, b) => a - b);
const toDispatch = measured
  .flatMap(([id, t]) => {
    const d = dispatchedAt.get(id);
    return d === undefined ? [] : [d - t];
  })
  .sort((a, b) => a - b);
const toConsumer = measured
  .flatMap(([id, t]) => {
    const c = consumedAt.get(id);
    return c === undefined ? [] : [c - t];
  })
  .sort((a, b) => a - b);
const stats = sim.stats().find((s) => s.phoneNumberId === NUMBER);
// The same latencies by the second of the window their request was appended in: a tail made of
// a few stalls shows as one or two bad seconds, a saturated stack as a rising line.
const bySecond = new Map<number, { graph: number[]; dispatch: number[] }>();
for (const [id, t] of measured) {
  const second = Math.floor((t - started) / 1000);
  const slot = bySecond.get(second) ?? { graph: [], dispatch: [] };
  const a = accepted.get(id);
  const d = dispatchedAt.get(id);
  if (a !== undefined) slot.graph.push(a - t);
  if (d !== undefined) slot.dispatch.push(d - t);
  bySecond.set(second, slot);
}

const row = (name: string, xs: readonly number[]): string =>
  `| ${name} | ${String(xs.length)} | ${percentile(xs, 50).toFixed(0)} | ${percentile(xs, 90).toFixed(0)} | ${percentile(xs, 99).toFixed(0)} | ${(xs.at(-1) ?? NaN).toFixed(0)} |`;
console.log(
  `\nOutbound end to end: ${String(total)} template sends at ${String(RATE)}/s (issued in ${publishSeconds.toFixed(1)} s, every append acknowledged after ${appendedSeconds.toFixed(1)} s) to ${String(CONTACTS)} contacts, one number (cap 1,000/s)\n`,
);
console.log("| path | requests | p50 ms | p90 ms | p99 ms | max ms |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
console.log(row("SendRequested appended -> Graph call (router + sender)", toGraph));
console.log(row("of which: appended -> DispatchMessage consumed (router)", toDispatch));
console.log(row("baseline: appended -> bare consumer of send-requests", toConsumer));
console.log(
  "\n| appended in second | requests | to Graph p50 / p99 / max ms | router share p50 / p99 / max ms |",
);
console.log("| ---: | ---: | ---: | ---: |");
for (const [second, slot] of [...bySecond].sort(([a], [b]) => a - b)) {
  const triple = (xs: number[]): string => {
    const sorted = xs.sort((a, b) => a - b);
    return [50, 99, 100].map((p) => percentile(sorted, p).toFixed(0)).join(" / ");
  };
  console.log(
    `| ${String(second)} | ${String(slot.graph.length)} | ${triple(slot.graph)} | ${triple(slot.dispatch)} |`,
  );
}
console.log(
  `\nGraph: ${String(stats?.accepted ?? 0)} accepted, most in any second ${String(stats?.maxAcceptedInAnySecond ?? 0)}, refusals ${JSON.stringify(stats?.rejectedByCode ?? {})}`,
);
console.log(
  "\n| service | max RSS MB | as the backlog peaked: RSS MB | V8 heap used / total MB | external MB |",
);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [name, mb] of rss) {
  console.log(`| ${name} | ${mb.toFixed(0)} | ${memoryAtPeak.get(name) ?? "? | ? | ?"} |`);
}
const tickSpan = Math.max(1, ticksAfter.total - ticksBefore.total);
console.log(
  `\nCPU over the measured ${measuredSeconds.toFixed(1)} s (${String(cpus().length)} cores = ${(cpus().length * measuredSeconds).toFixed(0)} CPU s): ` +
    `machine idle ${((100 * (ticksAfter.idle - ticksBefore.idle)) / tickSpan).toFixed(1)} %, ` +
    `stolen by the hypervisor ${((100 * (ticksAfter.steal - ticksBefore.steal)) / tickSpan).toFixed(1)} %\n`,
);
console.log(
  "| process | CPU s | per measured request ms | of which JIT compiler threads s | nice (CPU_NICE) |",
);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [name, seconds] of cpuUsed) {
  const jit = jitUsed.get(name) ?? NaN;
  const nice = niceOf(cpuProcesses.get(name));
  console.log(
    `| ${name} | ${seconds.toFixed(1)} | ${((1000 * seconds) / total).toFixed(2)} | ${Number.isNaN(jit) ? "" : jit.toFixed(1)} | ${Number.isNaN(nice) ? "" : String(nice)} |`,
  );
}
console.log(
  `\nprojection: ${Number.isNaN(trailing) ? "?" : String(trailing)} records behind when the last request reached Graph; ` +
    (Number.isNaN(caughtUpAfter)
      ? "not caught up within 120 s"
      : `caught up ${caughtUpAfter.toFixed(1)} s later`),
);
// Round trips per measured request, per service, over the window (warm-up excluded).
console.log(
  `\n| service | round trips per 1,000 requests (Kafka requests by API, MongoDB commands${process.env["MONGO_COMMAND_METRICS"] === "true" ? "" : ": not counted, MONGO_COMMAND_METRICS=true counts them"}) | all per request |`,
);
console.log("| --- | --- | ---: |");
for (const s of services) {
  const before = tripsBefore.get(s.name) ?? new Map<string, number>();
  const used = [...(tripsAfter.get(s.name) ?? new Map<string, number>())]
    .map(([name, n]): [string, number] => [name, n - (before.get(name) ?? 0)])
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  const all = used.reduce((sum, [, n]) => sum + n, 0);
  console.log(
    `| ${s.name} | ${used.map(([name, n]) => `${name} ${((1000 * n) / total).toFixed(1)}`).join(", ")} | ${(all / total).toFixed(2)} |`,
  );
}
// Where the router's time went per record (its own histogram; sums over warm-up and measurement).
const router = services.find((s) => s.name === "router");
const exposition =
  router === undefined
    ? ""
    : await fetch(`${router.url}/metrics`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })
        .then((r) => r.text())
        .catch(() => "");
const stageTotals = new Map<string, { sum: number; count: number }>();
for (const m of exposition.matchAll(
  /parley_router_outbound_stage_seconds_(sum|count)\{[^}]*stage="([a-z]+)"[^}]*\} (\S+)/g,
)) {
  const [, field, stage, value] = m;
  if (field === undefined || stage === undefined || value === undefined) continue;
  const t = stageTotals.get(stage) ?? { sum: 0, count: 0 };
  if (field === "sum") t.sum = Number(value);
  else t.count = Number(value);
  stageTotals.set(stage, t);
}
if (stageTotals.size > 0) {
  console.log("\n| router stage (all records) | records | mean ms |");
  console.log("| --- | ---: | ---: |");
  for (const [stage, t] of stageTotals) {
    console.log(
      `| ${stage} | ${String(t.count)} | ${((t.sum * 1000) / Math.max(1, t.count)).toFixed(1)} |`,
    );
  }
}
console.log(`\nload average at the end: ${readFileSync("/proc/loadavg", "utf8").trim()}`);

await client.close();
await baseline.stop();
for (const s of services) s.child.kill("SIGTERM");
await Promise.all(services.map((s) => s.exited));
await simServer.close();
await sim.stop();
await stack.stop();
