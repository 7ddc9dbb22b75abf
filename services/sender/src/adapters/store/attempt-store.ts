import type { AnyEvent, EventOf } from "@parley/contracts";
import { MongoBulkWriteError, type Collection, type Db } from "mongodb";
import type { AttemptState, AttemptView } from "../../domain/attempt.js";
import { createBatcher } from "./batcher.js";

interface AttemptDoc {
  _id: string;
  number: string;
  state: AttemptState;
  attemptedAt: Date;
  calls: number;
  /** Outcome events decided for the request, stored before they are published. */
  outcomes: AnyEvent[];
  inDoubtSince?: Date;
  bizOpaqueCallbackData: string;
  contactId: string;
  /**
   * The first status webhook seen while the call's result was unknown (state calling): a crash
   * right after the call leaves the request to be marked in doubt later, and this resolves it.
   */
  pendingStatus?: EventOf<"StatusUpdated">;
}

export interface StoredAttempt extends AttemptView {
  readonly outcomes: readonly AnyEvent[];
  readonly number: string;
  readonly bizOpaqueCallbackData: string;
  readonly pendingStatus: EventOf<"StatusUpdated"> | undefined;
}

/** The attempts port: every write that guards invariant 7 goes through here. */
export interface AttemptStore {
  get(requestId: string): Promise<StoredAttempt | undefined>;
  /**
   * Records "calling" before a call: true when this caller owns the call. `afterCalls` is the
   * number of calls already made (0 for a first call; a re-call needs state "refused").
   */
  claim(c: {
    requestId: string;
    number: string;
    contactId: string;
    bizOpaqueCallbackData: string;
    at: Date;
    afterCalls: number;
    /** Set for a request finished without any call (rejected, expired): recorded as done with it. */
    finishedWith?: AnyEvent;
  }): Promise<boolean>;
  /** The call was definitely refused by Meta: it may be made again. */
  refused(requestId: string): Promise<void>;
  /** Stores the outcome events and the new state (before they are published). */
  settle(
    requestId: string,
    state: "done" | "in_doubt",
    outcomes: readonly AnyEvent[],
    at: Date,
  ): Promise<void>;
  /**
   * Keeps the first status webhook of a request whose result is not recorded yet (it may arrive
   * before the crash recovery marks the request in doubt); returns the attempt as it is now.
   */
  noteStatus(
    requestId: string,
    status: EventOf<"StatusUpdated">,
  ): Promise<StoredAttempt | undefined>;
  /** Appends a resolving outcome to an in-doubt request; false when it was resolved already. */
  resolveInDoubt(requestId: string, outcome: AnyEvent): Promise<boolean>;
  /** In-doubt requests older than `before`, for the timeout sweeper. */
  inDoubtBefore(before: Date, limit: number): Promise<StoredAttempt[]>;
  /** Call instants recorded for a number since `since`: a new owner seeds its rate log with them. */
  recentCallTimes(number: string, since: Date): Promise<number[]>;
  ensureIndexes(): Promise<void>;
}

const view = (d: AttemptDoc): StoredAttempt => ({
  requestId: d._id,
  number: d.number,
  state: d.state,
  attemptedAt: d.attemptedAt.getTime(),
  calls: d.calls,
  outcomeIds: d.outcomes.map((o) => o.eventId),
  outcomes: d.outcomes,
  bizOpaqueCallbackData: d.bizOpaqueCallbackData,
  pendingStatus: d.pendingStatus,
});

/** MongoDB attempts, one document per request id; first claims and results are batched. */
export function createMongoAttemptStore(db: Db, collectionName = "sender_attempts"): AttemptStore {
  const col: Collection<AttemptDoc> = db.collection<AttemptDoc>(collectionName);

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

  const settleMany = createBatcher<
    { requestId: string; state: "done" | "in_doubt"; outcomes: readonly AnyEvent[]; at: Date },
    undefined
  >(async (items) => {
    await col.bulkWrite(
      items.map((s) => ({
        updateOne: {
          filter: { _id: s.requestId },
          update: {
            $set: {
              state: s.state,
              outcomes: [...s.outcomes],
              ...(s.state === "in_doubt" ? { inDoubtSince: s.at } : {}),
            },
          },
        },
      })),
      { ordered: false },
    );
    return items.map(() => undefined);
  });

  return {
    async get(requestId) {
      const d = await read(requestId);
      return d ? view(d) : undefined;
    },
    async claim({
      requestId,
      number,
      contactId,
      bizOpaqueCallbackData,
      at,
      afterCalls,
      finishedWith,
    }) {
      if (afterCalls === 0) {
        return insertFirst({
          _id: requestId,
          number,
          contactId,
          bizOpaqueCallbackData,
          state: finishedWith ? "done" : "calling",
          attemptedAt: at,
          calls: finishedWith ? 0 : 1,
          outcomes: finishedWith ? [finishedWith] : [],
        });
      }
      const r = await col.updateOne(
        { _id: requestId, state: "refused", calls: afterCalls },
        { $set: { state: "calling", attemptedAt: at }, $inc: { calls: 1 } },
      );
      return r.modifiedCount === 1;
    },
    async refused(requestId) {
      await col.updateOne({ _id: requestId, state: "calling" }, { $set: { state: "refused" } });
    },
    async settle(requestId, state, outcomes, at) {
      await settleMany({ requestId, state, outcomes, at });
    },
    async noteStatus(requestId, status) {
      const d = await col.findOneAndUpdate(
        { _id: requestId, pendingStatus: { $exists: false } },
        { $set: { pendingStatus: status } },
        { returnDocument: "after" },
      );
      if (d) return view(d);
      const current = await col.findOne({ _id: requestId });
      return current ? view(current) : undefined;
    },
    async resolveInDoubt(requestId, outcome) {
      const r = await col.updateOne(
        { _id: requestId, state: "in_doubt" },
        { $set: { state: "done" }, $push: { outcomes: outcome } },
      );
      return r.modifiedCount === 1;
    },
    async inDoubtBefore(before, limit) {
      const docs = await col
        .find({ state: "in_doubt", inDoubtSince: { $lt: before } })
        .limit(limit)
        .toArray();
      return docs.map(view);
    },
    async recentCallTimes(number, since) {
      const docs = await col
        .find({ number, attemptedAt: { $gt: since } }, { projection: { attemptedAt: 1 } })
        .toArray();
      return docs.map((d) => d.attemptedAt.getTime());
    },
    async ensureIndexes() {
      await col.createIndex({ state: 1, inDoubtSince: 1 });
      await col.createIndex({ number: 1, attemptedAt: 1 });
    },
  };
}
