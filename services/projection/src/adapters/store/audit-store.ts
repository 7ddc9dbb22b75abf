import { guardStore } from "@parley/mongo";
import { MongoBulkWriteError, type Db, type Filter, type IndexSpecification } from "mongodb";
import type { AuditEntry } from "../../audit/entry.js";
import type { AuditLog } from "../../audit/ports.js";
import { collectionsOf } from "./read-model-stores.js";

/** Duplicate key: the entry (same event id, same content) is already there. */
const DUPLICATE_KEY = 11000;

/** The audit list's sort, and each filter with it (a page is one index range). */
export const AUDIT_INDEXES: readonly IndexSpecification[] = [
  { at: -1, _id: -1 },
  { actorId: 1, at: -1, _id: -1 },
  { action: 1, at: -1, _id: -1 },
  { area: 1, at: -1, _id: -1 },
  { targetValues: 1, at: -1, _id: -1 },
];

/**
 * The audit read model of each generation (`<prefix>g<N>_audit`) on MongoDB: append-only
 * inserts keyed by the event id (a repeat is a duplicate key, ignored), reads newest first
 * resumed after a cursor, equality filters only.
 */
export function createMongoAuditLog(
  db: Db,
  prefix: string,
): AuditLog & {
  ensureIndexes(generation: number): Promise<void>;
} {
  const collection = (generation: number) =>
    db.collection<AuditEntry>(collectionsOf(prefix, generation).audit);
  return {
    async ensureIndexes(generation) {
      const c = collection(generation);
      for (const spec of AUDIT_INDEXES)
        await guardStore(c.collectionName, "createIndex", () => c.createIndex(spec));
    },
    async append(generation, entries) {
      if (entries.length === 0) return;
      const c = collection(generation);
      await guardStore(c.collectionName, "insert", async () => {
        try {
          await c.insertMany(
            entries.map((e) => ({ ...e })),
            { ordered: false },
          );
        } catch (error) {
          const errors: unknown =
            error instanceof MongoBulkWriteError ? error.writeErrors : undefined;
          const list: unknown[] = Array.isArray(errors)
            ? (errors as unknown[])
            : errors === undefined
              ? []
              : [errors];
          const duplicate = (e: unknown) =>
            typeof e === "object" && e !== null && (e as { code?: unknown }).code === DUPLICATE_KEY;
          if (list.length > 0 && list.every(duplicate)) return;
          throw error;
        }
      });
    },
    async list(generation, q) {
      const clauses: Filter<AuditEntry>[] = [];
      if (q.actorId !== undefined) clauses.push({ actorId: q.actorId });
      if (q.action !== undefined) clauses.push({ action: q.action });
      if (q.area !== undefined) clauses.push({ area: q.area });
      if (q.service !== undefined) clauses.push({ service: q.service });
      if (q.target !== undefined) clauses.push({ targetValues: q.target });
      if (q.from !== undefined || q.to !== undefined)
        clauses.push({
          at: {
            ...(q.from === undefined ? {} : { $gte: q.from }),
            ...(q.to === undefined ? {} : { $lt: q.to }),
          },
        });
      if (q.cursor !== undefined)
        clauses.push({
          $or: [{ at: { $lt: q.cursor.at } }, { at: q.cursor.at, _id: { $lt: q.cursor.id } }],
        });
      const filter: Filter<AuditEntry> = clauses.length === 0 ? {} : { $and: clauses };
      const c = collection(generation);
      return guardStore(c.collectionName, "list", () =>
        c
          .find(filter)
          .sort({ at: -1, _id: -1 })
          .limit(q.limit + 1)
          .toArray(),
      );
    },
  };
}
