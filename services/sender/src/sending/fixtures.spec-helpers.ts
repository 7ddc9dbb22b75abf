import { createEvent, type EventData, type EventOf } from "@parley/contracts";
import type { AnyEvent } from "@parley/contracts";
import {
  OUTBOX,
  type AttemptStore,
  type DispatchOutlet,
  type GateStore,
  type Origin,
  type StoredAttempt,
} from "../domain/ports.js";
import { defaultRetryPolicy } from "../domain/backoff.js";
import { createDispatchHandler, type GraphSend } from "./dispatch-handler.js";
import { NumberLane, type LaneTuning } from "./lanes.js";
import type { RevocationNotices } from "./revocations.js";

/**
 * A DispatchMessage from `number` to `to` (the contact is the recipient): a utility template
 * unless `data` says otherwise.
 */
export function dispatchMessage(
  number: string,
  requestId: string,
  to: string,
  data: Partial<EventData<"DispatchMessage">> = {},
  now: Date = new Date(),
): EventOf<"DispatchMessage"> {
  return createEvent(
    "DispatchMessage",
    {
      requestId,
      idempotencyKey: requestId,
      contactId: to,
      to,
      toKind: "phone",
      content: { type: "template", template: { name: "t", language: { code: "en" } } },
      category: "utility",
      usedTemplateFallback: false,
      bizOpaqueCallbackData: requestId,
      ...data,
    },
    { correlationId: requestId, businessNumber: number, now },
  );
}

/** Graph's answer accepting `d` (wamid `wamid.<requestId>`), for fakes of the Graph call. */
export function acceptedSend(d: EventData<"DispatchMessage">): Awaited<ReturnType<GraphSend>> {
  return {
    ok: true,
    result: {
      wamid: `wamid.${d.requestId}`,
      waId: d.to,
      input: d.to,
      messageStatus: undefined,
      fbTraceId: undefined,
    },
  };
}

/** A real lane for unit tests: pair pacing 45 / 6 s, the tuning below unless `tuning` overrides it. */
export function testLane({
  number,
  mps,
  clock,
  tuning = {},
  random = () => 1,
  recentCalls = () => Promise.resolve([]),
  pairCalls,
  latestCall,
}: {
  number: string;
  mps: number;
  clock: () => number;
  tuning?: Partial<LaneTuning>;
  random?: () => number;
  recentCalls?: (number: string, sinceMs: number) => Promise<number[]>;
  pairCalls?: (number: string, recipient: string, sinceMs: number) => Promise<number[]>;
  latestCall?: (number: string, sinceMs: number) => Promise<number | undefined>;
}): NumberLane {
  return new NumberLane(
    number,
    { mps, pairPacing: { burst: 45, refillMs: 6_000 } },
    {
      marginMs: 15,
      smoothingMs: 0,
      leadMs: 0,
      maxPairBackoffMs: 60_000,
      maxNumberBackoffMs: 60_000,
      marginStepMs: 5,
      maxMarginMs: 50,
      marginRelaxAfterMs: 600_000,
      reseedAfterIdleMs: 3_600_000,
      ...tuning,
    },
    clock,
    random,
    recentCalls,
    { waited: () => undefined, pausedChanged: () => undefined },
    pairCalls,
    latestCall,
  );
}

/** `r` with `events` stored under `origin` (pending in the outbox when that is their origin). */
const storing = (
  r: StoredAttempt,
  events: readonly AnyEvent[],
  origin: Origin,
): Pick<StoredAttempt, "origins" | "unpublished"> => ({
  origins: new Map([...r.origins, ...events.map((e) => [e.eventId, origin] as const)]),
  unpublished:
    origin === OUTBOX ? [...r.unpublished, ...events.map((e) => e.eventId)] : r.unpublished,
});

