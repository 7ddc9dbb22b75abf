// The consent service's benchmark (docs/benchmarks.md, "Consent"): the service as its own process
// against the broker, registry and MongoDB-wire server named by the environment, in a namespace
// of its own. It measures, against baselines in the same run:
//   (a) STOP to decision: BENCH_STOPS (1000) ConsentKeywordReceived at BENCH_STOP_RATE (100/s)
//       while BENCH_SEND_RATE (500/s) send outcomes flow through the same consumer; from the
//       STOP's publish to its ConsentRevoked read back from the consent topic (p50/p99), beside
//       the same STOP record's own publish-to-read (the transport alone);
//   (b) bulk import: BENCH_IMPORT_ROWS (20000) CSV rows streamed to POST /v1/imports, rows/s and
//       the service's peak RSS, beside the same rows refused at validation (parse cost alone).
// Run with bench/consent.sh. Every loop is bounded in count and time and talks to 127.0.0.1 only.
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createCatalog, createEvent, type AnyEvent } from "@parley/contracts";
import { freePort, repoRoot, serviceEnv, startService, stopService } from "@parley/e2e";
import {
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
} from "@parley/kafka";
import { startStack, waitFor } from "@parley/testkit";

const STOPS = Number(process.env["BENCH_STOPS"] ?? "1000");
const STOP_RATE = Number(process.env["BENCH_STOP_RATE"] ?? "100");
const SEND_RATE = Number(process.env["BENCH_SEND_RATE"] ?? "500");
const IMPORT_ROWS = Number(process.env["BENCH_IMPORT_ROWS"] ?? "20000");
// Rows of the recorded import at which the service writes a heap snapshot (into its log
// directory, .parley/bench-consent/<namespace>/), e.g. "0,100000,200000"; none by default.
const HEAP_SNAPSHOTS_AT = (process.env["BENCH_HEAP_SNAPSHOTS_AT"] ?? "")
  .split(",")
  .filter((s) => s.trim() !== "")
  .map(Number)
  .sort((x, y) => x - y);
