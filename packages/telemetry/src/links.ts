import { isSpanContextValid, trace, TraceFlags, type Attributes } from "@opentelemetry/api";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The active span's W3C traceparent, to store beside something a later, separate piece of work
 * will find (a send's attempt, found again by its status webhooks); undefined outside a span.
 */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  if (!isSpanContextValid(span.spanContext())) return undefined;
  return `00-${traceId}-${spanId}-0${(traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

/**
 * Links the active span to the span a stored traceparent names (a status webhook's processing
 * to the send it reports on): the two stay separate traces, and a trace viewer goes from one
 * to the other. Returns whether a link was added (not without an active, recording span or
 * with a malformed traceparent).
 */
export function linkActiveSpan(
  traceparent: string | undefined,
  attributes: Attributes = {},
): boolean {
  const span = trace.getActiveSpan();
  const parts = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  if (span === undefined || !span.isRecording() || parts === null) return false;
  const [, traceId = "", spanId = "", flags = "00"] = parts;
  const context = { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
  if (!isSpanContextValid(context)) return false;
  span.addLink({ context, attributes });
  return true;
}