/** Attempts in memory, with the MongoDB store's compare-and-set rules (epoch, state, origins). */
export function memoryAttempts(): AttemptStore & { readonly records: Map<string, StoredAttempt> } {
  const records = new Map<string, StoredAttempt>();
  /** Each claimed request's recipient (the MongoDB store's `to`). */
  const recipients = new Map<string, string>();
  /** When each request went in doubt (the MongoDB store's `inDoubtSince`). */
  const inDoubtSince = new Map<string, number>();
  const cas = (
    requestId: string,
    when: (r: StoredAttempt) => boolean,
    change: (r: StoredAttempt) => Partial<StoredAttempt>,
  ): Promise<boolean> => {
    const r = records.get(requestId);
    if (r === undefined || !when(r)) return Promise.resolve(false);
    const next = { ...r, ...change(r) };
    records.set(requestId, { ...next, outcomeIds: next.outcomes.map((o) => o.eventId) });
    return Promise.resolve(true);
  };
  return {
    records,
    get: (requestId) => Promise.resolve(records.get(requestId)),
    byWamid: (wamid) => Promise.resolve([...records.values()].find((r) => r.wamid === wamid)),
    claim: (c) => {
      if (records.has(c.requestId)) return Promise.resolve(false);
      if (c.recipient !== undefined) recipients.set(c.requestId, c.recipient);
      records.set(c.requestId, {
        requestId: c.requestId,
        number: c.number,
        state:
          c.finishedWith !== undefined ? "done" : c.calledAt !== undefined ? "calling" : "claimed",
        epoch: 1,
        calledAt: c.finishedWith === undefined ? c.calledAt?.getTime() : undefined,
        calls: c.finishedWith === undefined && c.calledAt !== undefined ? 1 : 0,
        outcomes: c.finishedWith === undefined ? [] : [c.finishedWith],
        outcomeIds: c.finishedWith === undefined ? [] : [c.finishedWith.eventId],
        origins: new Map(
          c.finishedWith === undefined ? [] : [[c.finishedWith.eventId, c.origin ?? OUTBOX]],
        ),
        unpublished:
          c.finishedWith !== undefined && (c.origin ?? OUTBOX) === OUTBOX
            ? [c.finishedWith.eventId]
            : [],
        bizOpaqueCallbackData: c.bizOpaqueCallbackData,
        wamid: undefined,
        pendingStatus: undefined,
        dispatch: c.finishedWith === undefined ? c.dispatch : undefined,
        template: c.finishedWith === undefined ? c.template : undefined,
        lateFallback: undefined,
        decidedWamid: undefined,
        decidedByStatus: undefined,
      });
      return Promise.resolve(true);
    },
    takeOver: (requestId, epoch) =>
      cas(
        requestId,
        (r) => (r.state === "claimed" || r.state === "refused") && r.epoch === epoch,
        () => ({ state: "claimed", epoch: epoch + 1 }),
      ),
    fence: (requestId, epoch, calledAt) =>
      cas(
        requestId,
        (r) => r.state === "claimed" && r.epoch === epoch,
        (r) => ({ state: "calling", calledAt: calledAt.getTime(), calls: r.calls + 1 }),
      ),
    unfence: (requestId, epoch) =>
      cas(
        requestId,
        (r) => r.state === "calling" && r.epoch === epoch,
        (r) => ({ state: "claimed", calledAt: undefined, calls: Math.max(0, r.calls - 1) }),
      ),
    release: (requestId, epoch) =>
      cas(
        requestId,
        (r) => r.state === "calling" && r.epoch === epoch,
        () => ({ state: "claimed" }),
      ),
    settle: ({ requestId, epoch, from, state, outcomes, origin, wamid, at }) =>
      cas(
        requestId,
        (r) => r.state === from && r.epoch === epoch,
        (r) => ({
          state,
          outcomes: [...r.outcomes, ...outcomes],
          ...storing(r, outcomes, origin),
          ...(wamid !== undefined ? { wamid } : {}),
        }),
      ).then((won) => {
        if (won && state === "in_doubt") inDoubtSince.set(requestId, at.getTime());
        return won;
      }),
    markInDoubt: (requestId, epoch, outcome, at, origin) =>
      cas(
        requestId,
        (r) => r.state === "calling" && r.epoch === epoch,
        (r) => ({
          state: "in_doubt",
          outcomes: [...r.outcomes, outcome],
          ...storing(r, [outcome], origin),
        }),
      ).then((won) => {
        if (won) inDoubtSince.set(requestId, at.getTime());
        return won;
      }),
    noteStatus: (requestId, status) =>
      cas(
        requestId,
        (r) =>
          r.pendingStatus === undefined ||
          (status.data.status === "failed" && r.pendingStatus.data.status !== "failed"),
        () => ({ pendingStatus: status }),
      ).then(() => records.get(requestId)),
    resolveInDoubt: (requestId, outcome, wamid, origin) =>
      cas(
        requestId,
        (r) => r.state === "in_doubt",
        (r) => ({
          state: "done",
          outcomes: [...r.outcomes, outcome],
          ...storing(r, [outcome], origin),
          ...(wamid ? { wamid } : {}),
        }),
      ),
    failAsync: (requestId, wamid, outcome, statusId, origin) =>
      cas(
        requestId,
        (r) => r.state === "done" && r.wamid === wamid && r.decidedWamid !== wamid,
        (r) => ({
          outcomes: [...r.outcomes, outcome],
          ...storing(r, [outcome], origin),
          decidedWamid: wamid,
          decidedByStatus: statusId,
        }),
      ),
    oweFallback: (requestId, wamid, fallback, dispatch, statusId, origin) =>
      cas(
        requestId,
        (r) => r.state === "done" && r.wamid === wamid && r.decidedWamid !== wamid,
        (r) => ({
          state: "claimed",
          epoch: r.epoch + 1,
          lateFallback: fallback,
          dispatch,
          origins: new Map([...r.origins, [dispatch.eventId, origin]]),
          decidedWamid: wamid,
          decidedByStatus: statusId,
        }),
      ),
    adopt: (requestId, from, eventIds) =>
      cas(
        requestId,
        (r) => eventIds.length > 0 && eventIds.every((id) => r.origins.get(id) === from),
        (r) =>
          storing(
            r,
            r.outcomes.filter((o) => eventIds.includes(o.eventId)),
            OUTBOX,
          ),
      ),
    markPublished: (requestId, eventIds) =>
      cas(
        requestId,
        () => true,
        (r) => ({ unpublished: r.unpublished.filter((id) => !eventIds.includes(id)) }),
      ).then(() => undefined),
    // Pending since its oldest pending event was made (the store keeps the write's instant).
    unpublishedBefore: (before) =>
      Promise.resolve(
        [...records.values()].filter((r) =>
          r.outcomes.some(
            (o) => r.unpublished.includes(o.eventId) && Date.parse(o.occurredAt) < before.getTime(),
          ),
        ),
      ),
    inDoubtBefore: (before, limit) =>
      Promise.resolve(
        [...records.values()]
          .filter(
            (r) =>
              r.state === "in_doubt" &&
              (inDoubtSince.get(r.requestId) ?? Infinity) < before.getTime(),
          )
          .slice(0, limit),
      ),
    oldestInDoubt: () => {
      const since = [...records.values()]
        .filter((r) => r.state === "in_doubt")
        .map((r) => inDoubtSince.get(r.requestId) ?? Infinity);
      const oldest = Math.min(...since);
      return Promise.resolve(Number.isFinite(oldest) ? new Date(oldest) : undefined);
    },
    recentCallTimes: () => Promise.resolve([]),
    recentPairCalls: (number, recipient, since) =>
      Promise.resolve(
        [...records.values()].flatMap((r) =>
          r.number === number &&
          recipients.get(r.requestId) === recipient &&
          r.calledAt !== undefined &&
          r.calledAt > since.getTime()
            ? [r.calledAt]
            : [],
        ),
      ),
    latestCallAt: (number, since) => {
      const times = [...records.values()].flatMap((r) =>
        r.number === number && r.calledAt !== undefined && r.calledAt > since.getTime()
          ? [r.calledAt]
          : [],
      );
      return Promise.resolve(times.length > 0 ? Math.max(...times) : undefined);
    },
    ensureIndexes: () => Promise.resolve(),
  };
}

