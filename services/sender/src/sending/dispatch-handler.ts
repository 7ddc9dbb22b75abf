import { randomUUID } from "node:crypto";
import type { SendResult } from "@parley/cloud-api";
import type { AnyEvent, EventData, EventOf } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import {
  decide,
  evolve,
  initialState,
  type DispatchEvent,
  type DispatchState,
} from "../domain/dispatch.js";
import {
  decideFailure,
  type CallFailure,
  type FailureDecision,
  type FailurePolicy,
} from "../domain/failure.js";
import { decideGate, type GateDecision } from "../domain/gate.js";
import { decideReplay } from "../domain/attempt.js";
import type {
  AttemptStore,
  DispatchOutlet,
  GateStore,
  OutcomeOutlet,
  StoredAttempt,
} from "../domain/ports.js";
import type { NumberLane, Slot } from "./lanes.js";
import type { CallPermits } from "./permits.js";
import { parleyMediaIds, withGraphMediaIds } from "../domain/media.js";
import type { DispatchParking, MediaResolver, RecordAt } from "./ports.js";
import type { RevocationNotices } from "./revocations.js";
import { resolveMedia } from "./media-resolve.js";
import { outcomesOf, sentTemplateOf, type Outcome } from "./outcomes.js";
import { sleep } from "./abort-hub.js";
import { sleepUntil, StoppedError } from "./sleep.js";

export type { Outcome } from "./outcomes.js";

/** The Graph call, with its failure already described for the pure policy. */
export type GraphSend = (
  number: string,
  d: EventData<"DispatchMessage">,
) => Promise<{ ok: true; result: SendResult } | { ok: false; failure: CallFailure }>;

export interface SenderObserver {
  outcome(type: Outcome["type"], number: string): void;
  graphCall(number: string, seconds: number, result: string): void;
  inFlight(delta: number): void;
  /** Time one stage of a send took (pacing, gate, claim, slot, call, settle, publish). */
  stage?(name: string, ms: number): void;
}

export interface SenderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A request failed for good after retries: the runner dead-letters the dispatch with this reason. */
export class DeadLetterError extends ParleyError {
  override readonly name = "DeadLetterError";
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { retry: "never", context });
  }
}

export interface DispatchHandlerDeps {
  readonly lane: (number: string) => NumberLane | undefined;
  readonly attempts: AttemptStore;
  readonly gates: GateStore;
  readonly graph: GraphSend;
  /** Graph calls in flight, at most one per pooled socket (taken while the fence is written). */
  readonly permits?: CallPermits;
  readonly clock: () => number;
  readonly random: () => number;
  readonly policy: FailurePolicy;
  /** The longest a live Graph call can take (timeout plus slack): past it "calling" is a crash. */
  readonly callBoundMs: number;
  /** A closed window is read once more after this long (the gate consumer may lag behind the router). */
  readonly windowRecheckMs: number;
  /** Authentication templates exempt from an opt-out of everything (decideGate). */
  readonly authenticationExempt?: boolean;
  /** A gate view older than this when the slot comes is read again before the call (default 1 s). */
  readonly gateFreshMs?: number;
  /**
   * Opt-outs this process applied lately: a gate view older than one is read again before the
   * call (ADR 0006, "A revocation heard before the call"); none: the view's age alone.
   */
  readonly revocations?: RevocationNotices;
  readonly observer: SenderObserver;
  readonly logger: SenderLogger;
  /** The configuration key (and file) a number's token comes from, named when Graph refuses it. */
  readonly secretOf?: ((number: string) => string | undefined) | undefined;
  /**
   * Durable parking (`parking.ts`): the handler parks a dispatch whose number paused on its way
   * to the call (the dispatch consumer sets aside those that park on arrival).
   */
  readonly parking: Pick<DispatchParking, "park">;
  /**
   * The media service, for content naming Parley uploads (`up_...`); undefined: none is
   * configured, and such a request fails without a call.
   */
  readonly media?: MediaResolver | undefined;
  /** Waits between two tries of the media service while it is out (default 1 s doubling to 30 s). */
  readonly mediaRetry?: { readonly initialMs: number; readonly maxMs: number };
  /**
   * Called once a request is recorded in doubt, or found in doubt by a replay (the reconciler
   * checks for a status that came first); what it publishes goes out through `outlet` too.
   */
  readonly afterInDoubt?: (requestId: string, outlet: OutcomeOutlet) => Promise<void>;
}

