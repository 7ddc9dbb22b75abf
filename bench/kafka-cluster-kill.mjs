// Kafka's durability with one node of three SIGKILLed under acks=all load (issue 26; not in
// make test). Needs the three-node cluster of infra/native (profile probe-cluster, 55292..55297):
//   PARLEY_PROFILE=probe-cluster KAFKA_CLUSTER_PORT=55292 infra/native/infra.sh start kafka-cluster
//   PARLEY_PROFILE=probe-cluster KAFKA_CLUSTER_PORT=55292 node bench/kafka-cluster-kill.mjs
// It creates topic kill.t (6 partitions, RF 3, min ISR 2), produces batches of 50 with an
// idempotent kafkajs producer (acks=all) for 40 s, SIGKILLs node 2 after 10 s, starts it again on
// its data, then reads everything back and lists every acknowledged value that is missing.
import { createRequire } from "node:module";
import { setTimeout } from "node:timers";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
const repo = new URL("..", import.meta.url).pathname;
const require = createRequire(`${repo}packages/kafka/package.json`);
const { Kafka, logLevel } = require("kafkajs");
const brokers = ["127.0.0.1:55292", "127.0.0.1:55294", "127.0.0.1:55296"];
const kafka = new Kafka({
  brokers,
  clientId: "cluster-kill",
  logLevel: logLevel.NOTHING,
  retry: { retries: 30 },
});
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: "kill.t", numPartitions: 6 }], waitForLeaders: true });
const meta = await admin.fetchTopicMetadata({ topics: ["kill.t"] });
console.log("replicas", JSON.stringify(meta.topics[0].partitions.map((p) => p.replicas)));
const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await p.connect();
let acked = 0,
  failed = 0;
const t0 = Date.now();
let killed = false;
const pidFile = `${repo}.parley/probe-cluster/run/kafka-node-2.pid`;
while (Date.now() - t0 < 40_000) {
  if (!killed && Date.now() - t0 > 10_000) {
    process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
    killed = true;
    console.log("killed node 2 at", acked);
  }
  try {
    await p.send({
      topic: "kill.t",
      acks: -1,
      messages: Array.from({ length: 50 }, (_, i) => ({
        key: String(i),
        value: String(acked + i),
      })),
    });
    acked += 50;
  } catch {
    failed++;
  }
}
console.log("produced (acked)", acked, "failed batches", failed);
await p.disconnect();
execFileSync("bash", [`${repo}infra/native/infra.sh`, "start", "kafka-node-2"], {
  env: {
    ...process.env,
    PARLEY_PROFILE: "probe-cluster",
    KAFKA_CLUSTER_PORT: "55292",
    KAFKA_KEEP_DATA: "1",
    INFRA_START_TIMEOUT: "300",
  },
  stdio: "inherit",
});
const c = kafka.consumer({ groupId: "kill.g" });
await c.connect();
await c.subscribe({ topic: "kill.t", fromBeginning: true });
const seen = new Set();
await c.run({
  eachMessage: async ({ message }) => {
    seen.add(message.value.toString());
  },
});
const end = Date.now() + 60_000;
while (Date.now() < end && seen.size < acked) await new Promise((r) => setTimeout(r, 500));
const missing = [];
for (let i = 0; i < acked; i++) if (!seen.has(String(i))) missing.push(i);
const meta2 = await admin.fetchTopicMetadata({ topics: ["kill.t"] });
console.log(
  JSON.stringify({
    acked,
    read: seen.size,
    missing,
    isr: meta2.topics[0].partitions.map((p) => p.isr),
  }),
);
await c.disconnect();
await admin.disconnect();
process.exit(0);
