import { MongoServerError, type Db } from "mongodb";
import { StoreUnavailableError, type SendRecord, type SendRecordStore } from "./store.js";

const DUPLICATE_KEY = 11000;

/** `_id` is `<principal>/<idempotencyKey>` (a principal id has no "/"): its unique index is the claim. */
interface SendRecordDoc extends Omit<SendRecord, "publishedAt"> {
  readonly _id: string;
  readonly publishedAt: Date | null;
}

const toRecord = ({ _id, publishedAt, ...rest }: SendRecordDoc): SendRecord => ({
  ...rest,
  ...(publishedAt === null ? {} : { publishedAt }),
});

export interface MongoSendRecordStoreOptions {
  readonly db: Db;
  readonly collection?: string;
  /** Bound on each operation, so a dead server turns into a 503 rather than a hanging request. */
  readonly timeoutMs?: number;
}

/**
 * The idempotency store on MongoDB. A claim is one insert: the `_id` unique index makes it
 * atomic across concurrent requests and ingress instances; a unique index on `requestId`
 * serves GET by request id. Driver failures become StoreUnavailableError (answered with 503).
 */
export function createMongoSendRecordStore({
  db,
  collection = "ingress_send_requests",
  timeoutMs = 3_000,
}: MongoSendRecordStoreOptions): SendRecordStore & { ensureIndexes(): Promise<void> } {
  const docs = db.collection<SendRecordDoc>(collection);
  let indexed: Promise<void> | undefined;
  const ensureIndexes = (): Promise<void> => {
    indexed ??= docs
      .createIndex(
        { principal: 1, requestId: 1 },
        { unique: true, name: "principal_requestId", timeoutMS: timeoutMs },
      )
      .then(
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

  return {
    ensureIndexes,
    async claim(record) {
      const _id = idOf(record.principal, record.idempotencyKey);
      try {
        await ensureIndexes();
        await docs.insertOne(
          { _id, ...record, publishedAt: record.publishedAt ?? null },
          { timeoutMS: timeoutMs },
        );
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
      return { claimed: false, existing: toRecord(existing) };
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
        return doc === null ? undefined : toRecord(doc);
      } catch (error) {
        throw unavailable("find", error);
      }
    },
  };
}
