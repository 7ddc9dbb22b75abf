import type { AuditEntry } from "./entry.js";
import type { AuditLog, AuditQuery } from "./ports.js";

const newestFirst = (a: AuditEntry, b: AuditEntry): number =>
  a.at === b.at ? (a._id < b._id ? 1 : a._id > b._id ? -1 : 0) : a.at < b.at ? 1 : -1;

/** Whether an entry passes a query's filters and comes after its cursor. */
export function matches(entry: AuditEntry, q: AuditQuery): boolean {
  if (q.actorId !== undefined && entry.actorId !== q.actorId) return false;
  if (q.action !== undefined && entry.action !== q.action) return false;
  if (q.area !== undefined && entry.area !== q.area) return false;
  if (q.service !== undefined && entry.service !== q.service) return false;
  if (q.target !== undefined && !entry.targetValues.includes(q.target)) return false;
  if (q.from !== undefined && entry.at < q.from) return false;
  if (q.to !== undefined && entry.at >= q.to) return false;
  if (
    q.cursor !== undefined &&
    !(entry.at < q.cursor.at || (entry.at === q.cursor.at && entry._id < q.cursor.id))
  )
    return false;
  return true;
}

/** The audit log in memory (unit tests; the contract the MongoDB adapter keeps). */
export function createMemoryAuditLog(): AuditLog & {
  entries(generation: number): readonly AuditEntry[];
} {
  const byGeneration = new Map<number, Map<string, AuditEntry>>();
  const of = (generation: number) => {
    let log = byGeneration.get(generation);
    if (log === undefined) byGeneration.set(generation, (log = new Map<string, AuditEntry>()));
    return log;
  };
  return {
    append(generation, entries) {
      const log = of(generation);
      for (const e of entries) if (!log.has(e._id)) log.set(e._id, e);
      return Promise.resolve();
    },
    list(generation, q) {
      return Promise.resolve(
        [...of(generation).values()]
          .filter((e) => matches(e, q))
          .sort(newestFirst)
          .slice(0, q.limit + 1),
      );
    },
    entries: (generation) => [...of(generation).values()].sort(newestFirst),
  };
}
