// One member of the consumer group that packages/kafka/bench/recovery.mjs kills and restarts:
// a consumer runner of @parley/kafka (built: pnpm exec tsc -b packages/kafka) whose handler
// spends WORK_MS per record. Group settings come through the client, as in the services.
import { setTimeout as sleep } from "node:timers/promises";
import { createConsumerRunner, createKafka } from "@parley/kafka";

const env = (name) => {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`recovery-member: ${name} is required`);
  return value;
};
const work = Number(process.env["WORK_MS"] ?? "2");
const instanceId = process.env["INSTANCE_ID"] || undefined;
const kafka = createKafka({
  brokers: env("KAFKA_BROKERS").split(","),
  clientId: env("MEMBER"),
  group: {
    sessionTimeoutMs: Number(env("SESSION_TIMEOUT_MS")),
    heartbeatIntervalMs: Number(env("HEARTBEAT_INTERVAL_MS")),
    instanceId,
  },
});
const runner = createConsumerRunner({
  kafka,
  groupId: env("GROUP_ID"),
  topics: [env("TOPIC")],
  deadLetterTopic: env("DLQ_TOPIC"),
  decode: (record) => record.value,
  handle: () => sleep(work),
  commitIntervalMs: 250,
  fromBeginning: true,
});
await runner.start();
process.stdout.write("started\n");
process.on("SIGTERM", () => {
  void runner.stop().then(() => process.exit(0));
});
