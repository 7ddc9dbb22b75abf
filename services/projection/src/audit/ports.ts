import type { Cursor } from "../queries/params.js";
import type { AuditEntry } from "./entry.js";

/** A page of the audit log: newest first (by `at`, then event id), equality filters only. */
export interface AuditQuery {
  readonly actorId?: string;
  readonly action?: string;
  /** Every action of this area (`consent` for `consent.*`). */
  readonly area?: string;
  readonly service?: string;
  /** One of the entry's target values. */
  readonly target?: string;
  /** `at` at or after `from`, and before `to`. */
  readonly from?: string;
  readonly to?: string;
  readonly cursor?: Cursor;
  readonly limit: number;
}

/** Port: one generation's audit read model (MongoDB). Every call may fail with an outage. */
export interface AuditLog {
  /** Appends entries; one already there (same event id) is left as it is. */
  append(generation: number, entries: readonly AuditEntry[]): Promise<void>;
  /** Up to `limit + 1` entries (one more tells whether there is a next page). */
  list(generation: number, query: AuditQuery): Promise<readonly AuditEntry[]>;
}
