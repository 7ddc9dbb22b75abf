import { decideRecorded, type AttemptView, type LateFallback } from "./attempt.js";
import type { FailureDecision, SendError } from "./failure.js";
import type { GateDecision } from "./gate.js";

/**
 * The dispatch of one request as a state machine: `decide` names the next step from what is
 * known so far, `evolve` folds in what the step found out. Both are pure; the executor
 * (`sending/dispatch-handler.ts`) performs each step and feeds back its event. The at-most-once
 * rule reads here: a call is made only in phase `fenced`, reached only through `Fenced`, which
 * the executor reports only after its write turned the record into `calling`: the insert of a
 * request's first record (the claim and the fence in one write, ADR 0006, "One write before the
 * call"), or the epoch-compared update of a record this dispatch owns.
 */

/** What is fixed for the whole dispatch. */
export interface DispatchFacts {
  /** The DispatchMessage's event id (a late fallback is owed to one dispatch only). */
  readonly dispatchId: string;
  /** The business number is in this sender's directory. */
  readonly numberKnown: boolean;
  /** The content is free-form (not a template): the service window applies. */
  readonly freeForm: boolean;
  /** A gate view older than this at the slot is read again before the fence (an opt-out meanwhile). */
  readonly gateFreshMs: number;
  /** The longest a live call can take (timeout plus slack): past it a `calling` record is a crash. */
  readonly callBoundMs: number;
  /** The content names Parley uploads (`up_` ids): each is resolved to a Graph media id before the slot. */
  readonly mediaToResolve?: boolean;
}

export type Phase =
  | "start"
  | "paused"
  | "ready"
  | "gated"
  | "recorded"
  | "record-read"
  | "owned"
  | "slotted"
  | "fenced"
  | "answered"
  | "lost"
  | "finished";

export interface DispatchState {
  readonly facts: DispatchFacts;
  readonly phase: Phase;
  /** The epoch this dispatch holds the request under (set by a claim or a take-over). */
  readonly epoch: number | undefined;
  /** Calls recorded for the request so far (every one of them definitely refused while we own it). */
  readonly calls: number;
  /** The request has a record: a first claim (an insert) cannot win any more. */
  readonly recorded: boolean;
  /** The last gate view: its decision, and when the read that gave it began. */
  readonly gate: { readonly decision: GateDecision; readonly at: number } | undefined;
  /**
   * When this process last applied an opt-out for the contact, if it heard of one while the
   * dispatch waited for its slot (`RevocationHeard`): a view older than it is read again before
   * the call (ADR 0006, "A revocation heard before the call").
   */
  readonly revocationHeard: number | undefined;
  readonly record: AttemptView | undefined;
  readonly slotAt: number | undefined;
  /** This dispatch is the request's late template fallback (read from the record it took over). */
  readonly lateFallback: LateFallback | undefined;
  readonly answer: Answer | undefined;
  /**
   * The Graph media ids of the content's Parley uploads, or why they cannot be had (the media
   * service refused: the object is gone, Graph refused the file, or no media service is set).
   */
  readonly media:
    | { readonly kind: "resolved"; readonly graphIds: Readonly<Record<string, string>> }
    | { readonly kind: "refused"; readonly detail: string }
    | undefined;
}

/** How the call went, with the failure already decided by `decideFailure`. */
export type Answer = { readonly kind: "accepted" } | FailureDecision;

