import {
  expired,
  type SendRecord,
  type SendRecordRetention,
  type SendRecordStore,
} from "./store.js";

/** The in-memory fake of the store port, held to the same contract suite as the MongoDB adapter. */
export function createMemorySendRecordStore({
  retentionMs,
  clock = () => new Date(),
}: SendRecordRetention): SendRecordStore & {
  readonly records: ReadonlyMap<string, SendRecord>;
} {
  const records = new Map<string, SendRecord>();
  const id = (principal: string, key: string): string => JSON.stringify([principal, key]);
  return {
    records,
    claim(record) {
      const existing = records.get(id(record.principal, record.idempotencyKey));
      if (existing !== undefined && !expired(existing, record.acceptedAt, retentionMs)) {
        return Promise.resolve({ claimed: false, existing });
      }
      const sameRequestId = [...records.values()].some(
        (r) => r.principal === record.principal && r.requestId === record.requestId,
      );
      if (sameRequestId) {
        return Promise.reject(new Error(`requestId ${record.requestId} is already stored`));
      }
      records.set(id(record.principal, record.idempotencyKey), record);
      return Promise.resolve({ claimed: true });
    },
    markPublished(principal, key, at) {
      const existing = records.get(id(principal, key));
      if (existing !== undefined && existing.publishedAt === undefined) {
        records.set(id(principal, key), { ...existing, publishedAt: at });
      }
      return Promise.resolve();
    },
    findByRequestId(principal, requestId) {
      const now = clock();
      return Promise.resolve(
        [...records.values()].find(
          (r) =>
            r.principal === principal && r.requestId === requestId && !expired(r, now, retentionMs),
        ),
      );
    },
  };
}
