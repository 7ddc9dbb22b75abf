// How long a consumer group takes to be back after a member dies (issue 30, "Back in seconds").
//
//   pnpm exec tsc -b packages/kafka
//   KAFKA_BROKERS=127.0.0.1:9092 node packages/kafka/bench/recovery.mjs
//
// Per case: a topic of PARTITIONS partitions gets RATE records/s over 60 keys; two members
// (recovery-member.mjs, each a consumer runner whose handler spends WORK_MS per record) share it.
// Once the group has consumed steadily for SETTLE_MS, member A is killed with SIGKILL and started
// again `restart` ms later ("never": not at all), or stopped with SIGTERM (a graceful leave). Measured from the kill, on the broker's view only
// (committed offsets against end offsets, polled every 100 ms):
//   back     every partition's committed offset has moved past where it was at the kill
//   drained  after that, the group's lag is back under twice its lag before the kill (+20)
// Cases: BENCH_CASES, a comma-separated list of names below (default: all). Each case is bounded
// (CASE_TIMEOUT_MS, 120 s) and sends only to KAFKA_BROKERS. Topics are deleted afterwards.
import { spawn } from "node:child_process";
import { setTimeout } from "node:timers";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createKafka } from "@parley/kafka";

const here = dirname(fileURLToPath(import.meta.url));
const brokers = (process.env["KAFKA_BROKERS"] ?? "127.0.0.1:9092").split(",");
const RATE = Number(process.env["RATE"] ?? "200");
const PARTITIONS = Number(process.env["PARTITIONS"] ?? "6");
const SETTLE_MS = Number(process.env["SETTLE_MS"] ?? "8000");
const CASE_TIMEOUT_MS = Number(process.env["CASE_TIMEOUT_MS"] ?? "120000");
const WORK_MS = process.env["WORK_MS"] ?? "2";

/** Settings before issue 30 (kafkajs's defaults: session 30 s, heartbeat 3 s, dynamic members) and after. */
const before = { session: 30_000, heartbeat: 3_000, static: false };
const after = { session: 10_000, heartbeat: 3_000, static: true };
const shortest = { session: 6_000, heartbeat: 2_000, static: true };
const kill = "SIGKILL";
const cases = [
  { name: "before-restart-5s", ...before, kill, restart: 5_000 },
  { name: "before-restart-0s", ...before, kill, restart: 0 },
  { name: "before-no-restart", ...before, kill, restart: null },
  { name: "before-sigterm", ...before, kill: "SIGTERM", restart: null },
  { name: "static-10s-restart-5s", ...after, kill, restart: 5_000 },
  { name: "static-10s-restart-0s", ...after, kill, restart: 0 },
  { name: "static-10s-no-restart", ...after, kill, restart: null },
  { name: "static-10s-sigterm", ...after, kill: "SIGTERM", restart: null },
  { name: "dynamic-10s-restart-5s", ...after, static: false, kill, restart: 5_000 },
  { name: "static-6s-restart-5s", ...shortest, kill, restart: 5_000 },
  { name: "static-6s-restart-0s", ...shortest, kill, restart: 0 },
  { name: "static-6s-no-restart", ...shortest, kill, restart: null },
];
const only = (process.env["BENCH_CASES"] ?? "").split(",").filter((s) => s !== "");
for (const name of only)
  if (!cases.some((c) => c.name === name))
    throw new Error(`BENCH_CASES: no case ${name}; cases: ${cases.map((c) => c.name).join(", ")}`);
const selected = only.length === 0 ? cases : cases.filter((c) => only.includes(c.name));

const run = `recovery-${Date.now().toString(36)}`;
const kafka = createKafka({ brokers, clientId: run });
const sleep = (ms) =>
  new Promise((r) => {
    setTimeout(r, ms);
  });

function member(name, settings, env) {
  const child = spawn(process.execPath, [join(here, "recovery-member.mjs")], {
    env: {
      ...process.env,
      ...env,
      MEMBER: name,
      WORK_MS,
      SESSION_TIMEOUT_MS: String(settings.session),
      HEARTBEAT_INTERVAL_MS: String(settings.heartbeat),
      INSTANCE_ID: settings.static ? `${run}-${name}` : "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d.toString()));
  child.stderr.on("data", (d) => (output += d.toString()));
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? code)),
  );
  return { child, exited, output: () => output };
}