export type DispatchEvent =
  | { readonly type: "RecipientReady" }
  | { readonly type: "NumberPaused" }
  | { readonly type: "GateViewed"; readonly decision: GateDecision; readonly at: number }
  | { readonly type: "Claimed"; readonly epoch: number; readonly calls: number }
  | { readonly type: "RecordExists" }
  | { readonly type: "RecordRead"; readonly record: AttemptView | undefined }
  | { readonly type: "TakeOverLost" }
  | { readonly type: "Waited" }
  | { readonly type: "SlotGranted"; readonly slotAt: number }
  /** The fence won; `epoch` when it was the request's first record (inserted `calling`). */
  | { readonly type: "Fenced"; readonly epoch?: number }
  /** This process applied an opt-out for the contact at `at` (its gates consumer). */
  | { readonly type: "RevocationHeard"; readonly at: number }
  /** A fence undone before its call (the gate refused on a second read): `claimed`, ours, no call counted. */
  | { readonly type: "Unfenced" }
  /** The record moved on under us (another owner took it over): no call, nothing to publish. */
  | { readonly type: "FenceLost" }
  | { readonly type: "Answered"; readonly answer: Answer }
  /** A refused call's record is back to `claimed` (ours), its lane effect and wait done. */
  | { readonly type: "Released" }
  /** Every Parley upload the content names has its Graph media id for the number. */
  | { readonly type: "MediaResolved"; readonly graphIds: Readonly<Record<string, string>> }
  /** One of them cannot be had: the request fails without a call. */
  | { readonly type: "MediaRefused"; readonly detail: string }
  | { readonly type: "Finished" };

/** An outcome decided without any call (its envelope is built by the executor). */
export type NoCallOutcome =
  | {
      readonly type: "SendRejected";
      readonly reason: "unknown_sender" | "opted_out" | "outside_window";
      readonly detail: string;
    }
  | { readonly type: "SendExpired" }
  /** A late fallback that may not go: the request ends on its free-form message's failure. */
  | { readonly type: "SendFailed"; readonly error: "late-fallback"; readonly detail: string }
  /** A Parley upload the content names cannot be sent (ADR 0013, "Outbound"). */
  | { readonly type: "SendFailed"; readonly error: "media"; readonly detail: string };

export type Step =
  | { readonly kind: "await-recipient" }
  | { readonly kind: "view-gate" }
  /** Insert the request's record with `outcome` (not owned), or settle it under our epoch (owned). */
  | {
      readonly kind: "finish-without-call";
      readonly outcome: NoCallOutcome;
      readonly owned: boolean;
    }
  | { readonly kind: "read-record" }
  | { readonly kind: "take-over"; readonly epoch: number }
  | { readonly kind: "wait"; readonly untilMs: number }
  | { readonly kind: "replay" }
  | { readonly kind: "mark-in-doubt"; readonly calledAt: number }
  /** Ask the media service for the Graph media ids of the content's Parley uploads (outages waited out). */
  | { readonly kind: "resolve-media" }
  | { readonly kind: "await-slot" }
  /**
   * Record `calling` under our epoch (after reading the gate again when `recheckGate`); `first`:
   * the request has no record yet and none is owned, so the fence is the insert of its first
   * record, already `calling` (a record there means another dispatch has it: read it).
   */
  | {
      readonly kind: "fence";
      readonly slotAt: number;
      readonly recheckGate: boolean;
      readonly first?: true;
    }
  | { readonly kind: "call" }
  /** Fenced, but an opt-out for the contact was applied after the gate was read: read it again. */
  | { readonly kind: "recheck-gate" }
  /** Fenced, and the gate read again refuses: undo the fence (no call), then finish without one. */
  | { readonly kind: "unfence" }
  | { readonly kind: "settle-accepted" }
  | { readonly kind: "settle-in-doubt"; readonly reason: "timeout" | "connection_lost" }
  | { readonly kind: "settle-failed"; readonly error: SendError; readonly deadLetter: boolean }
  /** Back to `claimed` (ours), apply the refusal to the lane, wait `delayMs`, then start over. */
  | {
      readonly kind: "release";
      readonly effect: "retry" | "hold-number" | "pace-recipient" | "pause-number";
      readonly delayMs: number;
    }
  | { readonly kind: "park" }
  | { readonly kind: "abandon" }
  | { readonly kind: "done" };

