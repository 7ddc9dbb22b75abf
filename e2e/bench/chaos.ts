// `make chaos` (issue 26, docs/reliability.md): the full run at the rates, 500 send
// requests/s and 200 inbound webhooks/s (with the sends' statuses on top), for CHAOS_LOAD_S
// (240 s) while the fault schedule of e2e/src/chaos/run.ts runs (SIGKILL of each service in turn,
// router and sender twice so that kills rebalance, a Kafka broker restart, MongoDB stopped 30 s
// with the durable server, Graph 5xx and timeouts, Graph delay), then the checker's table.
// Exits 1 when a row fails. Run with bench/chaos.sh (it starts the registry when none is given);
// CHAOS_PRESET=short: the short run (20 sends/s, 10 webhooks/s, 40 s, MongoDB out 10 s, no
// broker restart). CHAOS_PRESET=ci: what `make test-long` runs (e2e/src/chaos.long.spec.ts: the short
// rates, one router and one sender each killed once, a simulator 5xx burst, MongoDB stopped and
// started; the environment's broker). CHAOS_PRESET=cluster: the three-node Kafka cluster (RF 3,
// min.insync.replicas 2) with one node SIGKILLed under load and back on its data.
import { loadavg, cpus } from "node:os";
import { CHAOS_PRESETS, formatReport, runChaos, type FaultName } from "../dist/chaos/index.js";

const preset = process.env["CHAOS_PRESET"] ?? "full";
const base = CHAOS_PRESETS[preset];
if (base === undefined)
  throw new Error(`CHAOS_PRESET=${preset}: one of ${Object.keys(CHAOS_PRESETS).join(", ")}`);
const env = (name: string, value: number | undefined): number | undefined =>
  process.env[name] === undefined ? value : Number(process.env[name]);
const registry = process.env["SCHEMA_REGISTRY_URL"];
if (registry === undefined)
  throw new Error("SCHEMA_REGISTRY_URL is not set (bench/chaos.sh sets it)");
const faults = process.env["CHAOS_FAULTS"]?.split(",") as FaultName[] | undefined;
const options = {
  ...base,
  name: preset,
  sendsPerS: env("CHAOS_SENDS_PER_S", base.sendsPerS) ?? 0,
  webhooksPerS: env("CHAOS_WEBHOOKS_PER_S", base.webhooksPerS) ?? 0,
  loadS: env("CHAOS_LOAD_S", base.loadS) ?? 0,
  brokerRestart: (process.env["CHAOS_BROKER_RESTART"] ?? (base.brokerRestart ? "1" : "0")) !== "0",
  mongoOutageS: env("CHAOS_MONGO_OUTAGE_S", base.mongoOutageS) ?? 0,
  kafkaPort: env("CHAOS_KAFKA_PORT", base.cluster ? 55292 : 55092) ?? 55092,
  mongoPort: env("CHAOS_MONGO_PORT", 55017) ?? 55017,
  schemaRegistryUrl: registry,
  numbers: env("CHAOS_NUMBERS", base.numbers) ?? 0,
  mps: env("CHAOS_MPS", base.mps) ?? 0,
  contacts: env("CHAOS_CONTACTS", base.contacts) ?? 0,
  settleTimeoutS: env("CHAOS_SETTLE_S", base.settleTimeoutS) ?? 0,
  ...(faults ? { faults } : {}),
};
const load0 = loadavg()[0] ?? 0;
const result = await runChaos(options);
console.log(
  `chaos run ${new Date().toISOString()}: ${String(cpus().length)} cores, load average ${load0.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)}; ` +
    `${String(options.sendsPerS)} sends/s and ${String(options.webhooksPerS)} webhooks/s for ${String(options.loadS)} s: ` +
    `${String(result.sent)} send requests (${String(result.sendFailures)} refused by the client while Kafka was away), ` +
    `${String(result.webhooks)} user webhooks; wall ${result.wallS.toFixed(0)} s`,
);
console.log("faults:");
for (const f of result.faults) console.log(`  ${f}`);
console.log(formatReport(result.report));
process.exitCode = result.report.ok ? 0 : 1;