const OPS_TOKEN = "bench-consent-ops-token";
const API_KEY = "bench-consent-api-key";

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const stats = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1) ?? NaN };
};
const rssMb = (pid: number | undefined) => {
  try {
    const kb = /VmRSS:\s+(\d+)/u.exec(readFileSync(`/proc/${String(pid)}/status`, "utf8"))?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
};
// Where the service's memory is: RSS, the main thread's malloc heap ([heap] in smaps: native
// allocations), V8's heap (committed and used) and external memory from its /metrics.
/** Distinct contacts the import's rows cycle through: rows / contacts entries per ledger. */
const IMPORT_CONTACTS = Number(process.env["BENCH_IMPORT_CONTACTS"] ?? "50000");
const REPORT_EVERY = Number(process.env["BENCH_REPORT_EVERY"] ?? "100000");
/**
 * Consecutive rows per contact (BENCH_IMPORT_RUN, 1): 1 cycles through the contacts row by row
 * (each batch of 500 rows touches 500 contacts); 20 gives each contact 20 rows in a row, as a
 * file sorted by contact does (a batch touches 25 contacts, 20 rows each).
 */
const IMPORT_RUN = Math.max(1, Number(process.env["BENCH_IMPORT_RUN"] ?? "1"));
const mallocHeapMb = (pid: number | undefined) => {
  try {
    const smaps = readFileSync(`/proc/${String(pid)}/smaps`, "utf8");
    const at = smaps.indexOf("[heap]");
    const kb = at === -1 ? undefined : /\nRss:\s+(\d+)/u.exec(smaps.slice(at))?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The service's resident memory by kind, from /proc/<pid>/smaps: the node binary's pages (file,
// shared with nothing here but not the service's data), other files, the main malloc heap
// ([heap]), anonymous mappings of 64 MB (glibc's per-thread malloc arenas: 65536 kB reserved),
// the other anonymous mappings (V8's heap and code space, thread stacks, mmapped buffers).
// A glibc arena is a 64 MB-aligned reservation whose used part is a separate read-write mapping.
const arenaStart = (head: string) =>
  BigInt(`0x${head.slice(0, head.indexOf("-"))}`) % 0x4000000n === 0n && head.includes(" rw-p ");
const smapsOf = (pid: number | undefined) => {
  const mb = { binary: 0, files: 0, heap: 0, arenas: 0, anon: 0 };
  try {
    const text = readFileSync(`/proc/${String(pid)}/smaps`, "utf8");
    for (const block of text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/u)) {
      const head = block.slice(0, block.indexOf("\n"));
      const rss = Number(/\nRss:\s+(\d+)/u.exec(block)?.[1] ?? 0) / 1024;
      const size = Number(/\nSize:\s+(\d+)/u.exec(block)?.[1] ?? 0);
      const path = head.split(/\s+/u).slice(5).join(" ");
      if (path.endsWith("/node") || path.endsWith("/nodejs")) mb.binary += rss;
      else if (path.startsWith("/")) mb.files += rss;
      else if (path === "[heap]") mb.heap += rss;
      else if (path === "" && (arenaStart(head) || size === 65_536)) mb.arenas += rss;
      else mb.anon += rss;
    }
  } catch {
    // the process is gone
  }
  return mb;
};
/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat. */
const cpuSecondsOf = (pid: number | undefined) => {
  try {
    const fields = readFileSync(`/proc/${String(pid)}/stat`, "utf8")
      .split(") ")[1]
      ?.split(" ");
    return (Number(fields?.[11]) + Number(fields?.[12])) / 100;
  } catch {
    return NaN;
  }
};
/** Bytes the process read and wrote through system calls (sockets included), /proc/<pid>/io. */
const ioBytesOf = (pid: number | undefined) => {
  try {
    const text = readFileSync(`/proc/${String(pid)}/io`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "mu").exec(text)?.[1]);
    return { read: field("rchar"), written: field("wchar") };
  } catch {
    return { read: NaN, written: NaN };
  }
};
/**
 * The pid of the process listening on a local TCP port (from /proc/net/tcp and the processes'
 * socket descriptors), or undefined (another user's process, or not on this machine): the
 * MongoDB stand-in's CPU per row is reported beside the service's.
 */
const pidListeningOn = (port: number): number | undefined => {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
        const f = line.trim().split(/\s+/u);
        if (f[1]?.endsWith(`:${hex}`) && f[3] === "0A" && f[9] !== undefined) inodes.add(f[9]);
      }
    } catch {
      // no such table
    }
  }
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/u.test(d))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/u.exec(target)?.[1];
        if (inode !== undefined && inodes.has(inode)) return Number(pid);
      }
    } catch {
      // gone, or not ours
    }
  }
  return undefined;
};
// The service's own node flags and allocator knobs (the bench process keeps its own):
// BENCH_CONSENT_NODE_FLAGS (e.g. "--max-old-space-size=96"), BENCH_CONSENT_MALLOC_ARENA_MAX.
const SERVICE_NODE_FLAGS = process.env["BENCH_CONSENT_NODE_FLAGS"] ?? "";
const SERVICE_ARENAS = process.env["BENCH_CONSENT_MALLOC_ARENA_MAX"];

const stack = await startStack();
const ns = stack.namespace("bench-consent");
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
    catalog.topic("consent"),
    catalog.topic("send-outcomes"),
    catalog.topic("audit"),
    catalog.deadLetterTopic("consent"),
    catalog.deadLetterTopic("bench-consent-reader"),
  ],
});
const producer = createEventProducer({ kafka, serde, name: "bench producer" });
await producer.connect();

/** When each STOP was published, read back, and decided (by wamid). */
const sentAt = new Map<string, number>();
const readAt = new Map<string, number>();
const decidedAt = new Map<string, number>();
const reader = createEventConsumer({
  kafka,
  serde,
  catalog,
  consumer: "bench-consent-reader",
  topics: [catalog.topic("consent")],
  tuning: { fromBeginning: true, maxInFlight: 2_000 },
  handle: (record) => {
    const now = performance.now();
    const event = record.value;
    if (event.type === "ConsentKeywordReceived") readAt.set(event.data.wamid, now);
    if (event.type === "ConsentRevoked" && event.data.purpose === "marketing") {
      const wamid = event.data.inputId?.replace(/^keyword:/u, "");
      if (wamid !== undefined && !decidedAt.has(wamid)) decidedAt.set(wamid, now);
    }
    return Promise.resolve();
  },
});
await reader.start();

