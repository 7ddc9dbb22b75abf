import type { EventOf } from "@parley/contracts";

/**
 * One entry of the audit read model: an AuditRecorded event as stored, keyed by its event id.
 * Append-only and a function of the event alone (no clock, no other event), so applying it
 * again changes nothing and a rebuild from the log gives the same documents (invariant 11).
 */
export interface AuditEntry {
  /** The event id. */
  readonly _id: string;
  /** When the operation happened (the event's occurredAt): the list's sort key. */
  readonly at: string;
  readonly action: string;
  /** The action's first segment (`consent` of `consent.erased`): the `consent.*` filter. */
  readonly area: string;
  readonly service: string;
  readonly actorId: string;
  readonly authMethod: string;
  readonly role?: string;
  readonly method?: string;
  readonly route?: string;
  readonly status?: number;
  readonly target: Readonly<Record<string, string>>;
  /** Every value of `target`, de-duplicated and sorted: the `target` filter (resource or subject). */
  readonly targetValues: readonly string[];
  readonly details?: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  readonly correlationId: string;
}

/** The entry an AuditRecorded event makes. */
export function auditEntryOf(event: EventOf<"AuditRecorded">): AuditEntry {
  const { data } = event;
  return {
    _id: event.eventId,
    at: event.occurredAt,
    action: data.action,
    area: data.action.split(".")[0] ?? data.action,
    service: data.service,
    actorId: data.actorId,
    authMethod: data.authMethod,
    ...(data.role === undefined ? {} : { role: data.role }),
    ...(data.method === undefined ? {} : { method: data.method }),
    ...(data.route === undefined ? {} : { route: data.route }),
    ...(data.status === undefined ? {} : { status: data.status }),
    target: { ...data.target },
    targetValues: [...new Set(Object.values(data.target))].sort(),
    ...(data.details === undefined ? {} : { details: data.details }),
    correlationId: event.correlationId,
  };
}
