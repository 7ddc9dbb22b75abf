import { randomUUID } from "node:crypto";
import type { AnyEvent, EventOf } from "@parley/contracts";
import { guardStore } from "@parley/mongo";
import { activeTraceparent } from "@parley/telemetry";
import {
  MongoBulkWriteError,
  type AnyBulkWriteOperation,
  type Collection,
  type Db,
  type Filter,
  type UpdateFilter,
} from "mongodb";
import type { AttemptState, LateFallback } from "../../domain/attempt.js";
import {
  OUTBOX,
  type AttemptStore,
  type Origin,
  type SentTemplate,
  type StoredAttempt,
} from "../../domain/ports.js";
import { createBatcher } from "./batcher.js";

interface AttemptDoc {
  _id: string;
  number: string;
  /** The recipient as pair pacing keys it (`to`), for a new owner's pacing seed. */
  to?: string;
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
  /** Where each outcome (and a late fallback's dispatch) is published from, by event id. */
  origins?: Record<string, Origin>;
  /** Outbox events not known to be committed yet, and since when (the oldest). */
  unpublished?: string[];
  outboxSince?: Date;
  inDoubtSince?: Date;
  bizOpaqueCallbackData: string;
  contactId: string;
  wamid?: string;
  /** The send's trace (W3C traceparent) at the claim: status webhooks' processing links to it. */
  traceparent?: string;
  pendingStatus?: EventOf<"StatusUpdated">;
  dispatch?: EventOf<"DispatchMessage">;
  template?: SentTemplate;
  lateFallback?: LateFallback;
  /** The message whose failed status was decided (async failure or late fallback), and by which status. */
  decidedWamid?: string;
  decidedByStatus?: string;
  /** The last compare-and-set write's token: tells a batch which of its writes won. */
  op?: string;
}

const STORE = "sender_attempts";

const traceparentField = (): { traceparent?: string } => {
  const traceparent = activeTraceparent();
  return traceparent === undefined ? {} : { traceparent };
};

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
  origins: new Map(Object.entries(d.origins ?? {})),
  unpublished: d.unpublished ?? [],
  bizOpaqueCallbackData: d.bizOpaqueCallbackData,
  wamid: d.wamid,
  pendingStatus: d.pendingStatus,
  dispatch: d.dispatch,
  template: d.template,
  lateFallback: d.lateFallback,
  decidedWamid: d.decidedWamid,
  decidedByStatus: d.decidedByStatus,
  traceparent: d.traceparent,
});

interface Cas {
  readonly filter: Filter<AttemptDoc>;
  readonly update: UpdateFilter<AttemptDoc>;
}

/**
 * `update` extended to store `events` under `origin`: their origins and, for the outbox, their
 * ids as pending (published, then pulled) and the oldest pending instant (what the sweep reads).
 */