/**
 * A record's outlet that keeps what it is handed in `published` (its outbox too, which keeps
 * the events it is handed in the same list), as a consumer's would.
 */
export function testOutlet(published: AnyEvent[], origin: Origin = "dispatch:0:0"): DispatchOutlet {
  const outbox: DispatchOutlet = {
    origin: OUTBOX,
    publish: (_requestId, events) => {
      published.push(...events);
      return Promise.resolve();
    },
    get outbox(): DispatchOutlet {
      return outbox;
    },
  };
  return {
    origin,
    publish: (_requestId, events) => {
      published.push(...events);
      return Promise.resolve();
    },
    outbox,
  };
}

/**
 * A dispatch handler over one number's lane, every gate open, no retry jitter, observers, logger
 * and parking doing nothing: the tests' default wiring around the store and Graph they give.
 */
export function testDispatchHandler({
  number,
  lane,
  attempts,
  graph,
  clock,
  callBoundMs = 30_000,
  gates = {
    view: () => Promise.resolve({}),
    consent: () => Promise.resolve(),
    window: () => Promise.resolve(),
  },
  gateFreshMs,
  revocations,
}: {
  readonly number: string;
  readonly lane: NumberLane;
  readonly attempts: AttemptStore;
  readonly graph: GraphSend;
  readonly clock: () => number;
  readonly callBoundMs?: number;
  readonly gates?: GateStore;
  readonly gateFreshMs?: number;
  readonly revocations?: RevocationNotices;
}) {
  return createDispatchHandler({
    lane: (n) => (n === number ? lane : undefined),
    attempts,
    gates,
    ...(gateFreshMs === undefined ? {} : { gateFreshMs }),
    ...(revocations === undefined ? {} : { revocations }),
    graph,
    clock,
    random: () => 0.5,
    policy: { retry: defaultRetryPolicy, maxPacedAttempts: 3 },
    callBoundMs,
    windowRecheckMs: 0,
    observer: { outcome: () => undefined, graphCall: () => undefined, inFlight: () => undefined },
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    parking: { park: () => Promise.resolve() },
  });
}
