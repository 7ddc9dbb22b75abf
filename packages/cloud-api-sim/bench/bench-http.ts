#!/usr/bin/env node
// HTTP benchmark of the simulator, one command:
//   pnpm --filter @parley/cloud-api-sim bench:http [-- --seconds 8 --rounds 3 --connections 32]
//
// The server under test runs as its own process pinned to CPU 0 (`taskset -c 0`); the load comes
// from wrk (native, one thread) pinned to CPU 1, as does the webhook receiver. Every run is bounded
// (wrk -d, at most 20 s) and uses 127.0.0.1 only. Each round measures, in turn:
//   - bare:   a node:http handler that parses the JSON body and answers a canned Graph response
//             (the ceiling of node:http on this core),
//   - the simulator with status webhooks off (text sends, then template sends), and once more
//     with its lean HTTP front switched off (every request through node:http) for comparison,
//   - the simulator with status webhooks on (batched, then one status per POST: the default).
// Counted as accepted: HTTP 200 answers only; everything else is reported as rejected by code.
// Needs Linux, at least 2 CPUs, `taskset` (util-linux) and `wrk` (apt-get install -y wrk).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createSimulator, serveSimulator } from "@parley/cloud-api-sim";

const PN = "106540352242922";
const TOKEN = "bench-token";
const TEMPLATE = "bench_notice";
const HOST = "127.0.0.1";
const MAX_RUN_SECONDS = 20;

// ---------- child processes: the servers under test and the webhook receiver ----------

function announce(url: string): void {
  process.stdout.write(`${JSON.stringify({ url, pid: process.pid })}\n`);
}

function exitOnSignal(onExit: () => void = () => undefined): void {
  const stop = (): void => {
    onExit();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

/** The baseline: parse the JSON body, answer a canned Graph response of the simulator's size. */
function serveBare(): void {
  const canned = JSON.stringify({
    messaging_product: "whatsapp",
    contacts: [{ input: "+16502000000", wa_id: "16502000000" }],
    messages: [{ id: "wamid.HBgLMTY1MDIwMDAwMDAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA" }],
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { to?: unknown };
      const ok = typeof body.to === "string";
      res.writeHead(ok ? 200 : 400, {
        "content-type": "application/json; charset=UTF-8",
        "content-length": Buffer.byteLength(canned),
      });
      res.end(canned);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, HOST, () => {
    announce(`http://${HOST}:${(server.address() as AddressInfo).port}`);
  });
  exitOnSignal();
}

async function serveSim(
  webhookUrl: string | undefined,
  batch: number,
  fastPath: boolean,
): Promise<void> {
  const sim = createSimulator({
    seed: "bench",
    accessTokens: [{ token: TOKEN }],
    // The per-number cap (80 msg/s by default) would be the thing measured otherwise.
    throughputMps: 1_000_000,
    webhookUrls: webhookUrl !== undefined ? [webhookUrl] : [],
    webhooks: {
      enabled: webhookUrl !== undefined,
      maxBatchSize: batch,
      batchWindowMs: batch > 1 ? 50 : 0,
      concurrency: 32,
    },
    // Compressed delays: every status of a message is due within half a second, so a run
    // measures the steady state of sends and their webhooks together.
    statuses: {
      sentDelayMs: [0, 100],
      deliveredDelayMs: [0, 100],
      readDelayMs: [0, 200],
      readProbability: 0.5,
    },
  });
  sim.addTemplate({
    name: TEMPLATE,
    language: "en_US",
    category: "UTILITY",
    body: "Hi {{1}}, your order {{2}} has shipped.",
  });
  const server = await serveSimulator(sim, { port: 0, host: HOST, fastPath });
  announce(server.url);
  exitOnSignal();
}

/** Counts webhook POSTs and the status updates in them; answers 200 at once. */
function receiveWebhooks(): void {
  let posts = 0;
  let statuses = 0;
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      posts++;
      const text = Buffer.concat(chunks).toString("latin1");
      for (
        let i = text.indexOf('"recipient_id"');
        i !== -1;
        i = text.indexOf('"recipient_id"', i + 1)
      )
        statuses++;
      res.writeHead(200, { "content-length": 0 });
      res.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, HOST, () => {
    announce(`http://${HOST}:${(server.address() as AddressInfo).port}/webhooks`);
  });
  process.on("message", () => {
    process.send?.({ posts, statuses });
  });
  exitOnSignal();
}

// ---------- the driver ----------

interface WrkResult {
  readonly accepted: number;
  readonly rejected: number;
  readonly rejectedByCode: Readonly<Record<string, number>>;
  readonly requests: number;
  readonly durationUs: number;
  readonly socketErrors: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

interface Child {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly pid: number;
}

const self = fileURLToPath(import.meta.url);
const luaScript = fileURLToPath(new URL("../bench/sends.lua", import.meta.url));

function startChild(cpu: number, args: readonly string[], ipc = false): Promise<Child> {
  const proc = spawn("taskset", ["-c", String(cpu), process.execPath, self, ...args], {
    stdio: ["ignore", "pipe", "inherit", ...(ipc ? (["ipc"] as const) : [])],
  });
  return new Promise((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString("utf8");
      const nl = buffered.indexOf("\n");
      if (nl === -1) return;
      proc.stdout?.off("data", onData);
      const { url, pid } = JSON.parse(buffered.slice(0, nl)) as { url: string; pid: number };
      resolve({ proc, url, pid });
    };
    proc.stdout?.on("data", onData);
    proc.once("exit", (code) => {
      reject(new Error(`${args.join(" ")} exited with ${code ?? "a signal"} before listening`));
    });
  });
}

async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null) return;
  const exited = new Promise<void>((r) =>
    c.proc.once("exit", () => {
      r();
    }),
  );
  c.proc.kill("SIGTERM");
  await exited;
}

