import { config, telemetry } from "./instrument.js";
import { runStandardService } from "@parley/runtime";

// Composition root. The chassis gives sender its logger, metrics, connections with readiness
// checks, ops endpoints and graceful shutdown; its domain work is added here as it is built.
await runStandardService({
  name: "sender",
  config,
  telemetry,
  uses: { kafka: true, registry: true, mongo: true },
});
