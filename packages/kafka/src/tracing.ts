import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import { randomBytes } from "node:crypto";
import type { IHeaders } from "kafkajs";

const tracer = () => trace.getTracer("@parley/kafka");

type HeaderBag = Record<string, string>;
const setter: TextMapSetter<HeaderBag> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
const getter: TextMapGetter<IHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : first.toString();
  },
};

/**
 * W3C trace context (traceparent, tracestate, baggage) of `ctx` as Kafka headers. When there is
 * none to carry (the calling application registered no OpenTelemetry SDK, so its spans are not
 * recorded), a new root `traceparent` is written, not sampled, so the services downstream still
 * join one trace per record and logs carry its id (invariant 12).
 */
export function traceHeaders(ctx: Context = context.active()): HeaderBag {
  const bag: HeaderBag = {};
  propagation.inject(ctx, bag, setter);
  if (bag["traceparent"] === undefined) bag["traceparent"] = rootTraceparent();
  return bag;
}

/** A fresh W3C traceparent: version 00, random trace and span ids, flags 00 (not sampled). */
export function rootTraceparent(): string {
  const hex = (bytes: number): string => {
    let out = "";
    while (out.length < bytes * 2 || /^0+$/.test(out)) {
      out = randomBytes(bytes).toString("hex");
    }
    return out;
  };
  return `00-${hex(16)}-${hex(8)}-00`;
}

export function extractContext(headers: IHeaders | undefined): Context {
  return propagation.extract(context.active(), headers ?? {}, getter);
}

/** Runs `work` in a PRODUCER span for `topic`; the span's context goes into the records' headers. */
export async function withProducerSpan<T>(
  topic: string,
  count: number,
  work: (headers: HeaderBag) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(
    `${topic} publish`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.batch.message_count": count,
      },
    },
    async (span) => finish(span, () => work(traceHeaders())),
  );
}

/**
 * Whether consumer spans are made for records whose trace is sampled (the default). A process
 * whose spans go nowhere (no exporter: the chassis sets this from its telemetry) makes none: the
 * record's own trace context is the active one while it is handled, so logs carry its trace id
 * and what the handler publishes stays in its trace, without a span object per record.
 */
let consumerSpansExported = true;

/** Sets whether consumer spans are exported (see above); the chassis calls it once at start. */
export function setConsumerSpansExported(exported: boolean): void {
  consumerSpansExported = exported;
}

/**
 * Whether a record with the trace context `parent` gets a span of its own: only when spans are
 * exported and the record's trace is sampled (or it carries none: a root span, sampled or not
 * by the tracer provider). An unsampled parent's child would be a non-recording span anyway.
 */
export function consumerSpanWanted(parent: Context): boolean {
  if (!consumerSpansExported) return false;
  const remote = trace.getSpanContext(parent);
  if (remote === undefined || !trace.isSpanContextValid(remote)) return true;
  return (remote.traceFlags & TraceFlags.SAMPLED) !== 0;
}

/**
 * Runs `work` in a CONSUMER span whose parent is the trace context carried by the record; when
 * no span is wanted (consumerSpanWanted), in that trace context itself, with no span object.
 */
export async function withConsumerSpan<T>(
  record: { topic: string; partition: number; offset: string; headers?: IHeaders },
  groupId: string,
  work: () => Promise<T>,
): Promise<T> {
  const parent = extractContext(record.headers);
  if (!consumerSpanWanted(parent)) return context.with(parent, work);
  return tracer().startActiveSpan(
    `${record.topic} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "kafka",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": String(record.partition),
        "messaging.kafka.offset": Number(record.offset),
        "messaging.consumer.group.name": groupId,
      },
    },
    parent,
    async (span) => finish(span, work),
  );
}

async function finish<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}
