import type { SendResult } from "@parley/cloud-api";
import { createEvent, type AnyEvent, type EventData, type EventOf } from "@parley/contracts";
import { decideRedelivery } from "../domain/attempt.js";
import {
  decideFailure,
  type CallFailure,
  type FailurePolicy,
  type SendError,
} from "../domain/failure.js";
import { decideGate } from "../domain/gate.js";
import type { DispatchParking, RecordAt } from "../adapters/kafka/consumers.js";
import type { AttemptStore } from "../adapters/store/attempt-store.js";
import type { GateStore } from "../adapters/store/gate-store.js";
import type { NumberLane, Slot } from "./lanes.js";
import type { CallPermits } from "./permits.js";
import { sleep, sleepUntil, StoppedError } from "./sleep.js";

export type Outcome = EventOf<
  "SendAccepted" | "SendRejected" | "SendFailed" | "SendExpired" | "SendInDoubt" | "SendReconciled"
>;

/** The Graph call, with its failure already described for the pure policy. */
export type GraphSend = (
  number: string,
  d: EventData<"DispatchMessage">,
) => Promise<{ ok: true; result: SendResult } | { ok: false; failure: CallFailure }>;

export interface SenderObserver {
  outcome(type: Outcome["type"], number: string): void;
  graphCall(number: string, seconds: number, result: string): void;
  inFlight(delta: number): void;
  /** Time one stage of a send took (lookup, gate, claim, slot, call, settle, publish). */
  stage?(name: string, ms: number): void;
}

export interface SenderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A request failed for good after retries: the runner dead-letters the dispatch with this reason. */
export class DeadLetterError extends Error {
  override readonly name = "DeadLetterError";
  readonly retriable = false;
}

export interface DispatchHandlerDeps {
  readonly lane: (number: string) => NumberLane | undefined;
  readonly attempts: AttemptStore;
  readonly gates: GateStore;
  readonly graph: GraphSend;
  /** Graph calls in flight, at most one per pooled socket (taken after the rate slot). */
  readonly permits?: CallPermits;
  readonly publish: (events: readonly AnyEvent[]) => Promise<void>;
  readonly clock: () => number;
  readonly random: () => number;
  readonly policy: FailurePolicy;
  /** The longest a live Graph call can take (timeout plus slack): past it "calling" is a crash. */
  readonly callBoundMs: number;
  /** A closed window is read once more after this long (the gate consumer may lag behind the router). */
  readonly windowRecheckMs: number;
  readonly observer: SenderObserver;
  readonly logger: SenderLogger;
  /**
   * Durable parking (`parking.ts`): the handler parks a dispatch whose number paused on its way
   * to the call (the dispatch consumer sets aside those that park on arrival).
   */
  readonly parking: Pick<DispatchParking, "park">;
  /** Called once a request is recorded in doubt (the reconciler checks for an early status). */
  readonly afterInDoubt?: (requestId: string) => Promise<void>;
}

/**
 * Handles one DispatchMessage: at most one Graph call that may reach Meta (attempt recorded
 * before it), consent/window/expiry checked right before it, exactly one terminal outcome
 * (stored before it is published, so a redelivery publishes the same event again).
 */
