// The short chaos run in `make test` (issue 26: "a shortened run is part of make test, so CI
// keeps it true"; docs/reliability.md): CHAOS_PRESETS.e2e, 20 s of load at the ci preset's rates
// (20 send requests/s, 10 user webhooks/s and their statuses), a SIGKILL of the sender and of the
// router (each started again 1 s later), the simulator answering 5xx and timeouts, MongoDB (its
// own durable server on a free port, or CHAOS_E2E_MONGO_PORT) stopped 10 s and started on its
// data, then the whole checker. Kafka and the registry are the suite's (namespaced; never
// restarted). The longer `ci` preset is `make test-long`'s (chaos.long.spec.ts).
import { loadavg } from "node:os";
import { afterAll, describe, expect, it } from "vitest";
import { CHAOS_PRESETS, ChaosTeardown, formatReport, runChaos } from "./chaos/index.js";
import { freePort } from "./processes.js";

describe("chaos (the make test preset)", () => {
  // A run that meets the test's timeout is abandoned by vitest (its `finally` never runs): this
  // hook SIGKILLs what it started (services, its servers' process groups) and removes its data.
  const teardown = new ChaosTeardown((line) => process.stderr.write(`[chaos] ${line}\n`));
  afterAll(() => teardown.run(), 120_000);
  it(
    "under load, with the router and the sender killed, Graph failing and MongoDB stopped, every row of the checker passes",
    async () => {
      const registry = process.env["SCHEMA_REGISTRY_URL"];
      if (registry === undefined) throw new Error("SCHEMA_REGISTRY_URL is not set");
      const preset = CHAOS_PRESETS["e2e"];
      if (preset === undefined) throw new Error("no e2e preset");
      const load0 = loadavg()[0] ?? 0;
      const result = await runChaos({
        ...preset,
        name: "e2e",
        mongoPort: Number(process.env["CHAOS_E2E_MONGO_PORT"] ?? (await freePort())),
        schemaRegistryUrl: registry,
        teardown,
      });
      const table = formatReport(result.report);
      process.stderr.write(
        `[chaos] e2e preset: ${String(result.sent)} send requests, ${String(result.webhooks)} user webhooks, ` +
          `wall ${result.wallS.toFixed(0)} s (load average ${load0.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)})\n` +
          `${result.faults.join("\n")}\n${table}\n`,
      );
      expect(result.faults.length).toBe(4);
      expect(result.sent).toBeGreaterThan(0);
      expect(result.webhooks).toBeGreaterThan(0);
      // Every row, the MongoDB catch-up included, is in the table.
      const checks = result.report.rows.map((r) => r.check);
      for (const g of ["router", "projection"])
        expect(
          checks.some((c) => c.startsWith(`caught up after: MongoDB stopped 10 s (${g}`)),
        ).toBe(true);
      expect(result.report.ok, table).toBe(true);
    },
    Number(process.env["CHAOS_E2E_TIMEOUT_S"] ?? 900) * 1_000,
  );
});
