import type { EventName, EventOf } from "@parley/contracts";

/**
 * A type guard over the events a consumer takes from its topics. The serde has already checked
 * each record against its topic's contract; this narrows the decoded value to the event types
 * the consumer acts on (the rest of the topic's events are skipped by the caller), so no adapter
 * casts a record's value.
 */
export function eventsOf<const T extends EventName>(
  ...types: readonly T[]
): (value: unknown) => value is EventOf<T> {
  const names: ReadonlySet<string> = new Set(types);
  return (value: unknown): value is EventOf<T> =>
    typeof value === "object" &&
    value !== null &&
    "type" in value &&
    typeof value.type === "string" &&
    names.has(value.type);
}

/** A decoded value's event type, for a dead letter's reason. */
export const typeOf = (value: unknown): string =>
  typeof value === "object" && value !== null && "type" in value
    ? String(value.type)
    : typeof value;