export function initialState(facts: DispatchFacts): DispatchState {
  return {
    facts,
    phase: "start",
    epoch: undefined,
    calls: 0,
    recorded: false,
    gate: undefined,
    revocationHeard: undefined,
    record: undefined,
    slotAt: undefined,
    lateFallback: undefined,
    answer: undefined,
    media: undefined,
  };
}

function noCallOutcome(s: DispatchState): NoCallOutcome | undefined {
  if (!s.facts.numberKnown)
    return {
      type: "SendRejected",
      reason: "unknown_sender",
      detail: "the business number is not in this sender's number directory",
    };
  const gate = s.gate?.decision;
  if ((gate === undefined || gate.kind === "send") && s.media?.kind === "refused")
    return { type: "SendFailed", error: "media", detail: s.media.detail };
  if (gate === undefined || gate.kind === "send") return undefined;
  if (s.lateFallback !== undefined)
    return {
      type: "SendFailed",
      error: "late-fallback",
      detail:
        gate.kind === "expired"
          ? "its template fallback was not sent: validUntil passed"
          : `its template fallback was not sent: ${gate.detail}`,
    };
  return gate.kind === "expired"
    ? { type: "SendExpired" }
    : { type: "SendRejected", reason: gate.reason, detail: gate.detail };
}

/** The next step, from the state alone (`now` for the record's timing). */
export function decide(s: DispatchState, now: number): Step {
  switch (s.phase) {
    case "start":
      return s.facts.numberKnown ? { kind: "await-recipient" } : finishWithoutCall(s);
    case "paused":
      return { kind: "park" };
    case "ready":
      return { kind: "view-gate" };
    case "gated": {
      if (noCallOutcome(s) !== undefined) return finishWithoutCall(s);
      if (s.epoch !== undefined) return beforeSlot(s);
      // A first send claims nothing before its slot: its fence inserts the record.
      return s.recorded ? { kind: "read-record" } : beforeSlot(s);
    }
    case "recorded":
      return { kind: "read-record" };
    case "record-read": {
      // The record is gone (never, in practice): start again from a first claim.
      if (s.record === undefined)
        return noCallOutcome(s) !== undefined ? finishWithoutCall(s) : beforeSlot(s);
      const next = decideRecorded(s.record, s.facts.dispatchId, now, s.facts.callBoundMs);
      switch (next.kind) {
        case "replay":
          return { kind: "replay" };
        case "wait":
          return { kind: "wait", untilMs: next.untilMs };
        case "in-doubt":
          return { kind: "mark-in-doubt", calledAt: next.calledAt };
        case "take-over":
          return { kind: "take-over", epoch: next.epoch };
      }
      break;
    }
    case "owned":
      if (noCallOutcome(s) !== undefined) return finishWithoutCall(s);
      // A take-over after a gate that said send: to the slot (its media resolved first).
      return beforeSlot(s);
    case "slotted":
      return {
        kind: "fence",
        slotAt: s.slotAt ?? now,
        recheckGate:
          (s.slotAt ?? now) - (s.gate?.at ?? Number.NEGATIVE_INFINITY) > s.facts.gateFreshMs,
        ...(s.epoch === undefined ? { first: true as const } : {}),
      };
    case "fenced": {
      // The last word before the call: an opt-out this process applied after the gate view
      // (its read began before) sends the dispatch back to the gate; a refusal undoes the fence.
      if (s.gate !== undefined && s.gate.decision.kind !== "send") return { kind: "unfence" };
      const heard = s.revocationHeard;
      if (heard !== undefined && heard >= (s.gate?.at ?? Number.NEGATIVE_INFINITY))
        return { kind: "recheck-gate" };
      return { kind: "call" };
    }
    case "answered":
      return afterAnswer(s.answer);
    case "lost":
      return { kind: "abandon" };
    case "finished":
      return { kind: "done" };
  }
  return { kind: "done" };
}

/** Owned and gated: the content's Parley uploads are resolved first, then the slot. */
function beforeSlot(s: DispatchState): Step {
  return s.facts.mediaToResolve === true && s.media === undefined
    ? { kind: "resolve-media" }
    : { kind: "await-slot" };
}