/** CPU time (user + system) of one process, in clock ticks. */
function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
}

/** Busy and total ticks of one CPU from /proc/stat. */
function cpuTicks(cpu: number): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) throw new Error(`cpu${cpu} not in /proc/stat`);
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

function runWrk(
  url: string,
  seconds: number,
  connections: number,
  kind: "text" | "template",
  pool: number,
): WrkResult {
  const duration = Math.min(seconds, MAX_RUN_SECONDS);
  const r = spawnSync(
    "taskset",
    [
      "-c",
      "1",
      "wrk",
      "-t1",
      `-c${connections}`,
      `-d${duration}s`,
      "--timeout",
      "5s",
      "-s",
      luaScript,
      url,
      "--",
      `/v23.0/${PN}/messages`,
      TOKEN,
      String(pool),
      kind,
      TEMPLATE,
      "en_US",
    ],
    { encoding: "utf8", timeout: (duration + 10) * 1000 },
  );
  const line = r.stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (r.status !== 0 || line === undefined)
    throw new Error(`wrk failed (status ${r.status ?? "none"}): ${r.stderr}${r.stdout}`);
  return JSON.parse(line.slice("BENCH_RESULT ".length)) as WrkResult;
}

interface Scenario {
  readonly name: string;
  readonly server: readonly string[];
  readonly kind: "text" | "template";
  readonly webhooks: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { name: "bare node:http baseline", server: ["--serve-bare"], kind: "template", webhooks: false },
  { name: "simulator, webhooks off, text", server: ["--serve"], kind: "text", webhooks: false },
  {
    name: "simulator on node:http (fastPath: false), webhooks off, text",
    server: ["--serve", "--node-http"],
    kind: "text",
    webhooks: false,
  },
  {
    name: "simulator, webhooks off, template",
    server: ["--serve"],
    kind: "template",
    webhooks: false,
  },
  {
    name: "simulator, webhooks on (≤100 statuses/POST), template",
    server: ["--serve", "--batch", "100"],
    kind: "template",
    webhooks: true,
  },
  {
    name: "simulator, webhooks on (1 status/POST, default), template",
    server: ["--serve", "--batch", "1"],
    kind: "template",
    webhooks: true,
  },
];