const apiPort = await freePort();
const logDir = join(repoRoot, ".parley", "bench-consent", ns.id);
const service = startService(
  "consent",
  await freePort(),
  serviceEnv(
    stack,
    { database: ns.database(), topicPrefix: catalog.prefix, opsToken: OPS_TOKEN },
    {
      LOG_LEVEL: "warn",
      CONSENT_API_PORT: String(apiPort),
      CONSENT_API_KEYS: JSON.stringify([
        {
          id: "bench",
          keySha256: createHash("sha256").update(API_KEY).digest("hex"),
          scopes: ["write", "read"],
        },
      ]),
      CONSENT_MASTER_KEYS: JSON.stringify([
        { id: "bench-1", key: randomBytes(32).toString("base64") },
      ]),
      CONSENT_MAX_IN_FLIGHT: "2000",
      ...(SERVICE_ARENAS === undefined ? {} : { MALLOC_ARENA_MAX: SERVICE_ARENAS }),
      NODE_OPTIONS: [
        SERVICE_NODE_FLAGS,
        HEAP_SNAPSHOTS_AT.length === 0
          ? ""
          : `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${logDir}`,
      ]
        .join(" ")
        .trim(),
    },
  ),
  logDir,
);
try {
  await waitFor(
    async () =>
      (
        await fetch(`${service.url}/readyz`, {
          headers: { authorization: `Bearer ${OPS_TOKEN}` },
        }).catch(() => undefined)
      )?.status === 200,
    { timeoutMs: 120_000, description: "consent ready" },
  );

  const memoryOf = async () => {
    const text = await fetch(`${service.url}/metrics`, {
      headers: { authorization: `Bearer ${OPS_TOKEN}` },
    })
      .then((r) => r.text())
      .catch(() => "");
    const mb = (name: string) =>
      (
        Number(new RegExp(`^\\w*${name}\\{[^}]*\\} (\\S+)$`, "mu").exec(text)?.[1]) / 1_048_576
      ).toFixed(0);
    const k = smapsOf(service.child.pid);
    return `RSS ${rssMb(service.child.pid).toFixed(0)} MB: malloc [heap] ${mallocHeapMb(service.child.pid).toFixed(0)}, V8 heap ${mb("nodejs_heap_size_total_bytes")} (used ${mb("nodejs_heap_size_used_bytes")}), external ${mb("nodejs_external_memory_bytes")}; by mapping: node binary ${k.binary.toFixed(0)}, other files ${k.files.toFixed(0)}, [heap] ${k.heap.toFixed(0)}, malloc arenas ${k.arenas.toFixed(0)}, other anonymous (V8, stacks) ${k.anon.toFixed(0)}`;
  };
  /** The runtime's stage histogram (consent_stage_seconds): sum and count per stage. */
  const stagesOf = async () => {
    const text = await fetch(`${service.url}/metrics`, {
      headers: { authorization: `Bearer ${OPS_TOKEN}` },
    })
      .then((r) => r.text())
      .catch(() => "");
    const out = new Map<string, { sum: number; count: number }>();
    for (const m of text.matchAll(
      /^\w*consent_stage_seconds_(sum|count)\{[^}]*stage="(\w+)"[^}]*\} (\S+)$/gmu,
    )) {
      const [, kind, stage = "", value] = m;
      const v = out.get(stage) ?? { sum: 0, count: 0 };
      if (kind === "sum") v.sum = Number(value);
      else v.count = Number(value);
      out.set(stage, v);
    }
    return out;
  };
  // (a) STOPs under send load.
  progress(
    `(a) ${String(STOPS)} STOPs at ${String(STOP_RATE)}/s with ${String(SEND_RATE)} outcomes/s`,
  );
  const contactOf = (i: number) => `4477009${String(10_000 + i).padStart(5, "0")}`;
  let sends = 0;
  const loading = { on: true };
  const load = (async () => {
    const topic = catalog.topic("send-outcomes");
    const started = performance.now();
    while (loading.on) {
      const due = Math.floor(((performance.now() - started) / 1_000) * SEND_RATE);
      const batch: AnyEvent[] = [];
      while (sends < due) {
        const i = sends++;
        batch.push(
          createEvent(
            "SendAccepted",
            {
              requestId: `r-${String(i)}`,
              idempotencyKey: `k-${String(i)}`,
              contactId: contactOf(i % 5_000),
              wamid: `wamid.s.${String(i)}`,
              usedTemplateFallback: false,
              attempts: 1,
            },
            { correlationId: `r-${String(i)}`, now: new Date() },
          ),
        );
      }
      if (batch.length > 0)
        await producer.publish(
          topic,
          batch.map((event) => ({ key: topic.keyOf(event), event })),
        );
      await sleep(20);
    }
  })();
  const stopTopic = catalog.topic("consent");
  const started = performance.now();
  await Promise.all(
    Array.from({ length: STOPS }, async (_, i) => {
      await sleep((i / STOP_RATE) * 1_000 - (performance.now() - started));
      const wamid = `wamid.stop.${String(i)}`;
      const event = createEvent(
        "ConsentKeywordReceived",
        { contactId: contactOf(i), wamid, keyword: "stop", text: "STOP" },
        { correlationId: wamid, now: new Date() },
      );
      sentAt.set(wamid, performance.now());
      await producer.publish(stopTopic, [{ key: stopTopic.keyOf(event), event }]);
    }),
  );
  await waitFor(() => decidedAt.size >= STOPS, {
    timeoutMs: 60_000,
    intervalMs: 100,
    description: "every STOP decided",
  });
  loading.on = false;
  await load;
  const transport: number[] = [];
  const decision: number[] = [];
  for (const [wamid, t0] of sentAt) {
    const r = readAt.get(wamid);
    const d = decidedAt.get(wamid);
    if (r !== undefined) transport.push(r - t0);
    if (d !== undefined) decision.push(d - t0);
  }
  const a = { transport: stats(transport), decision: stats(decision), sends };

  // (b) Import: refused at validation (baseline), then recorded.
  const importRun = async (valid: boolean) => {
    const rows = IMPORT_ROWS;
    function* csv() {
      yield "contactId,decision,purposes,occurredAt,channel,businessName,wordingText,evidence.formId\n";
      for (let i = 0; i < rows; i += 1_000) {
        const lines: string[] = [];
        for (let k = i; k < Math.min(rows, i + 1_000); k++) {
          const c = `4477${String(1_000_000 + (Math.floor(k / IMPORT_RUN) % IMPORT_CONTACTS))}`;
          lines.push(
            `${c},${valid ? "granted" : "maybe"},marketing,2026-03-01T09:00:00Z,import,Acme,Offers OK,f-${String(k)}`,
          );
        }
        yield `${lines.join("\n")}\n`;
      }
    }
    const body = Readable.toWeb(Readable.from(csv())) as ReadableStream<Uint8Array>;
    const t0 = performance.now();
    const cpu0 = cpuSecondsOf(service.child.pid);
    const mongoCpu0 = cpuSecondsOf(mongoPid);
    const io0 = ioBytesOf(service.child.pid);
    const stages0 = await stagesOf();
    if (valid) progress(`  0 rows: ${await memoryOf()}`);
    // The service's RSS sampled through this phase alone (VmHWM would carry the previous one's).
    let peak = rssMb(service.child.pid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(service.child.pid));
    }, 250);
    const res = await fetch(`http://127.0.0.1:${String(apiPort)}/v1/imports?format=csv`, {
      method: "POST",
      body,
      duplex: "half",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "text/csv" },
    });
    // The answer streams a line per refused row, a progress line per batch and a final count:
    // read as it comes (progress every 100,000 rows), keep the last line.
    let last = "";
    let rest = "";
    let reported = 0;
    const snapshots = valid ? [...HEAP_SNAPSHOTS_AT] : [];
    const snapshot = (rowsSoFar: number) => {
      while (snapshots[0] !== undefined && rowsSoFar >= snapshots[0]) {
        snapshots.shift();
        service.child.kill("SIGUSR2");
        progress(
          `  heap snapshot asked at ${String(rowsSoFar)} rows (service RSS ${rssMb(service.child.pid).toFixed(0)} MB), in ${logDir}`,
        );
      }
    };
    snapshot(0);
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) {
      const lines = (rest + decoder.decode(chunk as Uint8Array, { stream: true })).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        last = line;
        const rowsSoFar = /"progress":\{"rows":(\d+)/u.exec(line)?.[1];
        if (rowsSoFar !== undefined) snapshot(Number(rowsSoFar));
        if (rowsSoFar !== undefined && Number(rowsSoFar) >= reported + REPORT_EVERY) {
          reported = Number(rowsSoFar);
          const at = reported;
          const seconds = (performance.now() - t0) / 1_000;
          void memoryOf().then((m) => {
            progress(
              `  ${String(at)} rows after ${seconds.toFixed(0)} s, service RSS peak so far ${peak.toFixed(0)} MB; now ${m}`,
            );
          });
        }
      }
    }
    if (rest.trim() !== "") last = rest;
    clearInterval(sampler);
    const ms = performance.now() - t0;
    const cpuMsPerRow = ((cpuSecondsOf(service.child.pid) - cpu0) * 1_000) / rows;
    const mongoCpuMsPerRow = ((cpuSecondsOf(mongoPid) - mongoCpu0) * 1_000) / rows;
    const io1 = ioBytesOf(service.child.pid);
    const stages1 = await stagesOf();
    // The decider runtime's stages over this phase (every batch of the API/import lane): how
    // many batches, and the mean ms of each stage per batch (load and context run together).
    const batches = (stages1.get("decide")?.count ?? 0) - (stages0.get("decide")?.count ?? 0);
    const perBatch = [...stages1]
      .map(([stage, v]) => {
        const before = stages0.get(stage) ?? { sum: 0, count: 0 };
        const n = v.count - before.count;
        return n === 0
          ? ""
          : `${stage} ${(((v.sum - before.sum) * 1_000) / n).toFixed(1)} ms (x${String(n)})`;
      })
      .filter((t) => t !== "")
      .join(", ");
    progress(
      `  ${valid ? "recorded" : "refused"}: ${String(batches)} runtime batches; per stage call: ${perBatch || "none"}; service socket and file bytes per row: read ${((io1.read - io0.read) / rows).toFixed(0)}, written ${((io1.written - io0.written) / rows).toFixed(0)}`,
    );
    progress(`  end (${String(rows)} rows): ${await memoryOf()}`);
    const done = JSON.parse(last || "{}") as {
      done?: { rows: number; recorded: number; refused: number };
    };
    return {
      ms,
      rowsPerSecond: (rows / ms) * 1_000,
      done: done.done,
      peakRssMb: peak,
      cpuMsPerRow,
      mongoCpuMsPerRow,
    };
  };
  // The MongoDB server's process, when it runs here (the stand-in): its CPU per row too.
  const mongoPid = pidListeningOn(Number(new URL(stack.mongoUrl).port || "27017"));
  progress(`(b) import of ${String(IMPORT_ROWS)} rows: refused at validation, then recorded`);
  const baseline = await importRun(false);
  const imported = await importRun(true);

  const row = (...cells: (string | number)[]) =>
    `| ${cells.map((c) => (typeof c === "number" ? c.toFixed(1) : c)).join(" | ")} |`;
  console.log(
    `\nconsent benchmark, ${new Date().toISOString()}, ${String(cpus().length)} CPUs (${cpus()[0]?.model ?? "?"}), load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n`,
  );
  console.log(row("measure", "n", "p50 ms", "p99 ms", "max ms"));
  console.log(row("---", "---", "---", "---", "---"));
  console.log(
    row(
      "STOP record published -> read back (transport baseline)",
      a.transport.n,
      a.transport.p50,
      a.transport.p99,
      a.transport.max,
    ),
  );
  console.log(
    row(
      "STOP published -> ConsentRevoked read back (consent decision)",
      a.decision.n,
      a.decision.p50,
      a.decision.p99,
      a.decision.max,
    ),
  );
  console.log(`\n(${String(a.sends)} send outcomes consumed alongside)\n`);
  console.log(
    row(
      "import",
      "rows",
      "ms",
      "rows/s",
      "peak RSS MB",
      "service CPU ms/row",
      "MongoDB CPU ms/row",
    ),
  );
  console.log(row("---", "---", "---", "---", "---", "---", "---"));
  console.log(
    row(
      `refused at validation (baseline) ${JSON.stringify(baseline.done)}`,
      IMPORT_ROWS,
      baseline.ms,
      baseline.rowsPerSecond,
      baseline.peakRssMb,
      baseline.cpuMsPerRow,
      baseline.mongoCpuMsPerRow,
    ),
  );
  console.log(
    row(
      `recorded ${JSON.stringify(imported.done)}`,
      IMPORT_ROWS,
      imported.ms,
      imported.rowsPerSecond,
      imported.peakRssMb,
      imported.cpuMsPerRow,
      imported.mongoCpuMsPerRow,
    ),
  );
  console.log("\nRecord the figures in docs/benchmarks.md, section Consent.");
} finally {
  await stopService(service);
  await reader.stop();
  await producer.disconnect();
  const { createMongo } = await import("@parley/mongo");
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
}