export function createDispatchHandler(deps: DispatchHandlerDeps) {
  const { attempts, gates, clock, publish, observer, logger } = deps;

  const outcome = <T extends Outcome["type"]>(
    dispatch: EventOf<"DispatchMessage">,
    type: T,
    extra: Omit<EventData<T>, "requestId" | "idempotencyKey" | "contactId">,
  ): EventOf<T> => {
    const d = dispatch.data;
    return createEvent(
      type,
      {
        requestId: d.requestId,
        idempotencyKey: d.idempotencyKey,
        contactId: d.contactId,
        ...(d.consentEventId === undefined ? {} : { consentEventId: d.consentEventId }),
        ...extra,
      } as EventData<T>,
      {
        correlationId: dispatch.correlationId,
        causationId: dispatch.eventId,
        ...(dispatch.businessNumber !== undefined
          ? { businessNumber: dispatch.businessNumber }
          : {}),
        now: new Date(clock()),
      },
    );
  };

  const emit = async (events: readonly AnyEvent[], number: string): Promise<void> => {
    await publish(events);
    for (const e of events) observer.outcome(e.type as Outcome["type"], number);
  };

  /**
   * A terminal outcome decided before any call, recorded so a redelivery repeats it, then
   * published. With no record known, one insert records it with its outcome; false when a record
   * existed already (a redelivery): the caller resolves the request from that record instead.
   */
  const finishWithoutCall = async (
    recorded: boolean,
    dispatch: EventOf<"DispatchMessage">,
    number: string,
    event: Outcome,
  ): Promise<boolean> => {
    const d = dispatch.data;
    if (!recorded) {
      const won = await attempts.claim({
        requestId: d.requestId,
        number,
        contactId: d.contactId,
        bizOpaqueCallbackData: d.bizOpaqueCallbackData,
        at: new Date(clock()),
        afterCalls: 0,
        finishedWith: event,
      });
      if (!won) return false;
    } else await attempts.settle(d.requestId, "done", [event], new Date(clock()));
    await emit([event], number);
    return true;
  };

  const inDoubt = async (
    dispatch: EventOf<"DispatchMessage">,
    number: string,
    reason: "timeout" | "connection_lost" | "crash_recovery",
    attemptedAt: number,
  ): Promise<void> => {
    const event = outcome(dispatch, "SendInDoubt", {
      bizOpaqueCallbackData: dispatch.data.bizOpaqueCallbackData,
      reason,
      attemptedAt: new Date(attemptedAt).toISOString(),
    });
    await attempts.settle(dispatch.data.requestId, "in_doubt", [event], new Date(clock()));
    logger.warn(
      { requestId: dispatch.data.requestId, businessNumber: number, reason },
      "send in doubt: never resent; waiting for its status webhook or the in-doubt timeout",
    );
    await emit([event], number);
    // Its status webhook may have come while the result was unknown: resolve from it now.
    await deps.afterInDoubt?.(dispatch.data.requestId);
  };

  const failed = (dispatch: EventOf<"DispatchMessage">, error: SendError, calls: number): Outcome =>
    outcome(dispatch, "SendFailed", { error, phase: "sync", attempts: calls });

  /**
   * A record exists for the request (its first claim lost to it): what it says decides. Returns
   * undefined when the request is finished (stored outcome published again, or now in doubt),
   * else the calls already made, all definitely refused: the request may call again.
   */
  const resolveRecorded = async (
    dispatch: EventOf<"DispatchMessage">,
    number: string,
    signal: AbortSignal,
  ): Promise<number | undefined> => {
    const d = dispatch.data;
    for (;;) {
      const existing = await attempts.get(d.requestId);
      const next = decideRedelivery(existing, clock(), deps.callBoundMs);
      switch (next.kind) {
        case "replay":
          if (existing && existing.outcomes.length > 0) await publish(existing.outcomes);
          return undefined;
        case "in-doubt":
          await inDoubt(dispatch, number, "crash_recovery", existing?.attemptedAt ?? clock());
          return undefined;
        case "send":
          // "refused" after that many calls (0: no record any more, a first claim again).
          return existing?.calls ?? 0;
        case "wait":
          if (!(await sleep(Math.min(1_000, next.untilMs - clock()), signal)))
            throw new StoppedError();
      }
    }
  };

  /**
   * `at` is the record's place for a dispatch from the topic; a dispatch taken from the park has
   * none (it is parked already). "parked" when the number paused on the way: the dispatch
   * waits in the park, and its record may complete. (Dispatches that park on arrival are set
   * aside before they reach here: DispatchParking.setAside.)
   */
  async function handle(
    dispatch: EventOf<"DispatchMessage">,
    signal: AbortSignal,
    at?: RecordAt,
  ): Promise<"finished" | "parked"> {
    const d = dispatch.data;
    const number = dispatch.businessNumber ?? "";
    let mark = clock();
    const stage = (name: string): void => {
      const now = clock();
      observer.stage?.(name, now - mark);
      mark = now;
    };
    // No read first: the first claim is an insert that fails on a duplicate request id, and only
    // then (a redelivery) is the record read. `calls` counts the calls recorded so far.
    let calls = 0;
    const lane = deps.lane(number);
    if (!lane) {
      const event = outcome(dispatch, "SendRejected", {
        reason: "unknown_sender",
        detail: `business number ${number} is not in this sender's number directory`,
      });
      for (;;) {
        if (await finishWithoutCall(calls > 0, dispatch, number, event)) return "finished";
        const made = await resolveRecorded(dispatch, number, signal);
        if (made === undefined) return "finished";
        calls = made;
      }
    }
    const parkHere = async (): Promise<"parked"> => {
      if (at !== undefined) await deps.parking.park(number, at, dispatch, "paused");
      return "parked";
    };
    observer.inFlight(1);
    try {
      for (;;) {
        // Pacing and pause first; the last look and the attempt record next; the rate slot
        // last, so a reserved slot is never held across MongoDB round trips.
        if (!(await lane.recipientReady(d.to, signal))) return await parkHere();
        stage("pacing");
        let view = await gates.view(d.contactId, number);
        let gate = decideGate(d, view, clock());
        if (
          gate.kind === "rejected" &&
          gate.reason === "outside_window" &&
          deps.windowRecheckMs > 0
        ) {
          if (!(await sleep(deps.windowRecheckMs, signal))) throw new StoppedError();
          view = await gates.view(d.contactId, number);
          gate = decideGate(d, view, clock());
        }
        if (gate.kind !== "send") {
          const event =
            gate.kind === "expired"
              ? outcome(dispatch, "SendExpired", {
                  validUntil: d.validUntil ?? "",
                  stage: "sender",
                })
              : outcome(dispatch, "SendRejected", { reason: gate.reason, detail: gate.detail });
          if (await finishWithoutCall(calls > 0, dispatch, number, event)) return "finished";
          // A record existed: a redelivery. What it says wins over this rejection.
          const made = await resolveRecorded(dispatch, number, signal);
          if (made === undefined) return "finished";
          calls = made;
          continue;
        }
        stage("gate");
        const owned = await attempts.claim({
          requestId: d.requestId,
          number,
          contactId: d.contactId,
          bizOpaqueCallbackData: d.bizOpaqueCallbackData,
          at: new Date(clock()),
          afterCalls: calls,
        });
        stage("claim");
        if (!owned) {
          // A record existed (a redelivery) or someone else recorded a call meanwhile: never
          // call twice; the record decides (replay, wait, in doubt, or a call after a refusal).
          const made = await resolveRecorded(dispatch, number, signal);
          if (made === undefined) return "finished";
          calls = made;
          continue;
        }
        calls++;
        let slot: Slot;
        let release = (): void => undefined;
        try {
          const granted = await lane.turn(d.to, signal);
          if (granted === undefined) {
            // Paused while waiting for a slot: no call made, the record goes back to "refused".
            await attempts.refused(d.requestId);
            return await parkHere();
          }
          slot = granted;
          if (!(await sleepUntil(slot.slotAt, clock, signal))) {
            slot.cancel();
            throw new StoppedError();
          }
          // A free socket last, so the call leaves at the instant the rate log records.
          if (deps.permits) {
            const permit = await deps.permits.acquire(signal, number);
            if (!permit) {
              slot.cancel();
              throw new StoppedError();
            }
            release = permit;
          }
        } catch (error) {
          // No call was made: the record goes back to "refused" so a redelivery may call.
          await attempts.refused(d.requestId);
          throw error;
        }
        stage("slot");
        const callAt = clock();
        {
          const startedAt = callAt;
          let r: Awaited<ReturnType<GraphSend>>;
          try {
            r = await deps.graph(number, d);
          } finally {
            // The slot stays reserved while the call is out; the rate log learns both instants
            // (the call left no earlier than its slot: sleepUntil above).
            slot.sent(startedAt, clock());
            release();
          }
          stage("call");
          observer.graphCall(
            number,
            (clock() - startedAt) / 1_000,
            r.ok ? "accepted" : r.failure.kind,
          );
          if (r.ok) {
            lane.accepted(d.to);
            const event = outcome(dispatch, "SendAccepted", {
              wamid: r.result.wamid,
              ...(r.result.waId !== undefined ? { waId: r.result.waId } : {}),
              ...(r.result.messageStatus !== undefined
                ? { messageStatus: r.result.messageStatus }
                : {}),
              usedTemplateFallback: d.usedTemplateFallback,
              attempts: calls,
            });
            await attempts.settle(d.requestId, "done", [event], new Date(clock()));
            stage("settle");
            await emit([event], number);
            stage("publish");
            return "finished";
          }
          const decision = decideFailure(r.failure, calls, deps.policy, deps.random);
          switch (decision.kind) {
            case "in-doubt":
              await inDoubt(dispatch, number, decision.reason, callAt);
              return "finished";
            case "fail": {
              const event = failed(dispatch, decision.error, calls);
              await attempts.settle(d.requestId, "done", [event], new Date(clock()));
              await emit([event], number);
              if (decision.deadLetter) {
                throw new DeadLetterError(
                  `send failed after ${calls} calls: ${decision.error.errorClass}${decision.error.code !== undefined ? ` (#${decision.error.code})` : ""} ${decision.error.details ?? ""}`.trim(),
                );
              }
              return "finished";
            }
            case "retry":
              await attempts.refused(d.requestId);
              logger.warn(
                {
                  requestId: d.requestId,
                  businessNumber: number,
                  attempt: calls,
                  delayMs: decision.delayMs,
                  code: decision.error.code,
                },
                "Graph refused the send; retrying with back-off",
              );
              if (!(await sleep(decision.delayMs, signal))) throw new StoppedError();
              break;
            case "throttle-number":
              await attempts.refused(d.requestId);
              lane.throttle(decision.code, callAt);
              break;
            case "pace-recipient":
              await attempts.refused(d.requestId);
              lane.pace(d.to);
              break;
            case "pause-number":
              await attempts.refused(d.requestId);
              if (!lane.paused) {
                logger.error(
                  {
                    businessNumber: number,
                    code: decision.error.code,
                    alert: "sender_number_paused",
                  },
                  "access token refused (0/190): number paused, its dispatches are parked; fix the token (runbook: docs/runbooks/sender.md)",
                );
              }
              lane.pause({
                code: decision.error.code ?? 190,
                since: clock(),
                detail: decision.error.title ?? "access token refused",
              });
              break;
          }
        }
      }
    } finally {
      observer.inFlight(-1);
    }
  }

  return handle;
}
