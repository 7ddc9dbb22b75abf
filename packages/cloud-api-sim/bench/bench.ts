#!/usr/bin/env node
// Benchmark: accepted sends per second by one simulator process (one core, Node is single-threaded).
// The load generator runs in this process, the simulator in a forked child.
//   node packages/cloud-api-sim/bench/dist/bench.js [--seconds 10] [--connections 64] [--pipelining 8]
import { fork } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { createSimulator, serveSimulator } from "@parley/cloud-api-sim";

const PN = "106540352242922";
const TOKEN = "bench-token";

/** Baseline: a bare node:http handler that only reads the body and answers a constant. */
async function serveBare(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"messaging_product":"whatsapp","contacts":[],"messages":[{"id":"wamid.x"}]}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  process.send?.({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

/** The simulator engine alone, no HTTP: how much of a core one accepted send costs. */
function engineOnly(seconds: number): number {
  const sim = createSimulator({
    accessTokens: [{ token: TOKEN }],
    throughputMps: 1_000_000,
    retainMessages: 20_000,
    webhooks: { enabled: false },
  });
  const until = Date.now() + seconds * 1000;
  let n = 0;
  const started = Date.now();
  while (Date.now() < until) {
    const r = sim.handle({
      method: "POST",
      path: `/v23.0/${PN}/messages`,
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${TOKEN}` },
      body: Buffer.from(
        `{"messaging_product":"whatsapp","to":"+1650${String(1_000_000 + n)}","type":"text","text":{"body":"bench"}}`,
      ),
    });
    if (r.kind === "answer" && r.status === 200) n++;
  }
  void sim.stop();
  return n / ((Date.now() - started) / 1000);
}

async function serve(webhookUrl: string | undefined): Promise<void> {
  const sim = createSimulator({
    seed: "bench",
    accessTokens: [{ token: TOKEN }],
    throughputMps: 1_000_000,
    retainMessages: 20_000,
    webhookUrls: webhookUrl !== undefined ? [webhookUrl] : [],
    webhooks: {
      enabled: webhookUrl !== undefined,
      concurrency: 64,
      maxBatchSize: 50,
      batchWindowMs: 50,
    },
    statuses: {
      sentDelayMs: [0, 50],
      deliveredDelayMs: [0, 50],
      readDelayMs: [0, 50],
      readProbability: 0.5,
    },
  });
  const server = await serveSimulator(sim, { port: 0 });
  process.send?.({ url: server.url });
}

async function drive(
  url: string,
  seconds: number,
  connections: number,
  pipelining: number,
): Promise<{ accepted: number; other: number; rate: number }> {
  const pool = new Pool(url, { connections, pipelining });
  let accepted = 0;
  let other = 0;
  let n = 0;
  const until = Date.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      const to = `1650${String(1_000_000 + (n++ % 5_000_000)).padStart(7, "0")}`;
      const res = await pool.request({
        path: `/v23.0/${PN}/messages`,
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: `{"messaging_product":"whatsapp","to":"+${to}","type":"text","text":{"body":"bench"}}`,
      });
      await res.body.dump();
      if (res.statusCode === 200) accepted++;
      else other++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: connections * pipelining }, worker));
  const rate = accepted / ((Date.now() - started) / 1000);
  await pool.close();
  return { accepted, other, rate };
}

async function run(
  mode: "bare" | "off" | "on",
  seconds: number,
  connections: number,
  pipelining: number,
): Promise<{ rate: number; webhooks: number }> {
  let hooks = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      hooks++;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
  const args =
    mode === "bare"
      ? ["--serve-bare"]
      : ["--serve", ...(mode === "on" ? ["--webhook-url", hookUrl] : [])];
  const child = fork(fileURLToPath(import.meta.url), args, { stdio: "inherit" });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("message", (m: { url: string }) => {
      resolve(m.url);
    });
    child.once("exit", (code) => {
      reject(new Error(`simulator exited with ${code ?? "signal"}`));
    });
  });
  await drive(url, 1, connections, pipelining); // warm-up
  const r = await drive(url, seconds, connections, pipelining);
  child.kill("SIGTERM");
  await new Promise<void>((r2) =>
    receiver.close(() => {
      r2();
    }),
  );
  return { rate: r.rate, webhooks: hooks };
}

async function main(): Promise<void> {
  // `pnpm … bench -- --seconds 5` passes the "--" on: options follow it.
  const args = process.argv.slice(2);
  const { values } = parseArgs({
    args: args[0] === "--" ? args.slice(1) : args,
    options: {
      serve: { type: "boolean" },
      "serve-bare": { type: "boolean" },
      "webhook-url": { type: "string" },
      seconds: { type: "string" },
      connections: { type: "string" },
      pipelining: { type: "string" },
    },
  });
  if (values.serve === true) return serve(values["webhook-url"]);
  if (values["serve-bare"] === true) return serveBare();
  const seconds = Number(values.seconds ?? "10");
  const connections = Number(values.connections ?? "32");
  const pipelining = Number(values.pipelining ?? "8");
  const engine = engineOnly(Math.min(seconds, 5));
  const bare = await run("bare", seconds, connections, pipelining);
  const off = await run("off", seconds, connections, pipelining);
  const on = await run("on", seconds, connections, pipelining);
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  process.stdout.write(
    `\nCloud API simulator, ${seconds} s per run, ${connections} connections x ${pipelining} pipelined, Node ${process.version}, ${cpus().length} x ${cpu}\n\n` +
      `| run | accepted sends/s | webhook POSTs received |\n|---|---:|---:|\n` +
      `| engine only, no HTTP (one core) | ${Math.round(engine).toLocaleString("en")} | - |\n` +
      `| bare node:http handler (ceiling of this HTTP path) | ${Math.round(bare.rate).toLocaleString("en")} | - |\n` +
      `| simulator, webhooks off | ${Math.round(off.rate).toLocaleString("en")} | - |\n` +
      `| simulator, webhooks on (batched) | ${Math.round(on.rate).toLocaleString("en")} | ${on.webhooks.toLocaleString("en")} |\n`,
  );
}

void main();
