import { randomUUID } from "node:crypto";
import type { AnyEvent, EventOf } from "@parley/contracts";
import { guardStore } from "@parley/mongo";
import {
  MongoBulkWriteError,
  type Collection,
  type Db,
  type Filter,
  type UpdateFilter,
} from "mongodb";
import type { AttemptState, LateFallback } from "../../domain/attempt.js";
import type { AttemptStore, StoredAttempt } from "../../domain/ports.js";
import { createBatcher } from "./batcher.js";

interface AttemptDoc {
  _id: string;
  number: string;
  state: AttemptState;
  /** Raised by every claim and take-over; each owner's write compares it. */
  epoch?: number;
  owner?: string;
  /** When the record was claimed or last taken over (for operators). */
  claimedAt?: Date;
  /** The latest call's instant, written by the fence just before the call. */
  calledAt?: Date;
  /** Earlier versions wrote the call instant here, at the claim. */
  attemptedAt?: Date;
  calls: number;
  /** Outcome events decided for the request, stored before they are published. */
  outcomes: AnyEvent[];
  inDoubtSince?: Date;
  bizOpaqueCallbackData: string;
  contactId: string;
  wamid?: string;
  pendingStatus?: EventOf<"StatusUpdated">;
  dispatch?: EventOf<"DispatchMessage">;
  lateFallback?: LateFallback;
  /** The message whose failed status was decided (async failure or late fallback), and by which status. */
  decidedWamid?: string;
  decidedByStatus?: string;
  /** The last compare-and-set write's token: tells a batch which of its writes won. */
  op?: string;
}

const STORE = "sender_attempts";

const view = (d: AttemptDoc): StoredAttempt => ({
  requestId: d._id,
  number: d.number,
  state: d.state,
  epoch: d.epoch ?? 0,
  // A legacy `calling` record has only attemptedAt: the call may have left then.
  calledAt: (d.calledAt ?? (d.state === "calling" ? d.attemptedAt : undefined))?.getTime(),
  calls: d.calls,
  outcomeIds: d.outcomes.map((o) => o.eventId),
  outcomes: d.outcomes,
  bizOpaqueCallbackData: d.bizOpaqueCallbackData,
  wamid: d.wamid,
  pendingStatus: d.pendingStatus,
  dispatch: d.dispatch,
  lateFallback: d.lateFallback,
  decidedWamid: d.decidedWamid,
  decidedByStatus: d.decidedByStatus,
});

interface Cas {
  readonly filter: Filter<AttemptDoc>;
  readonly update: UpdateFilter<AttemptDoc>;
}

/**
 * MongoDB attempts (`sender_attempts`), one document per request id. First claims, fences and
 * settles are batched: a number at 1,000 msg/s makes a few round trips per tick, not thousands.
 * Every failure is a StoreError: an unavailable server is an outage (waited out), anything else
 * is final.
 */