/**
 * Handles one DispatchMessage by running the dispatch state machine (`domain/dispatch.ts`):
 * each step it decides is performed here and what it found is fed back. At most one Graph call
 * that may reach Meta per recorded `calling` (the fence, compared on the owner's epoch, written
 * while the slot's instant comes); consent, window and expiry checked before it; every outcome
 * stored with its origin (the record's, or the outbox) before it is handed to the outlet, so the
 * same record coming again publishes the same event again, and no other record does.
 */
export function createDispatchHandler(deps: DispatchHandlerDeps) {
  const { attempts, gates, clock, observer, logger } = deps;
  const instance = randomUUID().slice(0, 8);
  let handled = 0;

  const emit = async (
    outlet: OutcomeOutlet,
    requestId: string,
    events: readonly AnyEvent[],
    number: string,
  ): Promise<void> => {
    await outlet.publish(requestId, events);
    for (const e of events) observer.outcome(e.type as Outcome["type"], number);
  };

  /** A settled request met again: only what this outlet owes is published (`decideReplay`). */
  const replay = async (stored: StoredAttempt, outlet: OutcomeOutlet): Promise<void> => {
    const { publish, adopt } = decideReplay(stored.outcomes, stored.origins, outlet);
    const ids = new Set(publish);
    if (adopt.length > 0 && outlet.adopts !== undefined) {
      if (await attempts.adopt(stored.requestId, outlet.adopts, adopt))
        for (const id of adopt) ids.add(id);
    }
    const events = stored.outcomes.filter((o) => ids.has(o.eventId));
    if (events.length > 0) await outlet.publish(stored.requestId, events);
  };

  const viewGate = async (d: EventData<"DispatchMessage">, number: string, signal: AbortSignal) => {
    const options = { authenticationExempt: deps.authenticationExempt ?? false };
    let decision = decideGate(d, await gates.view(d.contactId, number), clock(), options);
    if (
      decision.kind === "rejected" &&
      decision.reason === "outside_window" &&
      deps.windowRecheckMs > 0
    ) {
      if (!(await sleep(deps.windowRecheckMs, signal))) throw new StoppedError();
      decision = decideGate(d, await gates.view(d.contactId, number), clock(), options);
    }
    return decision;
  };

  /**
   * `outlet` takes the outcomes (the record's transaction, or the outbox for a parked dispatch).
   * `at` is the record's place for a dispatch from the topic; a dispatch taken from the park has
   * none (it is parked already). "parked" when the number paused on the way: the dispatch waits
   * in the park, its record stays `claimed`, and whoever handles it next takes it over.
   */
  async function handle(
    dispatch: EventOf<"DispatchMessage">,
    signal: AbortSignal,
    outlet: DispatchOutlet,
    at?: RecordAt,
  ): Promise<"finished" | "parked"> {
    const d = dispatch.data;
    const number = dispatch.businessNumber ?? "";
    const lane = deps.lane(number);
    const owner = `${instance}-${String(++handled)}`;
    const events = outcomesOf(dispatch, clock);
    let s = initialState({
      dispatchId: dispatch.eventId,
      numberKnown: lane !== undefined,
      freeForm: d.content.type !== "template",
      gateFreshMs: deps.gateFreshMs ?? 1_000,
      callBoundMs: deps.callBoundMs,
      mediaToResolve: parleyMediaIds(d.content).length > 0,
    });
    const apply = (...events: DispatchEvent[]): void => {
      for (const e of events) s = evolve(s, e);
    };
    let mark = clock();
    const stage = (name: string): void => {
      const now = clock();
      observer.stage?.(name, now - mark);
      mark = now;
    };
    let stored: StoredAttempt | undefined;
    let slot: Slot | undefined;
    let releasePermit = (): void => undefined;
    let calledAt = 0;
    let result: SendResult | undefined;
    const freeSlot = (): void => {
      slot?.cancel();
      slot = undefined;
      releasePermit();
      releasePermit = () => undefined;
    };
    let admitted = (): void => undefined;
    if (lane) observer.inFlight(1);
    try {
      // A backlog waits here, in arrival order, about half a second of the number's cap ahead of
      // its rate (NumberLane.admit); admitted until its call is answered or it ends without one.
      if (lane) {
        admitted = await lane.admit(signal);
        stage("admit");
      }
      for (;;) {
        const step = decide(s, clock());
        switch (step.kind) {
          case "await-recipient":
            if (!lane) throw new Error("no lane for a known number");
            apply({
              type: (await lane.recipientReady(d.to, signal)) ? "RecipientReady" : "NumberPaused",
            });
            stage("pacing");
            break;
          case "view-gate": {
            // A view is as old as its read's start (an opt-out during the read may be missing).
            const asked = clock();
            apply({ type: "GateViewed", decision: await viewGate(d, number, signal), at: asked });
            stage("gate");
            break;
          }
          case "recheck-gate": {
            const asked = clock();
            let decision: GateDecision;
            try {
              decision = await viewGate(d, number, signal);
            } catch (error) {
              // No call: the fence undone, a redelivery decides again (else the crash path).
              freeSlot();
              await attempts.unfence(d.requestId, s.epoch ?? 0).catch(() => false);
              throw error;
            }
            apply({ type: "GateViewed", decision, at: asked });
            calledAt = clock(); // a call after the read leaves now, not at the fence's instant
            stage("gate");
            break;
          }
          case "unfence":
            freeSlot();
            apply(
              (await attempts.unfence(d.requestId, s.epoch ?? 0))
                ? { type: "Unfenced" }
                : { type: "FenceLost" },
            );
            break;
          case "finish-without-call": {
            const event = events.noCall(step.outcome, s.lateFallback, s.calls);
            const won = step.owned
              ? await attempts.settle({
                  requestId: d.requestId,
                  epoch: s.epoch ?? 0,
                  from: "claimed",
                  state: "done",
                  outcomes: [event],
                  at: new Date(clock()),
                  origin: outlet.origin,
                })
              : await attempts.claim({
                  requestId: d.requestId,
                  number,
                  contactId: d.contactId,
                  bizOpaqueCallbackData: d.bizOpaqueCallbackData,
                  at: new Date(clock()),
                  owner,
                  finishedWith: event,
                  origin: outlet.origin,
                });
            if (won) {
              await emit(outlet, d.requestId, [event], number);
              apply({ type: "Finished" });
            } else apply({ type: step.owned ? "FenceLost" : "RecordExists" });
            break;
          }
          case "read-record":
            stored = await attempts.get(d.requestId);
            apply({ type: "RecordRead", record: stored });
            break;
          case "take-over": {
            const won = await attempts.takeOver(d.requestId, step.epoch, owner, new Date(clock()));
            apply(
              won
                ? { type: "Claimed", epoch: step.epoch + 1, calls: stored?.calls ?? 0 }
                : { type: "TakeOverLost" },
            );
            break;
          }
          case "wait":
            if (!(await sleep(Math.min(1_000, step.untilMs - clock()), signal)))
              throw new StoppedError();
            apply({ type: "Waited" });
            break;
          case "replay":
            if (stored) await replay(stored, outlet);
            // A crash may have cut short the resolution from a status that came first.
            if (stored?.state === "in_doubt") await deps.afterInDoubt?.(d.requestId, outlet);
            return "finished";
          case "mark-in-doubt": {
            const event = events.inDoubt("crash_recovery", step.calledAt);
            if (
              !(await attempts.markInDoubt(
                d.requestId,
                stored?.epoch ?? 0,
                event,
                new Date(clock()),
                outlet.origin,
              ))
            ) {
              apply({ type: "TakeOverLost" });
              break;
            }
            await inDoubt(dispatch, number, event, "crash_recovery", outlet);
            return "finished";
          }
          case "resolve-media":
            apply(
              await resolveMedia(
                { media: deps.media, retry: deps.mediaRetry, logger },
                d,
                number,
                signal,
              ),
            );
            stage("media");
            break;
          case "await-slot": {
            if (!lane) throw new Error("no lane for a known number");
            const granted = await lane.turn(d.to, signal);
            if (granted === undefined) apply({ type: "NumberPaused" });
            else {
              slot = granted;
              apply({ type: "SlotGranted", slotAt: granted.slotAt });
            }
            break;
          }
          case "fence": {
            // The fence is written while the slot's instant comes and a socket frees up.
            const first = step.first === true;
            const [fencing, waited, permit] = await Promise.allSettled([
              fence(dispatch, number, owner, s, step.recheckGate, first, signal),
              sleepUntil(step.slotAt, clock, signal),
              deps.permits?.acquire(signal, number),
            ]);
            if (permit.status === "fulfilled" && permit.value) releasePermit = permit.value;
            const won = fencing.status === "fulfilled" && fencing.value.won;
            if (fencing.status === "rejected" || waited.status === "rejected" || signal.aborted) {
              // No call: a fence written meanwhile is undone, so a redelivery sends it.
              if (won) await attempts.release(d.requestId, first ? 1 : (s.epoch ?? 0));
              if (fencing.status === "rejected") throw fencing.reason;
              throw new StoppedError();
            }
            const fenced = fencing.value;
            if (fenced.gate)
              apply({ type: "GateViewed", decision: fenced.gate.decision, at: fenced.gate.at });
            if (fenced.gate && fenced.gate.decision.kind !== "send") freeSlot();
            else if (!fenced.won) {
              freeSlot();
              // A first record lost to one already there (another dispatch of the request): read it.
              apply({ type: first ? "RecordExists" : "FenceLost" });
            } else {
              // The call leaves no earlier than its slot (the wait above), on a free socket.
              calledAt = clock();
              apply(first ? { type: "Fenced", epoch: 1 } : { type: "Fenced" });
            }
            stage("slot");
            break;
          }
          case "call": {
            // The last look before the hand-over: a newer opt-out heard goes to the decider.
            const heard = deps.revocations?.lastFor(d.contactId);
            if (heard !== undefined && heard !== s.revocationHeard) {
              apply({ type: "RevocationHeard", at: heard });
              break;
            }
            // The stored command keeps the Parley ids; only the call carries Graph's.
            const r = await deps.graph(
              number,
              s.media?.kind === "resolved"
                ? { ...d, content: withGraphMediaIds(d.content, s.media.graphIds) }
                : d,
            );
            const answeredAt = clock();
            // The slot stays reserved while the call is out; the rate log learns both instants.
            slot?.sent(calledAt, answeredAt);
            slot = undefined;
            releasePermit();
            releasePermit = () => undefined;
            admitted();
            stage("call");
            observer.graphCall(
              number,
              (answeredAt - calledAt) / 1_000,
              r.ok ? "accepted" : r.failure.kind,
            );
            if (r.ok) {
              result = r.result;
              lane?.accepted(d.to, calledAt);
              apply({ type: "Answered", answer: { kind: "accepted" } });
            } else {
              const answer = decideFailure(r.failure, s.calls, deps.policy, deps.random);
              // At once: the number's other sends are deciding meanwhile.
              if (lane) refusedBy(answer, calledAt, number, d.to, lane);
              apply({ type: "Answered", answer });
            }
            break;
          }
          case "settle-accepted": {
            const r = result;
            if (!r) throw new Error("settle-accepted without a result");
            const event = events.accepted(r, s.calls, s.lateFallback);
            if (await settleCall(d.requestId, s, "done", event, outlet, r.wamid)) {
              stage("settle");
              await emit(outlet, d.requestId, [event], number);
              stage("publish");
            }
            return "finished";
          }
          case "settle-in-doubt": {
            const event = events.inDoubt(step.reason, calledAt);
            if (await settleCall(d.requestId, s, "in_doubt", event, outlet))
              await inDoubt(dispatch, number, event, step.reason, outlet);
            return "finished";
          }
          case "settle-failed": {
            const event = events.failed(step.error, s.calls, s.lateFallback);
            // A dead-lettered record's outputs are its dead letter alone: its outcome goes
            // through the outbox instead (the runner drops what a failed handler handed over).
            const via = step.deadLetter ? outlet.outbox : outlet;
            if (!(await settleCall(d.requestId, s, "done", event, via))) return "finished";
            await emit(via, d.requestId, [event], number);
            if (step.deadLetter) {
              const e = step.error;
              throw new DeadLetterError(
                `send failed after ${String(s.calls)} calls: ${e.errorClass}${e.code !== undefined ? ` (#${String(e.code)})` : ""} ${e.details ?? ""}`.trim(),
                { requestId: d.requestId, businessNumber: number, code: e.code },
              );
            }
            return "finished";
          }
          case "release":
            await attempts.release(d.requestId, s.epoch ?? 0);
            if (step.effect === "retry")
              logger.warn(
                {
                  requestId: d.requestId,
                  businessNumber: number,
                  attempt: s.calls,
                  delayMs: step.delayMs,
                },
                "Graph refused the send; retrying with back-off",
              );
            if (step.delayMs > 0 && !(await sleep(step.delayMs, signal))) throw new StoppedError();
            apply({ type: "Released" });
            break;
          case "park":
            if (at !== undefined) await deps.parking.park(number, at, dispatch, "paused");
            return "parked";
          case "abandon":
            logger.info(
              { requestId: d.requestId, businessNumber: number },
              "another owner took the request over before its call: left to it",
            );
            return "finished";
          case "done":
            return "finished";
        }
      }
    } finally {
      // Whatever left the loop before the call (a stop, a failure) gives the slot back.
      freeSlot();
      admitted();
      if (lane) observer.inFlight(-1);
    }
  }

  /**
   * The fence, written while the slot's instant comes: `calling` under our epoch, after reading
   * the gate again when the last view is stale (an opt-out that arrived during a long wait). A
   * first send's fence is its record's insert, already `calling` (epoch 1, one call): the claim
   * and the fence in one write; false when the request has a record already.
   */
  async function fence(
    dispatch: EventOf<"DispatchMessage">,
    number: string,
    owner: string,
    s: DispatchState,
    recheckGate: boolean,
    first: boolean,
    signal: AbortSignal,
  ): Promise<{ won: boolean; gate?: { decision: GateDecision; at: number } }> {
    const d = dispatch.data;
    let gate: { decision: GateDecision; at: number } | undefined;
    if (recheckGate) {
      const at = clock();
      gate = { decision: await viewGate(d, number, signal), at };
      if (gate.decision.kind !== "send") return { won: false, gate };
    }
    const now = new Date(clock());
    // A late fallback is read from the record: free-form content with a template fallback keeps its dispatch.
    const keep = d.content.type !== "template" && d.templateFallback !== undefined;
    const won = first
      ? await attempts.claim({
          requestId: d.requestId,
          number,
          recipient: d.to,
          contactId: d.contactId,
          bizOpaqueCallbackData: d.bizOpaqueCallbackData,
          at: now,
          owner,
          calledAt: now,
          ...(keep ? { dispatch } : {}),
          ...sentTemplateOf(d),
        })
      : await attempts.fence(d.requestId, s.epoch ?? 0, now);
    return gate === undefined ? { won } : { won, gate };
  }

  /** Stores a call's outcome under our epoch; false when the record moved on (left to its new owner). */
  function settleCall(
    requestId: string,
    s: DispatchState,
    state: "done" | "in_doubt",
    event: AnyEvent,
    outlet: OutcomeOutlet,
    wamid?: string,
  ): Promise<boolean> {
    return attempts.settle({
      requestId,
      epoch: s.epoch ?? 0,
      from: "calling",
      state,
      outcomes: [event],
      at: new Date(clock()),
      origin: outlet.origin,
      ...(wamid !== undefined ? { wamid } : {}),
    });
  }

  async function inDoubt(
    dispatch: EventOf<"DispatchMessage">,
    number: string,
    event: AnyEvent,
    reason: string,
    outlet: OutcomeOutlet,
  ): Promise<void> {
    logger.warn(
      { requestId: dispatch.data.requestId, businessNumber: number, reason },
      "send in doubt: never resent; waiting for its status webhook or the in-doubt timeout",
    );
    await emit(outlet, dispatch.data.requestId, [event], number);
    // Its status webhook may have come while the result was unknown: resolve from it now.
    await deps.afterInDoubt?.(dispatch.data.requestId, outlet);
  }

  /** What a refused call tells the number's lane: a hold, a paced recipient, a pause, or none. */
  function refusedBy(
    answer: FailureDecision,
    calledAt: number,
    number: string,
    to: string,
    lane: NumberLane,
  ): void {
    if (answer.kind === "hold-number") {
      if (lane.heldBy === undefined)
        logger.warn(
          { businessNumber: number, code: answer.code },
          "Graph holds the whole number: its sends wait, one probe at a time, until it takes sends again (runbook: docs/runbooks/sender.md)",
        );
      lane.held(answer.code, calledAt);
      return;
    }
    // Any other answer means the number took the call: a hold it was probing ends.
    lane.answered(calledAt);
    if (answer.kind === "pace-recipient") lane.pace(to);
    if (answer.kind === "pause-number") {
      const code = answer.error.code ?? 190;
      if (!lane.paused) {
        const secret = deps.secretOf?.(number);
        logger.error(
          { businessNumber: number, code, configKey: secret, alert: "sender_number_paused" },
          `access token refused (0/190): number paused, its dispatches are parked; fix the secret ${secret ?? "holding its token"} (runbook: docs/runbooks/sender.md)`,
        );
      }
      lane.pause({ code, since: clock(), detail: answer.error.title ?? "access token refused" });
    }
  }

  return handle;
}
