// The chaos run in `make test` (issue 26, docs/reliability.md): CHAOS_PRESETS.ci, the short
// run's load (20 send requests/s, 10 user webhooks/s and their statuses, 40 s) with fewer faults
// (a SIGKILL of the router and of the sender, each back 1 s later; the simulator answering 5xx and
// timeouts; MongoDB stopped 10 s and started on its data), then the whole checker. Kafka and the
// registry are the suite's (namespaced; the run never restarts them); MongoDB is its own durable
// server, on a free port (or CHAOS_CI_MONGO_PORT), since the run stops it.
import { afterAll, describe, expect, it } from "vitest";
import { CHAOS_PRESETS, ChaosTeardown, formatReport, runChaos } from "./chaos/index.js";
import { freePort } from "./processes.js";

describe("chaos (the CI preset)", () => {
  // A run that meets the test's timeout is abandoned by vitest (its `finally` never runs): this
  // hook SIGKILLs what it started (services, its servers' process groups) and removes its data.
  const teardown = new ChaosTeardown((line) => process.stderr.write(`[chaos] ${line}\n`));
  afterAll(() => teardown.run(), 120_000);
  it(
    "under load, with the router and the sender killed, Graph failing and MongoDB stopped, every row of the checker passes",
    async () => {
      const registry = process.env["SCHEMA_REGISTRY_URL"];
      if (registry === undefined) throw new Error("SCHEMA_REGISTRY_URL is not set");
      const preset = CHAOS_PRESETS["ci"];
      if (preset === undefined) throw new Error("no ci preset");
      const result = await runChaos({
        ...preset,
        name: "ci",
        mongoPort: Number(process.env["CHAOS_CI_MONGO_PORT"] ?? (await freePort())),
        schemaRegistryUrl: registry,
        teardown,
      });
      const table = formatReport(result.report);
      process.stderr.write(
        `[chaos] ci preset: ${String(result.sent)} send requests, ${String(result.webhooks)} user webhooks, wall ${result.wallS.toFixed(0)} s\n${result.faults.join("\n")}\n${table}\n`,
      );
      expect(result.faults.length).toBe(4);
      expect(result.sent).toBeGreaterThan(0);
      expect(result.report.ok, table).toBe(true);
    },
    Number(process.env["CHAOS_CI_TIMEOUT_S"] ?? 900) * 1_000,
  );
});
