// bench/telemetry-cost.sh, variant "off": no OpenTelemetry SDK in this process.
process.env.OTEL_SDK_DISABLED = "true";
