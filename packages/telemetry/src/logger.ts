import { isSpanContextValid, trace } from "@opentelemetry/api";
import {
  pino,
  type Bindings,
  type ChildLoggerOptions,
  type DestinationStream,
  type Logger as PinoLogger,
} from "pino";
import { REDACTED, scrub, scrubText } from "./redact.js";

export type Logger = PinoLogger;
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface CreateLoggerOptions {
  /** Becomes the `service` field of every line. */
  service: string;
  level: LogLevel;
  /** Where lines go; stdout when omitted. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

/*
 * The exact places secrets are known to sit. The key scan in `scrub` finds the rest; these paths
 * stay as a second, independent line of defence.
 */
const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["proxy-authorization"]',
  'req.headers["x-hub-signature-256"]',
  'res.headers["set-cookie"]',
  "headers.authorization",
  "headers.cookie",
  "*.headers.authorization",
  "config.headers.Authorization",
  "*.accessToken",
  "*.appSecret",
  "*.password",
  "*.token",
  "*.secret",
  "accessToken",
  "appSecret",
  "password",
  "token",
  "secret",
];

function scrubRecord(value: Record<string, unknown>): Record<string, unknown> {
  return scrub(value) as Record<string, unknown>;
}

/** Adds the active span's ids so that a log line can be found from its trace and back. */
function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId };
}

type ChildMethod = (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) => Logger;
type SetBindingsMethod = (this: Logger, bindings: Bindings) => void;

/*
 * pino serialises child bindings once, at child() time, without the log formatter; wrapping
 * child() and setBindings() on the root (children inherit both) puts bindings through the same scrub.
 */
function scrubBindingsOf(logger: Logger): void {
  const { child, setBindings } = Object.getPrototypeOf(logger) as {
    child: ChildMethod;
    setBindings: SetBindingsMethod;
  };
  Object.defineProperty(logger, "child", {
    configurable: true,
    writable: true,
    value: function scrubbedChild(this: Logger, bindings: Bindings, options?: ChildLoggerOptions) {
      return child.call(this, scrubRecord(bindings), options);
    },
  });
  Object.defineProperty(logger, "setBindings", {
    configurable: true,
    writable: true,
    value: function scrubbedSetBindings(this: Logger, bindings: Bindings) {
      setBindings.call(this, scrubRecord(bindings));
    },
  });
}

/**
 * A pino logger whose every line is structured JSON with `service`, an ISO `time`, the level as
 * a label and, inside an active span, `trace_id` and `span_id`. Secrets are censored and phone
 * numbers masked in fields, nested objects, errors, child bindings and the message itself.
 */
export function createLogger({
  service,
  level,
  destination = pino.destination(1),
}: CreateLoggerOptions): Logger {
  const logger = pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: "msg",
      errorKey: "err",
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      mixin: traceFields,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: scrubRecord,
        // Runs on the whole merged object before serializers and redaction; Errors become plain objects here.
        log: scrubRecord,
      },
      serializers: {
        err: (value: unknown) => value,
        msg: (value: unknown) => (typeof value === "string" ? scrubText(value) : value),
      },
    },
    destination,
  );
  scrubBindingsOf(logger);
  return logger;
}
