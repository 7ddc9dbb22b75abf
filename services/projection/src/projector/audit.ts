import { retryOf, type RetryKind } from "@parley/errors";
import type { EventOf } from "@parley/contracts";
import { auditEntryOf } from "../audit/entry.js";
import type { AuditLog } from "../audit/ports.js";
import type { Consumed, Projector } from "./projector.js";

const RANK: Readonly<Record<RetryKind, number>> = { outage: 0, bounded: 1, never: 2 };

/**
 * The projector with the audit read model beside it: AuditRecorded events are appended to the
 * generation's audit log (idempotent by event id), every other event goes to the read models.
 * Both run at once; the most retriable failure wins (an outage first), like the projector's own.
 */
export function withAuditLog(projector: Projector, log: AuditLog, generation: number): Projector {
  return {
    async apply(events: readonly Consumed[]) {
      const audits: EventOf<"AuditRecorded">[] = [];
      const rest: Consumed[] = [];
      for (const item of events) {
        if (item.event.type === "AuditRecorded") audits.push(item.event);
        else rest.push(item);
      }
      const calls: Promise<void>[] = [];
      if (rest.length > 0) calls.push(projector.apply(rest));
      if (audits.length > 0) calls.push(log.append(generation, audits.map(auditEntryOf)));
      let failure: { error: unknown } | undefined;
      for (const result of await Promise.allSettled(calls)) {
        if (result.status === "fulfilled") continue;
        const error: unknown = result.reason;
        if (failure === undefined || RANK[retryOf(error)] < RANK[retryOf(failure.error)])
          failure = { error };
      }
      if (failure !== undefined) throw failure.error;
    },
  };
}