async function oneCase(settings, index) {
  const topic = `${run}.${String(index)}`;
  const dlq = `${topic}.dlq`;
  const groupId = `${topic}.group`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [topic, dlq].map((t) => ({
      topic: t,
      numPartitions: PARTITIONS,
      replicationFactor: 1,
    })),
    waitForLeaders: true,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let producing = true;
  let sent = 0;
  const feeding = (async () => {
    const tick = 50;
    const perTick = Math.max(1, Math.round((RATE * tick) / 1000));
    while (producing) {
      const started = Date.now();
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: perTick }, () => ({
          key: `k${String(sent % 60)}`,
          value: String(sent++),
        })),
      });
      await sleep(Math.max(0, tick - (Date.now() - started)));
    }
  })();

  const env = { KAFKA_BROKERS: brokers.join(","), GROUP_ID: groupId, TOPIC: topic, DLQ_TOPIC: dlq };
  let a = member("a", settings, env);
  const b = member("b", settings, env);

  const view = async () => {
    let ends;
    let committed;
    for (let tries = 1; ; tries++) {
      try {
        [ends, [committed]] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        break;
      } catch (error) {
        // A topic just created (stale metadata, a leader still moving): ask again.
        if (tries >= 20) throw error;
        await sleep(100);
      }
    }
    const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    let lag = 0;
    for (const p of ends) lag += Number(p.high) - Math.max(0, at.get(p.partition) ?? 0);
    return { at, lag };
  };

  const deadline = Date.now() + CASE_TIMEOUT_MS;
  // Steady: every partition committed at least once, then SETTLE_MS more.
  for (;;) {
    if (Date.now() > deadline)
      throw new Error(`${settings.name}: the group never consumed every partition`);
    const { at } = await view();
    if (at.size === PARTITIONS && [...at.values()].every((o) => o > 0)) break;
    await sleep(200);
  }
  const lags = [];
  const settleEnd = Date.now() + SETTLE_MS;
  while (Date.now() < settleEnd) {
    lags.push((await view()).lag);
    await sleep(100);
  }
  const steady = lags.slice(-20).reduce((x, y) => x + y, 0) / Math.min(20, lags.length);

  a.child.kill(settings.kill);
  const killedAt = Date.now();
  await a.exited;
  // Read once A is gone: a commit of A's just before the signal (or its final one on SIGTERM)
  // must not count as the group being back.
  const atKill = (await view()).at;
  let restartedAt = null;
  if (settings.restart !== null) {
    setTimeout(() => {
      restartedAt = Date.now();
      a = member("a", settings, env);
    }, settings.restart);
  }
  let back = null;
  let drained = null;
  let peak = 0;
  const threshold = 2 * steady + 20;
  while (drained === null && Date.now() < killedAt + CASE_TIMEOUT_MS) {
    const { at, lag } = await view();
    const now = Date.now() - killedAt;
    peak = Math.max(peak, lag);
    if (back === null && [...atKill].every(([p, o]) => (at.get(p) ?? 0) > o)) back = now;
    if (back !== null && lag <= threshold) drained = now;
    await sleep(100);
  }
  producing = false;
  await feeding;
  await producer.disconnect();
  for (const m of [a, b])
    if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGTERM");
  const stopped = await Promise.race([
    Promise.all([a.exited, b.exited]),
    sleep(20_000).then(() => "timeout"),
  ]);
  if (stopped === "timeout") for (const m of [a, b]) m.child.kill("SIGKILL");
  await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
  await admin.disconnect();
  return {
    case: settings.name,
    session: settings.session,
    heartbeat: settings.heartbeat,
    membership: settings.static ? "static" : "dynamic",
    stop: settings.kill,
    restart: settings.restart === null ? "never" : `${String(settings.restart / 1000)} s`,
    restartedAt: restartedAt === null ? null : restartedAt - killedAt,
    steadyLag: Math.round(steady),
    peakLag: peak,
    back,
    drained,
  };
}

const seconds = (ms) => (ms === null ? "> timeout" : (ms / 1000).toFixed(1));
const rows = [];
process.stderr.write(
  `recovery bench ${run}: ${String(RATE)} records/s, ${String(PARTITIONS)} partitions, two members, ${WORK_MS} ms per record\n`,
);
for (const [i, settings] of selected.entries()) {
  process.stderr.write(`  ${settings.name} ...\n`);
  const row = await oneCase(settings, i);
  process.stderr.write(
    `    back ${seconds(row.back)} s, drained ${seconds(row.drained)} s, peak lag ${String(row.peakLag)}\n`,
  );
  rows.push(row);
}
const header = [
  "case",
  "session / heartbeat",
  "membership",
  "stop",
  "restart",
  "back (s)",
  "lag drained (s)",
  "peak lag",
];
const lines = rows.map((r) => [
  r.case,
  `${String(r.session / 1000)} s / ${String(r.heartbeat / 1000)} s`,
  r.membership,
  r.stop,
  r.restart,
  seconds(r.back),
  seconds(r.drained),
  String(r.peakLag),
]);
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
const format = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
process.stdout.write(`${format(header)}\n${format(widths.map((w) => "-".repeat(w)))}\n`);
for (const l of lines) process.stdout.write(`${format(l)}\n`);
