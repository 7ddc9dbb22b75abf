// bench/telemetry-cost.sh, variant "export": spans exported over OTLP/HTTP to the sink the
// script runs (bench/otlp-sink.mjs on 127.0.0.1:47199).
import { startTelemetry } from "./telemetry.mjs";

startTelemetry({ serviceName: "bench", otlpEndpoint: "http://127.0.0.1:47199" });
