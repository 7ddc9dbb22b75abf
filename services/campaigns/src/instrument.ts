// Imported first by main.ts: configuration is parsed and OpenTelemetry started before any
// instrumented library (http, express, kafkajs, mongodb) is loaded.
import { loadConfigOrExit } from "@parley/config";
import { startTelemetry } from "@parley/telemetry";
import { configSchema } from "./config.js";

export const config = loadConfigOrExit(configSchema, { service: "campaigns" });
export const telemetry = startTelemetry({
  serviceName: "campaigns",
  ...(config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
    ? {}
    : { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT }),
});
