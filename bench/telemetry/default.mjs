// bench/telemetry-cost.sh, variant "default": the SDK on without an exporter (spans made and
// dropped), as a service runs without OTEL_EXPORTER_OTLP_ENDPOINT. Started before the module it
// measures, as a service's instrument.ts is; the service's own start then keeps this instance.
import { startTelemetry } from "./telemetry.mjs";

startTelemetry({ serviceName: "bench" });