export function createMongoAttemptStore(db: Db, collectionName = STORE): AttemptStore {
  const col: Collection<AttemptDoc> = db.collection<AttemptDoc>(collectionName);
  const guard = <T>(operation: string, work: () => Promise<T>): Promise<T> =>
    guardStore(collectionName, operation, work);

  const read = createBatcher<string, AttemptDoc | undefined>(async (ids) => {
    const docs = await col.find({ _id: { $in: [...new Set(ids)] } }).toArray();
    const byId = new Map(docs.map((d) => [d._id, d]));
    return ids.map((id) => byId.get(id));
  });

  const insertFirst = createBatcher<AttemptDoc, boolean>(async (docs) => {
    try {
      await col.insertMany([...docs], { ordered: false });
      return docs.map(() => true);
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const raw: unknown = error.writeErrors;
      const errors = (Array.isArray(raw) ? raw : [raw]) as { code: number; index: number }[];
      const lost = new Set<number>();
      for (const e of errors) {
        if (e.code !== 11000) throw error;
        lost.add(e.index);
      }
      return docs.map((_, i) => !lost.has(i));
    }
  });

  /**
   * Compare-and-set writes in one round trip: each sets a token of its own, so when fewer
   * documents changed than were asked for, one read tells which writes won.
   */
  const casMany = createBatcher<Cas, boolean>(async (items) => {
    const writes = items.map((item) => ({ item, token: randomUUID() }));
    const r = await col.bulkWrite(
      writes.map(({ item, token }) => ({
        updateOne: {
          filter: item.filter,
          update: { ...item.update, $set: { ...item.update.$set, op: token } },
        },
      })),
      { ordered: false },
    );
    if (r.modifiedCount === items.length) return items.map(() => true);
    const idOf = (item: Cas): string => item.filter._id as string;
    const docs = await col
      .find({ _id: { $in: [...new Set(items.map(idOf))] } }, { projection: { op: 1 } })
      .toArray();
    const opOf = new Map(docs.map((d) => [d._id, d.op]));
    return writes.map(({ item, token }) => opOf.get(idOf(item)) === token);
  });
  const cas = (operation: string, filter: Filter<AttemptDoc>, update: UpdateFilter<AttemptDoc>) =>
    guard(operation, () => casMany({ filter, update }));

  return {
    async get(requestId) {
      const d = await guard("get", () => read(requestId));
      return d ? view(d) : undefined;
    },
    async byWamid(wamid) {
      const d = await guard("byWamid", () => col.findOne({ wamid }));
      return d ? view(d) : undefined;
    },
    claim({
      requestId,
      number,
      contactId,
      bizOpaqueCallbackData,
      at,
      owner,
      finishedWith,
      dispatch,
    }) {
      return guard("claim", () =>
        insertFirst({
          _id: requestId,
          number,
          contactId,
          bizOpaqueCallbackData,
          state: finishedWith ? "done" : "claimed",
          epoch: 1,
          owner,
          claimedAt: at,
          calls: 0,
          outcomes: finishedWith ? [finishedWith] : [],
          ...(dispatch && !finishedWith ? { dispatch } : {}),
        }),
      );
    },
    takeOver(requestId, epoch, owner, at) {
      return cas(
        "takeOver",
        {
          _id: requestId,
          state: { $in: ["claimed", "refused"] },
          // Legacy records have no epoch: 0 stands for "absent".
          ...(epoch === 0 ? { epoch: { $exists: false } } : { epoch }),
        },
        { $set: { state: "claimed", epoch: epoch + 1, owner, claimedAt: at } },
      );
    },
    fence(requestId, epoch, calledAt) {
      return cas(
        "fence",
        { _id: requestId, state: "claimed", epoch },
        { $set: { state: "calling", calledAt }, $inc: { calls: 1 } },
      );
    },
    release(requestId, epoch) {
      return cas(
        "release",
        { _id: requestId, state: "calling", epoch },
        { $set: { state: "claimed" } },
      );
    },
    settle({ requestId, epoch, from, state, outcomes, at, wamid }) {
      return cas(
        "settle",
        { _id: requestId, state: from, epoch },
        {
          $set: {
            state,
            ...(state === "in_doubt" ? { inDoubtSince: at } : {}),
            ...(wamid !== undefined ? { wamid } : {}),
          },
          $push: { outcomes: { $each: [...outcomes] } },
        },
      );
    },
    markInDoubt(requestId, epoch, outcome, at) {
      return cas(
        "markInDoubt",
        {
          _id: requestId,
          state: "calling",
          ...(epoch === 0 ? { epoch: { $exists: false } } : { epoch }),
        },
        { $set: { state: "in_doubt", inDoubtSince: at }, $push: { outcomes: outcome } },
      );
    },
    async noteStatus(requestId, status) {
      // The first status, or a failed one over an earlier one (a failure says more).
      const d = await guard("noteStatus", () =>
        col.findOneAndUpdate(
          {
            _id: requestId,
            $or: [
              { pendingStatus: { $exists: false } },
              ...(status.data.status === "failed"
                ? [{ "pendingStatus.data.status": { $ne: "failed" } }]
                : []),
            ],
          },
          { $set: { pendingStatus: status } },
          { returnDocument: "after" },
        ),
      );
      if (d) return view(d);
      const current = await guard("noteStatus", () => col.findOne({ _id: requestId }));
      return current ? view(current) : undefined;
    },
    resolveInDoubt(requestId, outcome, wamid) {
      return cas(
        "resolveInDoubt",
        { _id: requestId, state: "in_doubt" },
        { $set: { state: "done", wamid }, $push: { outcomes: outcome } },
      );
    },
    failAsync(requestId, wamid, outcome, statusId) {
      return cas(
        "failAsync",
        { _id: requestId, state: "done", wamid, decidedWamid: { $ne: wamid } },
        { $set: { decidedWamid: wamid, decidedByStatus: statusId }, $push: { outcomes: outcome } },
      );
    },
    oweFallback(requestId, wamid, fallback, dispatch, statusId) {
      return cas(
        "oweFallback",
        { _id: requestId, state: "done", wamid, decidedWamid: { $ne: wamid } },
        {
          $set: {
            state: "claimed",
            lateFallback: fallback,
            decidedWamid: wamid,
            decidedByStatus: statusId,
            // The fallback dispatch travels with the record, so a crash before it was
            // published publishes it again from here.
            dispatch,
          },
          $inc: { epoch: 1 },
        },
      );
    },
    async inDoubtBefore(before, limit) {
      const docs = await guard("inDoubtBefore", () =>
        col
          .find({ state: "in_doubt", inDoubtSince: { $lt: before } })
          .limit(limit)
          .toArray(),
      );
      return docs.map(view);
    },
    async recentCallTimes(number, since) {
      const docs = await guard("recentCallTimes", () =>
        col.find({ number, calledAt: { $gt: since } }, { projection: { calledAt: 1 } }).toArray(),
      );
      return docs.flatMap((d) => (d.calledAt === undefined ? [] : [d.calledAt.getTime()]));
    },
    async ensureIndexes() {
      await guard("ensureIndexes", async () => {
        await col.createIndex({ state: 1, inDoubtSince: 1 });
        await col.createIndex({ number: 1, calledAt: 1 });
        await col.createIndex({ wamid: 1 }, { sparse: true });
      });
    },
  };
}
