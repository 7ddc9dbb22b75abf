import { MongoServerError, type Db } from "mongodb";
import {
  expired,
  StoreUnavailableError,
  type SendRecord,
  type SendRecordRetention,
  type SendRecordStore,
} from "../../sending/store.js";

const DUPLICATE_KEY = 11000;
const NAMESPACE_NOT_FOUND = 26;
const COMMAND_NOT_FOUND = 59;
const TTL_INDEX = "acceptedAt_ttl";

/** `_id` is `<principal>/<idempotencyKey>` (a principal id has no "/"): its unique index is the claim. */
interface SendRecordDoc extends Omit<SendRecord, "publishedAt"> {
  readonly _id: string;
  readonly publishedAt: Date | null;
}

const toRecord = ({ _id, publishedAt, ...rest }: SendRecordDoc): SendRecord => ({
  ...rest,
  ...(publishedAt === null ? {} : { publishedAt }),
});

export interface MongoSendRecordStoreOptions extends SendRecordRetention {
  readonly db: Db;
  readonly collection?: string;
  /** Bound on each operation, so a dead server turns into a 503 rather than a hanging request. */
  readonly timeoutMs?: number;
}

/**
 * The idempotency store on MongoDB. A claim is one insert: the `_id` unique index makes it
 * atomic across concurrent requests and ingress instances; a unique index on `requestId`
 * serves GET by request id. Driver failures become StoreUnavailableError (answered with 503).
 *
 * Retention: a key past `retentionMs` is free again. The store judges that itself (a claim of an
 * expired key replaces the old record with a compare-and-set on its request id; lookups skip
 * expired records), so it holds whether or not the server has removed the document yet; a TTL
 * index on `acceptedAt` lets MongoDB delete them (the local stand-in accepts it and never does).
 */
export function createMongoSendRecordStore({
  db,
  collection = "ingress_send_requests",
  timeoutMs = 3_000,
  retentionMs,
  clock = () => new Date(),
}: MongoSendRecordStoreOptions): SendRecordStore & { ensureIndexes(): Promise<void> } {
  const docs = db.collection<SendRecordDoc>(collection);
  const expireAfterSeconds = Math.ceil(retentionMs / 1000);
  /** The TTL index for the retention: created, or changed in place when the retention changed. */
  const ensureTtl = async (): Promise<void> => {
    const current = await docs.indexes({ maxTimeMS: timeoutMs }).then(
      (all) => all.find((index) => index.name === TTL_INDEX),
      (error: unknown) => {
        if (error instanceof MongoServerError && error.code === NAMESPACE_NOT_FOUND)
          return undefined;
        throw error;
      },
    );
    if (current?.expireAfterSeconds === expireAfterSeconds) return;
    if (current !== undefined) {
      try {
        await db.command(
          { collMod: collection, index: { name: TTL_INDEX, expireAfterSeconds } },
          { timeoutMS: timeoutMs },
        );
        return;
      } catch (error) {
        // The local stand-in has no collMod and never enforces TTL anyway (its dropIndex also
        // drops same-named indexes of other collections, so no drop-and-recreate there).
        if (error instanceof MongoServerError && error.code === COMMAND_NOT_FOUND) return;
        throw error;
      }
    }
    await docs.createIndex(
      { acceptedAt: 1 },
      { name: TTL_INDEX, expireAfterSeconds, timeoutMS: timeoutMs },
    );
  };
  let indexed: Promise<void> | undefined;
  const ensureIndexes = (): Promise<void> => {
    indexed ??= Promise.all([
      docs.createIndex(
        { principal: 1, requestId: 1 },
        { unique: true, name: "principal_requestId", timeoutMS: timeoutMs },
      ),
      ensureTtl(),
    ]).then(
      () => undefined,
      (error: unknown) => {
        indexed = undefined;
        throw error;
      },
    );
    return indexed;
  };
  const unavailable = (operation: string, error: unknown): StoreUnavailableError =>
    new StoreUnavailableError(
      `MongoDB ${operation} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  const idOf = (principal: string, key: string): string => `${principal}/${key}`;
  const toDoc = (_id: string, record: SendRecord): SendRecordDoc => ({
    _id,
    ...record,
    publishedAt: record.publishedAt ?? null,
  });

  return {
    ensureIndexes,
    async claim(record) {
      const _id = idOf(record.principal, record.idempotencyKey);
      try {
        await ensureIndexes();
        await docs.insertOne(toDoc(_id, record), { timeoutMS: timeoutMs });
        return { claimed: true };
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) {
          throw unavailable("insert", error);
        }
      }
      let existing: SendRecordDoc | null;
      try {
        existing = await docs.findOne({ _id }, { maxTimeMS: timeoutMs });
      } catch (error) {
        throw unavailable("find", error);
      }
      // A duplicate on the request id alone: a new UUID collided, which is a bug, not a retry.
      if (existing === null) throw new Error(`requestId ${record.requestId} is already stored`);
      if (!expired(toRecord(existing), record.acceptedAt, retentionMs)) {
        return { claimed: false, existing: toRecord(existing) };
      }
      // The key outlived its retention (the server has not swept it yet): take it over, unless a
      // concurrent claim replaced the same old record first.
      let replaced: SendRecordDoc | null;
      try {
        const result = await docs.replaceOne(
          { _id, requestId: existing.requestId },
          toDoc(_id, record),
          { timeoutMS: timeoutMs },
        );
        if (result.matchedCount === 1) return { claimed: true };
        replaced = await docs.findOne({ _id }, { maxTimeMS: timeoutMs });
      } catch (error) {
        throw unavailable("replace", error);
      }
      if (replaced === null) throw unavailable("replace", new Error("the key vanished meanwhile"));
      return { claimed: false, existing: toRecord(replaced) };
    },
    async markPublished(principal, key, at) {
      try {
        await docs.updateOne(
          { _id: idOf(principal, key), publishedAt: null },
          { $set: { publishedAt: at } },
          { timeoutMS: timeoutMs },
        );
      } catch (error) {
        throw unavailable("update", error);
      }
    },
    async findByRequestId(principal, requestId) {
      try {
        const doc = await docs.findOne({ principal, requestId }, { maxTimeMS: timeoutMs });
        if (doc === null) return undefined;
        const record = toRecord(doc);
        return expired(record, clock(), retentionMs) ? undefined : record;
      } catch (error) {
        throw unavailable("find", error);
      }
    },
  };
}
