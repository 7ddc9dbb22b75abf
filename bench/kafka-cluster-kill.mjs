// Kafka's durability with one node of three SIGKILLed under acks=all load (issue 26; not in
// make test; docs/reliability.md, "The 14 acknowledged records lost on the cluster"). One command:
//   node bench/kafka-cluster-kill.mjs
// It starts its own three-node cluster (infra/native kafka-cluster, profile probe-cluster, ports
// CLUSTER_KILL_PORT.. +5, 55292 by default; its state in .parley/probe-cluster), creates topic
// kill.t (6 partitions, replication factor 3, min.insync.replicas 2, both checked on the broker),
// produces numbered values in batches of 50 (keys 0..49) with an idempotent kafkajs producer
// (acks=all, one request in flight) while it SIGKILLs node 2, then node 3, then node 1
// (CLUSTER_KILLS), one at a time: each kill 8 s after every partition's ISR is whole again, the
// node started again on its data 5 s later while the load goes on; 5 s after the last is back
// the load stops (CLUSTER_KILL_S bounds it: 600 s). Then it reads every partition up to its high
// watermark and lists each acknowledged value missing (and how many were read twice). Exits 1 if
// one is missing; stops its cluster and removes its data at the end.
// Knobs: CLUSTER_KILL_PORT, CLUSTER_KILL_S, CLUSTER_KILLS (e.g. "2" for one kill).
import { createRequire } from "node:module";
import { readFileSync, rmSync } from "node:fs";
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
const repo = new URL("..", import.meta.url).pathname;
const require = createRequire(`${repo}packages/kafka/package.json`);
const { Kafka, logLevel } = require("kafkajs");
const port = Number(process.env.CLUSTER_KILL_PORT ?? 55292);
const loadS = Number(process.env.CLUSTER_KILL_S ?? 600);
const kills = (process.env.CLUSTER_KILLS ?? "2,3,1").split(",").map(Number);
const stateDir = `${repo}.parley/probe-cluster`;
// Its own profile and state directory whatever the shell exported (never the shared servers').
const infraEnv = {
  ...process.env,
  PARLEY_PROFILE: "probe-cluster",
  PARLEY_STATE_DIR: stateDir,
  KAFKA_CLUSTER_PORT: String(port),
  INFRA_START_TIMEOUT: "300",
};
const infra = (args, env = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn("bash", [`${repo}infra/native/infra.sh`, ...args], {
      env: { ...infraEnv, ...env },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`infra.sh ${args.join(" ")}: ${code}`)),
    );
  });
const t0 = Date.now();
const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

await infra(["start", "kafka-cluster"]);
const brokers = [0, 2, 4].map((d) => `127.0.0.1:${port + d}`);
const kafka = new Kafka({
  brokers,
  clientId: "cluster-kill",
  logLevel: logLevel.NOTHING,
  retry: { retries: 30 },
});
const admin = kafka.admin();
let exitCode = 1;
try {
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: "kill.t", numPartitions: 6, replicationFactor: 3 }],
    waitForLeaders: true,
  });
  const meta = await admin.fetchTopicMetadata({ topics: ["kill.t"] });
  const configs = await admin.describeConfigs({
    resources: [
      {
        type: 2,
        name: "kill.t",
        configNames: ["min.insync.replicas", "unclean.leader.election.enable"],
      },
    ],
    includeSynonyms: false,
  });
  console.log(
    `${at()}: kill.t replicas ${JSON.stringify(meta.topics[0].partitions.map((p) => p.replicas))}, ` +
      configs.resources[0].configEntries.map((e) => `${e.configName}=${e.configValue}`).join(", "),
  );
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const acked = [];
  let next = 0;
  let failed = 0;
  // One node down at a time: each kill waits for the previous node to be back and every
  // partition's ISR to be whole again (two down of three would stop acks=all, min ISR 2).
  const isrWhole = async () =>
    (await admin.fetchTopicMetadata({ topics: ["kill.t"] })).topics[0].partitions.every(
      (x) => x.isr.length === 3,
    );
  const schedule = (async () => {
    for (const node of kills) {
      await sleep(8_000);
      while (!(await isrWhole().catch(() => false))) await sleep(1_000);
      const pid = Number(readFileSync(`${stateDir}/run/kafka-node-${node}.pid`, "utf8"));
      const leaders = (await admin.fetchTopicMetadata({ topics: ["kill.t"] })).topics[0].partitions
        .filter((x) => x.leader === node)
        .map((x) => x.partitionId);
      process.kill(pid, "SIGKILL");
      console.log(
        `${at()}: SIGKILL node ${node} (leader of ${leaders.join(",")}) at value ${next}`,
      );
      await sleep(5_000);
      await infra(["start", `kafka-node-${node}`], { KAFKA_KEEP_DATA: "1" });
      console.log(`${at()}: node ${node} back at value ${next}`);
    }
    await sleep(5_000);
  })();
  let scheduleDone = false;
  schedule.finally(() => (scheduleDone = true)).catch(() => undefined);
  const loadStart = Date.now();
  while (!scheduleDone && Date.now() - loadStart < loadS * 1_000) {
    const values = Array.from({ length: 50 }, (_, i) => next + i);
    try {
      await p.send({
        topic: "kill.t",
        acks: -1,
        messages: values.map((v, i) => ({ key: String(i), value: String(v) })),
      });
      acked.push(...values);
    } catch (error) {
      failed++;
      console.log(`${at()}: batch from ${next} failed: ${error.message}`);
    }
    next += 50;
  }
  await schedule;
  console.log(`${at()}: acknowledged ${acked.length} values, ${failed} batches failed`);
  await p.disconnect();
  // Every partition read up to its high watermark (the end of what the cluster committed).
  const ends = await admin.fetchTopicOffsets("kill.t");
  const c = kafka.consumer({ groupId: `kill.g.${Date.now()}` });
  await c.connect();
  await c.subscribe({ topic: "kill.t", fromBeginning: true });
  const seen = new Map();
  const reached = new Map();
  await c.run({
    eachMessage: async ({ partition, message }) => {
      const v = message.value.toString();
      seen.set(v, (seen.get(v) ?? 0) + 1);
      reached.set(partition, Number(message.offset) + 1);
    },
  });
  const done = () => ends.every((e) => (reached.get(e.partition) ?? 0) >= Number(e.high));
  const until = Date.now() + 120_000;
  while (Date.now() < until && !done()) await sleep(500);
  await c.disconnect();
  const missing = acked.filter((v) => !seen.has(String(v)));
  const twice = [...seen.values()].filter((n) => n > 1).length;
  const isr = (await admin.fetchTopicMetadata({ topics: ["kill.t"] })).topics[0].partitions.map(
    (x) => x.isr,
  );
  console.log(
    JSON.stringify({
      acked: acked.length,
      read: seen.size,
      readToHighWatermark: done(),
      missing: missing.length,
      missingValues: missing.slice(0, 50),
      readTwice: twice,
      isr,
    }),
  );
  exitCode = missing.length === 0 && done() ? 0 : 1;
} finally {
  await admin.disconnect().catch(() => undefined);
  await infra(["stop", "kafka-cluster"]).catch(() => undefined);
  rmSync(`${stateDir}/kafka-cluster`, { recursive: true, force: true });
}
process.exit(exitCode);
