// Ingress throughput and acknowledgement latency (issue 5's benchmark), in one run on one broker:
//  1. the most signed POSTs per second a bare Express handler that only verifies the signature
//     answers, against ingress with the durable append (closed loop, CONNECTIONS connections);
//  2. ingress's p50/p99 acknowledgement latency at a fixed RATE (open loop: latency counts from
//     the scheduled send time, so a stall is not hidden by the generator waiting for it).
// Each server first gets BENCH_WARMUP_SECONDS (2) of discarded closed-loop load.
// The load comes from a child process (this file with --load), so it does not share the event loop.
//   KAFKA_BROKERS=... SCHEMA_REGISTRY_URL=... node services/ingress/dist/bench.js
import { spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import express from "express";
import { metaJsonStringify, signWebhookBody, verifyWebhookSignature } from "@parley/cloud-api";
import { createCatalog, type TopicSpec } from "@parley/contracts";
import {
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type EncodedEvent,
  type OutgoingEvent,
} from "@parley/kafka";
import { createMetrics } from "@parley/telemetry";
import { createAllowList } from "../dist/adapters/http/allow-list.js";
import { startWebhookServer, WEBHOOK_PATH } from "../dist/adapters/http/webhook-server.js";
import { createRawWebhookAppender } from "../dist/adapters/kafka/raw-appender.js";
import { createRateLimiter } from "../dist/admission/rate-limit.js";
import { createWebhookMetrics } from "../dist/metrics.js";

const SECRET = "bench-app-secret";

/** A realistic single-message webhook in Meta's escaped wire form. */
function body(i: number): string {
  return metaJsonStringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: {
                display_phone_number: "15550783881",
                phone_number_id: `10654035224292${String(i % 3)}`,
              },
              contacts: [{ profile: { name: "José" }, wa_id: "16505551234" }],
              messages: [
                {
                  from: "16505551234",
                  id: `wamid.bench${String(i)}`,
                  timestamp: "1750030073",
                  type: "text",
                  text: { body: `Olá! Pedido nº ${String(i)} 📦 https://x.example/a` },
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

interface LoadResult {
  readonly sent: number;
  readonly ok: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface Measured extends LoadResult {
  readonly cpuUsPerRequest: number;
  /** Records per produce request on the raw topic (group commit), 0 for the bare handler. */
  readonly recordsPerProduce: number;
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;

/**
 * One keep-alive HTTP/1.1 connection speaking just enough of the protocol for this load: a
 * prebuilt request per write, the answer's status and Content-Length read back. Much cheaper per
 * request than node:http's client, so the generator is not what limits the run.
 */
class Connection {
  private readonly socket: Socket;
  private pending: Buffer = Buffer.alloc(0);
  private onAnswer: ((status: number) => void) | undefined;
  constructor(port: number, onClose: () => void) {
    this.socket = connect({ host: "127.0.0.1", port, noDelay: true });
    this.socket.on("data", (chunk: Buffer) => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.drain();
    });
    this.socket.on("error", () => undefined);
    this.socket.on("close", () => {
      this.onAnswer?.(0);
      this.onAnswer = undefined;
      onClose();
    });
  }
  get idle(): boolean {
    return this.onAnswer === undefined && !this.socket.destroyed;
  }
  send(request: Buffer): Promise<number> {
    return new Promise((done) => {
      this.onAnswer = done;
      this.socket.write(request);
    });
  }
  close(): void {
    this.socket.destroy();
  }
  private drain(): void {
    const headerEnd = this.pending.indexOf("\r\n\r\n");
    if (headerEnd < 0) return;
    const head = this.pending.subarray(0, headerEnd).toString("latin1");
    const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? "0");
    const total = headerEnd + 4 + length;
    if (this.pending.length < total) return;
    this.pending = this.pending.subarray(total);
    const status = Number(head.slice(9, 12));
    const answer = this.onAnswer;
    this.onAnswer = undefined;
    answer?.(status);
  }
}

/** The generator (child process): closed loop at `connections`, or open loop at `rate` per second. */
async function load(url: string, mode: string, connections: number, rate: number, seconds: number) {
  const { port, pathname } = new URL(url);
  const requests = Array.from({ length: 100 }, (_, i) => {
    const b = Buffer.from(body(i));
    const head =
      `POST ${pathname} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
      `content-length: ${String(b.length)}\r\nx-hub-signature-256: ${signWebhookBody(b, SECRET)}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, "latin1"), b]);
  });
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  /** Answers other than 200, by status: a bench that gets none is broken, not slow. */
  const other = new Map<number, number>();
  const pool: Connection[] = [];
  const open = (): Connection => {
    const c = new Connection(Number(port), () => {
      const at = pool.indexOf(c);
      if (at >= 0) pool.splice(at, 1);
    });
    pool.push(c);
    return c;
  };
  const post = async (c: Connection, scheduledAt: number): Promise<void> => {
    const status = await c.send(requests[sent++ % requests.length] ?? Buffer.alloc(0));
    latencies.push(performance.now() - scheduledAt);
    if (status === 200) ok++;
    else other.set(status, (other.get(status) ?? 0) + 1);
  };
  const started = performance.now();
  const end = started + seconds * 1000;
  if (mode === "closed") {
    await Promise.all(
      Array.from({ length: connections }, async () => {
        const c = open();
        while (performance.now() < end && c.idle) await post(c, performance.now());
      }),
    );
  } else {
    // Open loop: request i is due at started + i/rate; latency counts from then, so a stall in
    // the server is not hidden by the generator waiting for it (no coordinated omission).
    const total = Math.round(rate * seconds);
    const due: number[] = [];
    const inFlight = new Set<Promise<void>>();
    const maxConnections = 1_024;
    let next = 0;
    const dispatch = (): void => {
      while (due.length > 0) {
        const c = pool.find((p) => p.idle) ?? (pool.length < maxConnections ? open() : undefined);
        if (c === undefined) return;
        const at = due.shift() ?? 0;
        const p: Promise<void> = post(c, at).then(() => {
          inFlight.delete(p);
          dispatch();
        });
        inFlight.add(p);
      }
    };
    while (next < total) {
      const now = performance.now();
      while (next < total && started + (next * 1000) / rate <= now) {
        due.push(started + (next * 1000) / rate);
        next++;
      }
      dispatch();
      await new Promise((r) => setTimeout(r, 1));
    }
    while (due.length > 0 || inFlight.size > 0) {
      dispatch();
      await Promise.race([...inFlight, new Promise((r) => setTimeout(r, 5))]);
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  for (const c of [...pool]) c.close();
  latencies.sort((a, b) => a - b);
  if (other.size > 0) {
    process.stderr.write(`[load] answers other than 200: ${JSON.stringify([...other])}\n`);
  }
  const result: LoadResult = {
    sent,
    ok,
    seconds: elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
  process.stdout.write(JSON.stringify(result));
}

function runLoad(args: readonly string[]): Promise<LoadResult> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--load", ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("exit", (code) => {
      if (code === 0) done(JSON.parse(out) as LoadResult);
      else reject(new Error(`load generator exited with ${String(code)}`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      load: { type: "string" },
      url: { type: "string", default: "" },
      connections: { type: "string", default: process.env["BENCH_CONNECTIONS"] ?? "32" },
      rate: { type: "string", default: process.env["BENCH_RATE"] ?? "1000" },
      seconds: { type: "string", default: process.env["BENCH_SECONDS"] ?? "10" },
      rounds: { type: "string", default: process.env["BENCH_ROUNDS"] ?? "1" },
    },
  });
  const connections = Number(values.connections);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (values.load !== undefined) {
    await load(values.url, values.load, connections, rate, seconds);
    return;
  }

  const brokers = (process.env["KAFKA_BROKERS"] ?? "127.0.0.1:9092").split(",");
  const registryUrl = process.env["SCHEMA_REGISTRY_URL"] ?? "http://127.0.0.1:8081";
  const run = `bench${Date.now().toString(36)}`;
  const catalog = createCatalog({ prefix: `${run}.` });
  const raw = catalog.topic("raw-webhooks");
  const kafka = createKafka({ brokers, clientId: run });
  const serde = createSerde({ registry: createRegistry({ url: registryUrl }) });
  await provisionTopics({ kafka, topics: [raw, catalog.topic("raw-status-webhooks")], serde });
  // As many producers as ingress's WEBHOOK_APPEND_PRODUCERS: produce requests in flight at once.
  let produceRequests = 0;
  let producedRecords = 0;
  const producers = Array.from({ length: Number(process.env["BENCH_PRODUCERS"] ?? "4") }, (_, i) =>
    createEventProducer({ kafka, serde, name: `bench ${String(i)}` }),
  );
  await Promise.all(producers.map((p) => p.connect()));

  const bare = express();
  bare.post(WEBHOOK_PATH, express.raw({ type: () => true, limit: "3mb" }), (req, res) => {
    const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const ok = verifyWebhookSignature(bytes, req.headers["x-hub-signature-256"], SECRET);
    res.sendStatus(ok ? 200 : 401);
  });
  const bareServer = bare.listen(0, "127.0.0.1");
  await new Promise((r) => bareServer.once("listening", r));
  const bareAddress = bareServer.address();
  const barePort = typeof bareAddress === "object" && bareAddress !== null ? bareAddress.port : 0;

  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const ingress = await startWebhookServer({
    host: "127.0.0.1",
    port: 0,
    verifyToken: "bench-verify-token",
    appSecrets: [SECRET],
    bodyLimitBytes: 3 * 1024 * 1024,
    trustProxy: false,
    rateLimiter: createRateLimiter({ ratePerSecond: 0, burst: 1 }),
    allowList: createAllowList([]),
    appender: createRawWebhookAppender({
      // Counted, to show how far group commit batches the appends.
      producer: producers.map((p) => ({
        encode: (topic: TopicSpec, record: OutgoingEvent) => p.encode(topic, record),
        publishEncoded: (topic: TopicSpec, records: readonly EncodedEvent[]) => {
          produceRequests++;
          producedRecords += records.length;
          return p.publishEncoded(topic, records);
        },
      })),
      topics: { webhooks: raw, statuses: catalog.topic("raw-status-webhooks") },
      ...(process.env["BENCH_LINGER_MS"] === undefined
        ? {}
        : { lingerMs: Number(process.env["BENCH_LINGER_MS"]) }),
    }),
    metrics: createWebhookMetrics(createMetrics({ service: "bench", collectDefaults: false })),
    logger: quiet,
  });
  const urlOf = (port: number) => `http://127.0.0.1:${String(port)}${WEBHOOK_PATH}`;
  const common = ["--connections", String(connections), "--seconds", String(seconds)];

  process.stderr.write(
    `ingress bench: ${String(seconds)} s per case, ${String(connections)} connections, ${String(rounds)} round(s), ${String(producers.length)} producer(s)\n`,
  );
  // The server side's CPU per answered request (this process: Express, the appender, kafkajs),
  // steadier than the rates on a shared machine; the broker's CPU is not in it.
  const measure = async (args: readonly string[]): Promise<Measured> => {
    const before = process.cpuUsage();
    const [requestsBefore, recordsBefore] = [produceRequests, producedRecords];
    const result = await runLoad(args);
    const used = process.cpuUsage(before);
    const requests = produceRequests - requestsBefore;
    return {
      ...result,
      cpuUsPerRequest: (used.user + used.system) / Math.max(1, result.ok),
      recordsPerProduce: requests === 0 ? 0 : (producedRecords - recordsBefore) / requests,
    };
  };
  const cases: { name: string; results: Measured[] }[] = [
    { name: "bare Express, signature check only (closed loop)", results: [] },
    { name: "ingress, durable append (closed loop)", results: [] },
    { name: `ingress at ${String(rate)}/s (open loop)`, results: [] },
  ];
  // BENCH_ONLY=1,2 runs some cases only (for profiling one of them).
  const only = (process.env["BENCH_ONLY"] ?? "0,1,2").split(",").map(Number);
  // A short discarded pass against each server first: the first seconds of a fresh process
  // (JIT, the schema id lookup, connections) otherwise land in the first round.
  const warmup = Number(process.env["BENCH_WARMUP_SECONDS"] ?? "2");
  if (warmup > 0) {
    const warm = ["--connections", String(connections), "--seconds", String(warmup)];
    if (only.includes(0)) await runLoad(["closed", "--url", urlOf(barePort), ...warm]);
    if (only.includes(1) || only.includes(2))
      await runLoad(["closed", "--url", urlOf(ingress.port), ...warm]);
  }
  for (let round = 0; round < rounds; round++) {
    if (only.includes(0))
      cases[0]?.results.push(await measure(["closed", "--url", urlOf(barePort), ...common]));
    if (only.includes(1))
      cases[1]?.results.push(await measure(["closed", "--url", urlOf(ingress.port), ...common]));
    if (only.includes(2))
      cases[2]?.results.push(
        await measure(["open", "--url", urlOf(ingress.port), "--rate", String(rate), ...common]),
      );
  }

  const rps = (r: LoadResult) => r.ok / r.seconds;
  const median = (xs: readonly number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const ms = (n: number) => n.toFixed(1);
  const rows = [
    `| case | 200s / sent | requests/s (median) | p50 ms | p99 ms | server CPU µs/request | records/produce request |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...cases.map(({ name, results }) => {
      const okSent = results.map((r) => `${String(r.ok)}/${String(r.sent)}`).join(", ");
      const perRound = results.map((r) => rps(r).toFixed(0)).join(", ");
      return `| ${name} | ${okSent} | ${median(results.map(rps)).toFixed(0)} [${perRound}] | ${ms(median(results.map((r) => r.p50Ms)))} | ${ms(median(results.map((r) => r.p99Ms)))} | ${median(results.map((r) => r.cpuUsPerRequest)).toFixed(0)} | ${median(results.map((r) => r.recordsPerProduce)).toFixed(1)} |`;
    }),
  ];
  const [bareRuns, ingressRuns] = [cases[0]?.results ?? [], cases[1]?.results ?? []];
  const cpu = (rs: readonly Measured[]) => median(rs.map((r) => r.cpuUsPerRequest));
  process.stdout.write(
    `${rows.join("\n")}\n\ningress/bare requests/s: ${(median(ingressRuns.map(rps)) / median(bareRuns.map(rps))).toFixed(2)}; ` +
      `bare/ingress server CPU per request: ${(cpu(bareRuns) / cpu(ingressRuns)).toFixed(2)}\n`,
  );

  await ingress.stop();
  await new Promise((r) => bareServer.close(r));
  await Promise.all(producers.map((p) => p.disconnect()));
}

await main();