interface Measured {
  readonly wrk: WrkResult;
  readonly rate: number;
  /** Share of CPU 0 the server process used during the measured run. */
  readonly serverCpu: number;
  /** Share of CPU 0 used by everything else (other processes, interrupts). */
  readonly otherCpu: number;
  readonly webhookPosts: number;
  readonly webhookStatuses: number;
}

async function measure(
  s: Scenario,
  seconds: number,
  warmup: number,
  connections: number,
  pool: number,
): Promise<Measured> {
  const receiver = s.webhooks ? await startChild(1, ["--receive"], true) : undefined;
  const server = await startChild(0, [
    ...s.server,
    ...(receiver ? ["--webhook-url", receiver.url] : []),
  ]);
  try {
    runWrk(server.url, warmup, connections, s.kind, pool);
    const counts = async (): Promise<{ posts: number; statuses: number }> => {
      if (!receiver) return { posts: 0, statuses: 0 };
      const reply = new Promise<{ posts: number; statuses: number }>((r) =>
        receiver.proc.once("message", (m) => {
          r(m as { posts: number; statuses: number });
        }),
      );
      receiver.proc.send("count");
      return reply;
    };
    const hooksBefore = await counts();
    const p0 = processTicks(server.pid);
    const c0 = cpuTicks(0);
    const wrk = runWrk(server.url, seconds, connections, s.kind, pool);
    const p1 = processTicks(server.pid);
    const c1 = cpuTicks(0);
    const hooksAfter = await counts();
    const elapsedTicks = c1.total - c0.total;
    const serverTicks = p1 - p0;
    return {
      wrk,
      rate: wrk.accepted / (wrk.durationUs / 1e6),
      serverCpu: elapsedTicks > 0 ? serverTicks / elapsedTicks : 0,
      otherCpu: elapsedTicks > 0 ? Math.max(0, c1.busy - c0.busy - serverTicks) / elapsedTicks : 0,
      webhookPosts: hooksAfter.posts - hooksBefore.posts,
      webhookStatuses: hooksAfter.statuses - hooksBefore.statuses,
    };
  } finally {
    await stopChild(server);
    if (receiver) await stopChild(receiver);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en");
const ms = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 2 : 1);
const pct = (x: number): string => `${Math.round(x * 100)} %`;

function checkTools(): void {
  if (process.platform !== "linux")
    throw new Error("the HTTP benchmark needs Linux (taskset, /proc)");
  if (cpus().length < 2)
    throw new Error("the HTTP benchmark needs 2 CPUs: one for the server, one for wrk");
  for (const [tool, hint] of [
    ["taskset", "apt-get install -y util-linux"],
    ["wrk", "apt-get install -y wrk"],
  ] as const) {
    if (spawnSync(tool, ["--version"], { encoding: "utf8" }).error !== undefined)
      throw new Error(`${tool} not found: ${hint}`);
  }
}

async function main(): Promise<void> {
  // `pnpm … bench -- --seconds 5` passes the "--" on: options follow it.
  const args = process.argv.slice(2);
  const { values } = parseArgs({
    args: args[0] === "--" ? args.slice(1) : args,
    options: {
      serve: { type: "boolean" },
      "serve-bare": { type: "boolean" },
      receive: { type: "boolean" },
      "webhook-url": { type: "string" },
      batch: { type: "string" },
      "node-http": { type: "boolean" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      connections: { type: "string" },
      recipients: { type: "string" },
      only: { type: "string" },
    },
  });
  if (values.serve === true)
    return serveSim(
      values["webhook-url"],
      Number(values.batch ?? "100"),
      values["node-http"] !== true,
    );
  if (values["serve-bare"] === true) {
    serveBare();
    return;
  }
  if (values.receive === true) {
    receiveWebhooks();
    return;
  }

  checkTools();
  const seconds = Math.min(Number(values.seconds ?? "8"), MAX_RUN_SECONDS);
  const warmup = Math.min(Number(values.warmup ?? "2"), MAX_RUN_SECONDS);
  const rounds = Math.max(1, Math.min(Number(values.rounds ?? "3"), 5));
  const connections = Number(values.connections ?? "32");
  const pool = Number(values.recipients ?? "100000");

  // --only bare,text: run the scenarios whose names contain one of these words (bare always runs).
  const only = values.only?.split(",").filter((w) => w.length > 0);
  const scenarios = SCENARIOS.filter(
    (s) => s === SCENARIOS[0] || only === undefined || only.some((w) => s.name.includes(w)),
  );
  const results = new Map<string, Measured[]>(scenarios.map((s) => [s.name, []]));
  const loadBefore = loadavg()[0] ?? 0;
  for (let round = 1; round <= rounds; round++) {
    for (const s of scenarios) {
      const m = await measure(s, seconds, warmup, connections, pool);
      results.get(s.name)?.push(m);
      process.stderr.write(
        `round ${round}/${rounds} ${s.name}: ${fmt(m.rate)} accepted/s, ${m.wrk.rejected} rejected, ` +
          `server CPU ${pct(m.serverCpu)}, others on CPU 0 ${pct(m.otherCpu)}\n`,
      );
    }
  }

  const bareRates = (results.get(SCENARIOS[0]?.name ?? "") ?? []).map((m) => m.rate);
  const bare = median(bareRates);
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  let out =
    `\nCloud API simulator over HTTP: server pinned to CPU 0, wrk (1 thread, ${connections} keep-alive ` +
    `connections) pinned to CPU 1; ${rounds} round(s) of ${seconds} s after ${warmup} s warm-up; ` +
    `${fmt(pool)} recipients round-robin; Node ${process.version}; ${cpus().length} x ${cpu}; ` +
    `load average (1 min) ${loadBefore.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end.\n` +
    `Figures are medians over the rounds (range in brackets); latency is wrk's, of the median round.\n\n` +
    `| run | accepted sends/s | vs bare | rejected | p50 ms | p99 ms | server CPU | others on CPU 0 | accepted per server CPU-second | webhook POSTs/s (statuses/s) |\n` +
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  for (const s of scenarios) {
    const ms_ = results.get(s.name) ?? [];
    const rates = ms_.map((m) => m.rate);
    const med = median(rates);
    const mid = [...ms_].sort((a, b) => a.rate - b.rate)[Math.floor(ms_.length / 2)];
    if (!mid) continue;
    const rejected = ms_.reduce((a, m) => a + m.wrk.rejected + m.wrk.socketErrors, 0);
    const codes = new Map<string, number>();
    for (const m of ms_)
      for (const [k, v] of Object.entries(m.wrk.rejectedByCode))
        codes.set(k, (codes.get(k) ?? 0) + v);
    const perCpu = median(ms_.map((m) => (m.serverCpu > 0 ? m.rate / m.serverCpu : 0)));
    out +=
      `| ${s.name} | ${fmt(med)} [${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}] | ` +
      `${s === SCENARIOS[0] ? "1.00" : (med / bare).toFixed(2)} | ` +
      `${fmt(rejected)}${codes.size > 0 ? ` (${[...codes].map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""} | ` +
      `${ms(mid.wrk.p50Us)} | ${ms(mid.wrk.p99Us)} | ${pct(median(ms_.map((m) => m.serverCpu)))} | ` +
      `${pct(median(ms_.map((m) => m.otherCpu)))} | ${fmt(perCpu)} | ` +
      `${s.webhooks ? `${fmt(median(ms_.map((m) => m.webhookPosts / (m.wrk.durationUs / 1e6))))} (${fmt(median(ms_.map((m) => m.webhookStatuses / (m.wrk.durationUs / 1e6))))})` : "-"} |\n`;
  }
  process.stdout.write(out);
}

void main().catch((e: unknown) => {
  process.stderr.write(`bench-http: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
