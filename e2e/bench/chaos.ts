// `make chaos` (issue 26, docs/reliability.md): the full run at the rates, 500 send
// requests/s and 200 inbound webhooks/s (with the sends' statuses on top), for CHAOS_LOAD_S
// (240 s) while the fault schedule of e2e/src/chaos/run.ts runs (SIGKILL of each service in turn,
// router and sender twice so that kills rebalance, a Kafka broker restart, MongoDB stopped 30 s
// with the durable server, Graph 5xx and timeouts, Graph delay), then the checker's table.
// Exits 1 when a row fails. Run with bench/chaos.sh (it starts the registry when none is given);
// CHAOS_PRESET=short for the short run.
import { loadavg, cpus } from "node:os";
import { formatReport, runChaos } from "../dist/chaos/index.js";

// CHAOS_PRESET=short: the short run (20 sends/s, 10 webhooks/s, 40 s, MongoDB out 10 s, no
// broker restart), meant for `make test` once it passes there (docs/reliability.md).
const short = process.env["CHAOS_PRESET"] === "short";
const env = (name: string, full: string, shortValue: string): number =>
  Number(process.env[name] ?? (short ? shortValue : full));
const registry = process.env["SCHEMA_REGISTRY_URL"];
if (registry === undefined)
  throw new Error("SCHEMA_REGISTRY_URL is not set (bench/chaos.sh sets it)");
const options = {
  name: short ? "short" : "full",
  sendsPerS: env("CHAOS_SENDS_PER_S", "500", "20"),
  webhooksPerS: env("CHAOS_WEBHOOKS_PER_S", "200", "10"),
  loadS: env("CHAOS_LOAD_S", "240", "40"),
  brokerRestart: (process.env["CHAOS_BROKER_RESTART"] ?? (short ? "0" : "1")) !== "0",
  mongoOutageS: env("CHAOS_MONGO_OUTAGE_S", "30", "10"),
  kafkaPort: env("CHAOS_KAFKA_PORT", "55092", "55092"),
  mongoPort: env("CHAOS_MONGO_PORT", "55017", "55017"),
  schemaRegistryUrl: registry,
  numbers: env("CHAOS_NUMBERS", "4", "2"),
  mps: env("CHAOS_MPS", "200", "20"),
  contacts: env("CHAOS_CONTACTS", "6000", "400"),
  settleTimeoutS: env("CHAOS_SETTLE_S", "180", "90"),
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
