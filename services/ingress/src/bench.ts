// Ingress throughput and acknowledgement latency (issue 5's benchmark), in one run on one broker:
//  1. the most signed POSTs per second a bare Express handler that only verifies the signature
//     answers, against ingress with the durable append (closed loop, CONNECTIONS connections);
//  2. ingress's p50/p99 acknowledgement latency at a fixed RATE (open loop: latency counts from
//     the scheduled send time, so a stall is not hidden by the generator waiting for it).
// The load comes from a child process (this file with --load), so it does not share the event loop.
//   KAFKA_BROKERS=... SCHEMA_REGISTRY_URL=... node services/ingress/dist/bench.js
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import express from "express";
import { metaJsonStringify, signWebhookBody, verifyWebhookSignature } from "@parley/cloud-api";
import { createCatalog } from "@parley/contracts";
import {
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
} from "@parley/kafka";
import { createMetrics } from "@parley/telemetry";
import { createAllowList } from "./adapters/http/allow-list.js";
import { startWebhookServer, WEBHOOK_PATH } from "./adapters/http/webhook-server.js";
import { createRawWebhookAppender } from "./adapters/kafka/raw-appender.js";
import { createRateLimiter } from "./domain/rate-limit.js";
import { createWebhookMetrics } from "./metrics.js";

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

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;

/** The generator (child process): closed loop at `connections`, or open loop at `rate` per second. */
async function load(url: string, mode: string, connections: number, rate: number, seconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: mode === "open" ? 512 : connections });
  const bodies = Array.from({ length: 100 }, (_, i) => {
    const b = body(i);
    return { b, signature: signWebhookBody(b, SECRET) };
  });
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  const post = (scheduledAt: number): Promise<void> =>
    new Promise((done) => {
      const one = bodies[sent++ % bodies.length] ?? { b: "", signature: "" };
      const req = request(
        url,
        {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(one.b),
            "x-hub-signature-256": one.signature,
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            latencies.push(performance.now() - scheduledAt);
            if (res.statusCode === 200) ok++;
            done();
          });
        },
      );
      req.on("error", () => {
        done();
      });
      req.end(one.b);
    });
  const started = performance.now();
  const end = started + seconds * 1000;
  if (mode === "closed") {
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < end) await post(performance.now());
      }),
    );
  } else {
    const inFlight: Promise<void>[] = [];
    const total = rate * seconds;
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      inFlight.push(post(due));
    }
    await Promise.all(inFlight);
  }
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
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
    },
  });
  const connections = Number(values.connections);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  if (values.load !== undefined) {
    await load(values.url, values.load, connections, rate, seconds);
    return;
  }

  const brokers = (process.env["KAFKA_BROKERS"] ?? "127.0.0.1:9092").split(",");
  const registryUrl = process.env["SCHEMA_REGISTRY_URL"] ?? "http://127.0.0.1:8081";
  const run = `bench${Date.now().toString(36)}`;
  const raw = createCatalog({ prefix: `${run}.` }).topic("raw-webhooks");
  const kafka = createKafka({ brokers, clientId: run });
  const serde = createSerde({ registry: createRegistry({ url: registryUrl }) });
  await provisionTopics({ kafka, topics: [raw], serde });
  const producer = createEventProducer({ kafka, serde, name: "bench" });
  await producer.connect();

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
    appender: createRawWebhookAppender({ producer, topic: raw }),
    metrics: createWebhookMetrics(createMetrics({ service: "bench", collectDefaults: false })),
    logger: quiet,
  });
  const urlOf = (port: number) => `http://127.0.0.1:${String(port)}${WEBHOOK_PATH}`;
  const common = ["--connections", String(connections), "--seconds", String(seconds)];

  process.stderr.write(
    `ingress bench: ${String(seconds)} s per case, ${String(connections)} connections\n`,
  );
  const bareResult = await runLoad(["closed", "--url", urlOf(barePort), ...common]);
  const ingressResult = await runLoad(["closed", "--url", urlOf(ingress.port), ...common]);
  const fixed = await runLoad([
    "open",
    "--url",
    urlOf(ingress.port),
    "--rate",
    String(rate),
    ...common,
  ]);

  const rps = (r: LoadResult) => r.ok / r.seconds;
  const ms = (n: number) => n.toFixed(1);
  const rows = [
    `| case | 200s | requests/s | p50 ms | p99 ms |`,
    `| --- | --- | --- | --- | --- |`,
    `| bare Express, signature check only (closed loop) | ${String(bareResult.ok)}/${String(bareResult.sent)} | ${rps(bareResult).toFixed(0)} | ${ms(bareResult.p50Ms)} | ${ms(bareResult.p99Ms)} |`,
    `| ingress, durable append (closed loop) | ${String(ingressResult.ok)}/${String(ingressResult.sent)} | ${rps(ingressResult).toFixed(0)} | ${ms(ingressResult.p50Ms)} | ${ms(ingressResult.p99Ms)} |`,
    `| ingress at ${String(rate)}/s (open loop) | ${String(fixed.ok)}/${String(fixed.sent)} | ${rps(fixed).toFixed(0)} | ${ms(fixed.p50Ms)} | ${ms(fixed.p99Ms)} |`,
  ];
  process.stdout.write(
    `${rows.join("\n")}\n\ningress/bare: ${(rps(ingressResult) / rps(bareResult)).toFixed(2)}\n`,
  );

  await ingress.stop();
  await new Promise((r) => bareServer.close(r));
  await producer.disconnect();
}

await main();
