import { Module, createRequire, syncBuiltinESMExports } from "node:module";
import { type Context, DiagConsoleLogger, diag } from "@opentelemetry/api";
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
  diagLogLevelFromString,
  getBooleanFromEnv,
  getStringFromEnv,
  setGlobalErrorHandler,
} from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import {
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";

export interface StartTelemetryOptions {
  /** `service.name` on every span, e.g. "ingress". */
  serviceName: string;
  serviceVersion?: string | undefined;
  /**
   * Base URL of an OTLP/HTTP collector (what OTEL_EXPORTER_OTLP_ENDPOINT holds, e.g.
   * "http://127.0.0.1:4318"); traces go to `<endpoint>/v1/traces`. Without it nothing is exported.
   */
  otlpEndpoint?: string | undefined;
  /** Deployment environment ("production", "dev"), recorded as `deployment.environment.name`. */
  env?: string | undefined;
  /**
   * Called when spans cannot be exported (collector down, rejected batch). Defaults to a process
   * warning; a service may pass `(err) => logger.warn({ err }, "trace export failed")`.
   */
  onError?: (error: unknown) => void;
  /** Incoming request paths that get no span (probes and scrapes). */
  ignoreIncomingPaths?: readonly string[];
}

export interface Telemetry {
  /** Whether spans are exported, and where. */
  readonly tracesEndpoint: string | undefined;
  /**
   * Flushes buffered spans, then ends the tracer provider; safe to call twice. Rejects with the export error
   * when the last flush fails (collector down), within about EXPORT_TIMEOUT_MS.
   */
  shutdown(): Promise<void>;
}

/** Bounds one export, hence the flush in shutdown(), well inside a service's shutdown budget. */
const EXPORT_TIMEOUT_MS = 5_000;

const OPS_PATHS = ["/healthz", "/readyz", "/metrics"];

/** Query parameters whose values never go into a span's URL attributes. */
const SECRET_QUERY_PARAMS = [
  "hub.verify_token",
  "access_token",
  "token",
  "secret",
  "signature",
  "appsecret_proof",
  "sig",
  "Signature",
  "AWSAccessKeyId",
  "X-Goog-Signature",
  "X-Amz-Signature",
  "X-Amz-Credential",
  "X-Amz-Security-Token",
];

/**
 * Keeps the tracer provider alive without an exporter: spans still get real ids, so logs carry
 * trace ids and traceparent headers propagate, but nothing leaves the process.
 */
class DiscardingSpanProcessor implements SpanProcessor {
  onStart(_span: Span, _parentContext: Context): void {
    // nothing to record
  }
  onEnd(_span: ReadableSpan): void {
    // nothing to export
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function tracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, "");
  return base.endsWith("/v1/traces") ? base : `${base}/v1/traces`;
}

/** `url` with the values of secret query parameters replaced, for span attributes. */
export function redactUrl(url: URL): { full: string; query: string } {
  const copy = new URL(url.toString());
  for (const name of SECRET_QUERY_PARAMS) {
    if (copy.searchParams.has(name)) copy.searchParams.set(name, "REDACTED");
  }
  return { full: copy.toString(), query: copy.search };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return "";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/*
 * The http instrumentation patches node:http when it is next require()d. In an ES module service
 * that may never happen (ESM imports of builtins bypass require hooks), so require both modules
 * here, then refresh the ESM named exports so `import { request } from "node:http"` sees the patch.
 */
function patchLoadedHttp(): void {
  const require = createRequire(import.meta.url);
  require("node:http");
  require("node:https");
  syncBuiltinESMExports();
}

/*
 * Constructing an instrumentation installs require-in-the-middle over Module.prototype.require
 * for the life of the process. It resolves the filename of every later require() to see whether
 * that module is one to patch, and kafkajs require()s its protocol files on every request: in
 * the sender that was 5 % of the CPU at 1,000 sends/s and 12 % at 80. The only modules we
 * instrument, http and https, are patched in place by the time this runs, so the plain require
 * goes back.
 */
const moduleProto = Module.prototype as { require: unknown };

function warnExportFailure(error: unknown): void {
  const detail = error instanceof Error ? error.message : String(error);
  process.emitWarning(`OpenTelemetry: ${detail}`, { code: "PARLEY_TELEMETRY_EXPORT_FAILED" });
}

let current: Telemetry | undefined;

/**
 * Starts OpenTelemetry for this process: a resource naming the service, W3C trace-context and
 * baggage propagation, spans for node's http server and client and for undici (the Graph
 * client, fetch), and OTLP/HTTP export of traces
 * only when `otlpEndpoint` is set. Metrics and logs are not exported through OpenTelemetry
 * (Prometheus and stdout carry them), whatever OTEL_* variables say.
 *
 * Call it before the modules it instruments are loaded; see the README. A second call returns
 * the running instance and emits a warning.
 */
export function startTelemetry({
  serviceName,
  serviceVersion,
  otlpEndpoint,
  env,
  onError = warnExportFailure,
  ignoreIncomingPaths = OPS_PATHS,
}: StartTelemetryOptions): Telemetry {
  if (current !== undefined) {
    process.emitWarning(
      `startTelemetry("${serviceName}") called again; the running instance is kept.`,
      { code: "PARLEY_TELEMETRY_ALREADY_STARTED" },
    );
    return current;
  }
  if (serviceName.trim() === "")
    throw new TypeError("startTelemetry: serviceName must not be empty.");

  const endpoint =
    otlpEndpoint === undefined || otlpEndpoint.trim() === "" ? undefined : tracesUrl(otlpEndpoint);
  const ignored = new Set(ignoreIncomingPaths);

  const logLevel = getStringFromEnv("OTEL_LOG_LEVEL");
  if (logLevel !== undefined)
    diag.setLogger(new DiagConsoleLogger(), diagLogLevelFromString(logLevel));
  if (getBooleanFromEnv("OTEL_SDK_DISABLED")) {
    current = { tracesEndpoint: undefined, shutdown: () => Promise.resolve() };
    return current;
  }

  /*
   * The tracer provider, context manager, propagator and http instrumentation, wired by hand:
   * `@opentelemetry/sdk-node` does the same but loads every exporter it could build from OTEL_*
   * variables (gRPC, protobuf, Zipkin, metrics, logs): 3 MB more heap, 4 MB more RSS per service.
   */
  const resource = detectResources({
    detectors: [envDetector, processDetector, hostDetector],
  }).merge(
    resourceFromAttributes({
      [ATTR_SERVICE_NAME]: serviceName,
      "service.namespace": "parley",
      ...(serviceVersion === undefined ? {} : { [ATTR_SERVICE_VERSION]: serviceVersion }),
      ...(env === undefined ? {} : { "deployment.environment.name": env }),
    }),
  );
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [
      endpoint === undefined
        ? new DiscardingSpanProcessor()
        : new BatchSpanProcessor(
            new OTLPTraceExporter({ url: endpoint, timeoutMillis: EXPORT_TIMEOUT_MS }),
          ),
    ],
  });
  setGlobalErrorHandler(onError);

  const plainRequire = moduleProto.require;
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => ignored.has(pathOf(request.url)),
        redactedQueryParams: SECRET_QUERY_PARAMS,
        redactedQueryParamsServer: SECRET_QUERY_PARAMS,
      }),
      // undici: the Graph calls and media downloads (@parley/cloud-api's Agent) and fetch(),
      // seen through undici's diagnostics channels. Only inside a trace: the router's periodic
      // template sync would otherwise start a root trace every time.
      new UndiciInstrumentation({
        requireParentforSpans: true,
        startSpanHook: (request) => {
          const url = redactUrl(new URL(request.path, request.origin));
          return { "url.full": url.full, "url.query": url.query };
        },
      }),
    ],
  });
  provider.register({
    propagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  });
  patchLoadedHttp();
  moduleProto.require = plainRequire;

  let stopping: Promise<void> | undefined;
  current = {
    tracesEndpoint: endpoint,
    shutdown: () => (stopping ??= provider.shutdown()),
  };
  return current;
}