function storing(
  update: UpdateFilter<AttemptDoc> & { $set?: Record<string, unknown> },
  events: readonly AnyEvent[],
  origin: Origin,
  at: Date,
): UpdateFilter<AttemptDoc> {
  const set: Record<string, unknown> = { ...update.$set };
  for (const e of events) set[`origins.${e.eventId}`] = origin;
  if (origin !== OUTBOX) return { ...update, $set: set };
  return {
    ...update,
    $set: set,
    $push: { ...update.$push, unpublished: { $each: events.map((e) => e.eventId) } },
    $min: { outboxSince: at },
  };
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

  /**
   * A new owner's first look at each recipient (pair pacing seeds): one query per number for
   * every recipient asked meanwhile, on the (number, to, calledAt) index.
   */
  const pairCalls = createBatcher<
    { readonly number: string; readonly recipient: string; readonly since: Date },
    number[]
  >(async (items) => {
    const byNumber = new Map<string, { recipients: Set<string>; since: number }>();
    for (const i of items) {
      const q = byNumber.get(i.number) ?? { recipients: new Set(), since: i.since.getTime() };
      q.recipients.add(i.recipient);
      q.since = Math.min(q.since, i.since.getTime());
      byNumber.set(i.number, q);
    }
    const found = new Map<string, number[]>();
    await Promise.all(
      [...byNumber].map(async ([number, q]) => {
        const docs = await col
          .find(
            { number, to: { $in: [...q.recipients] }, calledAt: { $gt: new Date(q.since) } },
            { projection: { to: 1, calledAt: 1 } },
          )
          .toArray();
        for (const d of docs) {
          if (d.to === undefined || d.calledAt === undefined) continue;
          const key = `${number}\u0000${d.to}`;
          found.set(key, [...(found.get(key) ?? []), d.calledAt.getTime()]);
        }
      }),
    );
    return items.map((i) =>
      (found.get(`${i.number}\u0000${i.recipient}`) ?? []).filter((t) => t > i.since.getTime()),
    );
  });

  const insertFirst = createBatcher<AttemptDoc, boolean>(async (docs) => {
    try {
      await col.insertMany([...docs], { ordered: false });
      return docs.map(() => true);
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const raw: unknown = error.writeErrors;
      const errors = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) as {
        code: number;
        index: number;
      }[];
      // No write errors: the round trip itself failed (an outage) and nothing says which
      // records landed; none may be taken as claimed, or a call could go out unrecorded.
      if (errors.length === 0) throw error;
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

  /** Outbox events marked published, many requests per round trip (each request's pair in order). */
  const markPublished = createBatcher<AnyBulkWriteOperation<AttemptDoc>[], undefined>(
    async (pairs) => {
      await col.bulkWrite(pairs.flat(), { ordered: true });
      return pairs.map(() => undefined);
    },
  );

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
      recipient,
      contactId,
      bizOpaqueCallbackData,
      at,
      owner,
      finishedWith,
      calledAt,
      origin = OUTBOX,
      dispatch,
      template,
    }) {
      const calling = calledAt !== undefined && finishedWith === undefined;
      return guard("claim", () =>
        insertFirst({
          _id: requestId,
          number,
          ...(recipient === undefined ? {} : { to: recipient }),
          contactId,
          bizOpaqueCallbackData,
          state: finishedWith ? "done" : calling ? "calling" : "claimed",
          epoch: 1,
          owner,
          claimedAt: at,
          ...(calling ? { calledAt } : {}),
          calls: calling ? 1 : 0,
          outcomes: finishedWith ? [finishedWith] : [],
          ...(finishedWith
            ? {
                origins: { [finishedWith.eventId]: origin },
                ...(origin === OUTBOX
                  ? { unpublished: [finishedWith.eventId], outboxSince: at }
                  : {}),
              }
            : {}),
          ...(dispatch && !finishedWith ? { dispatch } : {}),
          ...(template && !finishedWith ? { template } : {}),
          ...traceparentField(),
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
    unfence(requestId, epoch) {
      return cas(
        "unfence",
        { _id: requestId, state: "calling", epoch },
        { $set: { state: "claimed" }, $unset: { calledAt: "" }, $inc: { calls: -1 } },
      );
    },
    release(requestId, epoch) {
      return cas(
        "release",
        { _id: requestId, state: "calling", epoch },
        { $set: { state: "claimed" } },
      );
    },
    settle({ requestId, epoch, from, state, outcomes, at, origin, wamid }) {
      return cas(
        "settle",
        { _id: requestId, state: from, epoch },
        storing(
          {
            $set: {
              state,
              ...(state === "in_doubt" ? { inDoubtSince: at } : {}),
              ...(wamid !== undefined ? { wamid } : {}),
            },
            $push: { outcomes: { $each: [...outcomes] } },
          },
          outcomes,
          origin,
          at,
        ),
      );
    },
    markInDoubt(requestId, epoch, outcome, at, origin) {
      return cas(
        "markInDoubt",
        {
          _id: requestId,
          state: "calling",
          ...(epoch === 0 ? { epoch: { $exists: false } } : { epoch }),
        },
        storing(
          { $set: { state: "in_doubt", inDoubtSince: at }, $push: { outcomes: outcome } },
          [outcome],
          origin,
          at,
        ),
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
    resolveInDoubt(requestId, outcome, wamid, origin) {
      return cas(
        "resolveInDoubt",
        { _id: requestId, state: "in_doubt" },
        storing(
          { $set: { state: "done", wamid }, $push: { outcomes: outcome } },
          [outcome],
          origin,
          new Date(),
        ),
      );
    },
    failAsync(requestId, wamid, outcome, statusId, origin) {
      return cas(
        "failAsync",
        { _id: requestId, state: "done", wamid, decidedWamid: { $ne: wamid } },
        storing(
          {
            $set: { decidedWamid: wamid, decidedByStatus: statusId },
            $push: { outcomes: outcome },
          },
          [outcome],
          origin,
          new Date(),
        ),
      );
    },
    oweFallback(requestId, wamid, fallback, dispatch, statusId, origin) {
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
            [`origins.${dispatch.eventId}`]: origin,
          },
          $inc: { epoch: 1 },
        },
      );
    },
    adopt(requestId, from, eventIds) {
      if (eventIds.length === 0) return Promise.resolve(false);
      return cas(
        "adopt",
        { _id: requestId, ...Object.fromEntries(eventIds.map((id) => [`origins.${id}`, from])) },
        storing(
          {},
          eventIds.map((eventId) => ({ eventId }) as AnyEvent),
          OUTBOX,
          new Date(),
        ),
      );
    },
    async markPublished(requestId, eventIds) {
      if (eventIds.length === 0) return;
      // In order: the ids leave the pending list, then an empty list goes with its date, so the
      // sweep's index holds only requests with something pending.
      await guard("markPublished", () =>
        markPublished([
          {
            updateOne: {
              filter: { _id: requestId },
              update: { $pull: { unpublished: { $in: [...eventIds] } } },
            },
          },
          {
            updateOne: {
              filter: { _id: requestId, unpublished: { $size: 0 } },
              update: { $unset: { unpublished: "", outboxSince: "" } },
            },
          },
        ]),
      );
    },
    async unpublishedBefore(before, limit) {
      const docs = await guard("unpublishedBefore", () =>
        col
          .find({ outboxSince: { $lt: before } })
          .limit(limit)
          .toArray(),
      );
      return docs.map(view);
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
    async oldestInDoubt() {
      // The sweep's index (state, inDoubtSince) answers this with one key.
      const [doc] = await guard("oldestInDoubt", () =>
        col
          .find({ state: "in_doubt" }, { projection: { inDoubtSince: 1 } })
          .sort({ inDoubtSince: 1 })
          .limit(1)
          .toArray(),
      );
      return doc?.inDoubtSince;
    },
    async recentCallTimes(number, since) {
      const docs = await guard("recentCallTimes", () =>
        col.find({ number, calledAt: { $gt: since } }, { projection: { calledAt: 1 } }).toArray(),
      );
      return docs.flatMap((d) => (d.calledAt === undefined ? [] : [d.calledAt.getTime()]));
    },
    recentPairCalls(number, recipient, since) {
      return guard("recentPairCalls", () => pairCalls({ number, recipient, since }));
    },
    async latestCallAt(number, since) {
      const doc = await guard("latestCallAt", () =>
        col.findOne(
          { number, calledAt: { $gt: since } },
          { projection: { calledAt: 1 }, sort: { calledAt: -1 } },
        ),
      );
      return doc?.calledAt?.getTime();
    },
    async ensureIndexes() {
      await guard("ensureIndexes", async () => {
        await col.createIndex({ state: 1, inDoubtSince: 1 });
        await col.createIndex({ number: 1, calledAt: 1 });
        await col.createIndex({ number: 1, to: 1, calledAt: 1 });
        await col.createIndex({ wamid: 1 }, { sparse: true });
        await col.createIndex({ outboxSince: 1 }, { sparse: true });
      });
    },
  };
}