function finishWithoutCall(s: DispatchState): Step {
  const outcome = noCallOutcome(s);
  if (outcome === undefined) return { kind: "done" };
  if (s.epoch === undefined && s.recorded) return { kind: "read-record" };
  return { kind: "finish-without-call", outcome, owned: s.epoch !== undefined };
}

function afterAnswer(answer: Answer | undefined): Step {
  if (answer === undefined) return { kind: "done" };
  switch (answer.kind) {
    case "accepted":
      return { kind: "settle-accepted" };
    case "in-doubt":
      return { kind: "settle-in-doubt", reason: answer.reason };
    case "fail":
      return { kind: "settle-failed", error: answer.error, deadLetter: answer.deadLetter };
    case "retry":
      return { kind: "release", effect: "retry", delayMs: answer.delayMs };
    case "hold-number":
      return { kind: "release", effect: "hold-number", delayMs: 0 };
    case "pace-recipient":
      return { kind: "release", effect: "pace-recipient", delayMs: 0 };
    case "pause-number":
      return { kind: "release", effect: "pause-number", delayMs: 0 };
  }
}

/** Folds what a step found out into the state. */
export function evolve(s: DispatchState, e: DispatchEvent): DispatchState {
  switch (e.type) {
    case "RecipientReady":
      return { ...s, phase: "ready" };
    case "NumberPaused":
      return { ...s, phase: "paused", slotAt: undefined };
    case "GateViewed":
      return {
        ...s,
        gate: { decision: e.decision, at: e.at },
        // Read again at the slot (the fence step): a refusal now ends it without a call; read
        // again once fenced (an opt-out heard meanwhile): a refusal undoes the fence first.
        phase:
          s.phase === "slotted"
            ? e.decision.kind === "send"
              ? "slotted"
              : "owned"
            : s.phase === "fenced"
              ? "fenced"
              : "gated",
      };
    case "Claimed":
      return { ...s, phase: "owned", epoch: e.epoch, calls: e.calls, recorded: true };
    case "RecordExists":
      return { ...s, phase: "recorded", recorded: true, epoch: undefined, slotAt: undefined };
    case "RecordRead": {
      const record = e.record;
      const mine =
        record?.lateFallback !== undefined && record.lateFallback.dispatchId === s.facts.dispatchId
          ? record.lateFallback
          : undefined;
      return {
        ...s,
        phase: "record-read",
        record,
        recorded: record !== undefined,
        lateFallback: mine ?? s.lateFallback,
      };
    }
    case "TakeOverLost":
    case "Waited":
      return { ...s, phase: "recorded" };
    case "SlotGranted":
      return { ...s, phase: "slotted", slotAt: e.slotAt };
    case "Fenced":
      return e.epoch === undefined
        ? { ...s, phase: "fenced", calls: s.calls + 1 }
        : { ...s, phase: "fenced", epoch: e.epoch, recorded: true, calls: s.calls + 1 };
    case "FenceLost":
      return { ...s, phase: "lost", epoch: undefined, slotAt: undefined };
    case "RevocationHeard":
      return { ...s, revocationHeard: e.at };
    case "Unfenced":
      return { ...s, phase: "owned", calls: Math.max(0, s.calls - 1), slotAt: undefined };
    case "Answered":
      return { ...s, phase: "answered", answer: e.answer, slotAt: undefined };
    case "Released":
      // A retry resolves its media again (the media service answers from its cache).
      return { ...s, phase: "start", answer: undefined, media: undefined };
    case "MediaResolved":
      return { ...s, phase: "owned", media: { kind: "resolved", graphIds: e.graphIds } };
    case "MediaRefused":
      return { ...s, phase: "owned", media: { kind: "refused", detail: e.detail } };
    case "Finished":
      return { ...s, phase: "finished" };
  }
}
