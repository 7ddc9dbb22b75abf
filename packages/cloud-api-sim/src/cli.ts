#!/usr/bin/env node
// parley-cloud-api-sim: runs the simulator as an HTTP server. Secrets come from the environment
// (or a config file), never from flags, so they do not show up in `ps`; neither is ever printed.
import { readFileSync } from "node:fs";
import { maskPhoneNumber } from "@parley/cloud-api";
import { CliUsageError, HELP, parseCli, simulatorFor } from "./cli-options.js";
import { serveSimulator } from "./server.js";

async function main(): Promise<void> {
  let config;
  try {
    config = parseCli(process.argv.slice(2), process.env, (p) => readFileSync(p, "utf8"));
  } catch (e) {
    if (!(e instanceof CliUsageError)) throw e;
    process.stderr.write(`parley-cloud-api-sim: ${e.message}\n\n${HELP}`);
    process.exit(2);
  }
  if (config.help) {
    process.stdout.write(HELP);
    return;
  }
  const sim = simulatorFor(config);
  const server = await serveSimulator(sim, {
    port: config.port,
    host: config.host,
    ...(config.controlToken !== undefined ? { controlToken: config.controlToken } : {}),
  });

  const log = (msg: string): void => {
    process.stdout.write(`${new Date().toISOString()} parley-cloud-api-sim ${msg}\n`);
  };
  log(
    `listening on ${server.url} phone_number_id=${sim
      .stats()
      .map((n) => `${n.phoneNumberId}(${n.throughputMps} msg/s)`)
      .join(",")} waba_id=${sim.defaultWabaId} ` +
      `webhooks=${config.webhookUrls.join(",") || "(none)"} clock=${config.manualClock ? "manual" : "system"} ` +
      "token=(set) app_secret=(set)",
  );
  for (let i = 0; i < config.users; i++) {
    const waId = `1650555${String(1000 + i).padStart(4, "0")}`;
    sim.addUser({ waId, name: `Simulated User ${i + 1}` });
    sim.userSends(waId, { type: "text", body: "Hello from the simulator" });
    log(`simulated user ${maskPhoneNumber(waId)} said hello`);
  }

  const stop = (): void => {
    log("stopping");
    void server
      .close()
      .then(() => sim.stop())
      .then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

void main().catch((e: unknown) => {
  process.stderr.write(`parley-cloud-api-sim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
