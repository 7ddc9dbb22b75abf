import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AttemptView } from "./attempt.js";
import {
  decide,
  evolve,
  initialState,
  type DispatchEvent,
  type DispatchFacts,
  type Step,
} from "./dispatch.js";
import type { SendError } from "./failure.js";
import type { GateDecision } from "./gate.js";

const NOW = 100_000;
const facts: DispatchFacts = {
  dispatchId: "dispatch-1",
  numberKnown: true,
  freeForm: false,
  gateFreshMs: 1_000,
  callBoundMs: 15_000,
};
const send: GateDecision = { kind: "send" };
const optedOut: GateDecision = { kind: "rejected", reason: "opted_out", detail: "stop" };
const error: SendError = { errorClass: "template", code: 132001, retriable: false };

const record = (state: AttemptView["state"], extra: Partial<AttemptView> = {}): AttemptView => ({
  requestId: "r",
  state,
  epoch: 4,
  calledAt: undefined,
  calls: 1,
  outcomeIds: [],
  lateFallback: undefined,
  ...extra,
});

/** Given what the steps found out so far, the machine's next step. */
const given = (...events: DispatchEvent[]) => ({
  then(step: Step, f: DispatchFacts = facts): void {
    expect(decide(events.reduce(evolve, initialState(f)), NOW)).toEqual(step);
  },
});

const ready: DispatchEvent = { type: "RecipientReady" };
const gated = (decision: GateDecision = send, at = NOW): DispatchEvent => ({
  type: "GateViewed",
  decision,
  at,
});
const claimed = (epoch = 1, calls = 0): DispatchEvent => ({ type: "Claimed", epoch, calls });
const read = (r: AttemptView | undefined): DispatchEvent => ({ type: "RecordRead", record: r });
const slot = (slotAt = NOW): DispatchEvent => ({ type: "SlotGranted", slotAt });
const fenced: DispatchEvent = { type: "Fenced" };
const answered = (
  answer: Extract<DispatchEvent, { type: "Answered" }>["answer"],
): DispatchEvent => ({
  type: "Answered",
  answer,
});

describe("dispatch state machine: before the claim", () => {
  it("rejects a number outside the directory without a call (unknown_sender)", () => {
    given().then(
      {
        kind: "finish-without-call",
        outcome: {
          type: "SendRejected",
          reason: "unknown_sender",
          detail: "the business number is not in this sender's number directory",
        },
        owned: false,
      },
      { ...facts, numberKnown: false },
    );
  });

  it("waits for the recipient's pacing first, then reads the gate", () => {
    given().then({ kind: "await-recipient" });
    given(ready).then({ kind: "view-gate" });
  });

  it("parks when the number is paused (token refused) on the way", () => {
    given({ type: "NumberPaused" }).then({ kind: "park" });
  });

  it("claims nothing before the slot: a first send's fence inserts its record (one write before the call)", () => {
    given(ready, gated()).then({ kind: "await-slot" });
    given(ready, gated(), slot(NOW + 500)).then({
      kind: "fence",
      slotAt: NOW + 500,
      recheckGate: false,
      first: true,
    });
    // The insert won: the record is ours under epoch 1, and the call goes.
    given(ready, gated(), slot(), { type: "Fenced", epoch: 1 }).then({ kind: "call" });
    // A record was there (another dispatch of the request): read it, never call.
    given(ready, gated(), slot(), { type: "RecordExists" }).then({ kind: "read-record" });
  });

  it("settles a first send under the epoch its insert wrote", () => {
    const s = [ready, gated(), slot(), { type: "Fenced", epoch: 1 } as DispatchEvent].reduce(
      evolve,
      initialState(facts),
    );
    expect(s).toMatchObject({ epoch: 1, recorded: true, calls: 1, phase: "fenced" });
  });

  it("finishes without a call on an opt-out or a passed validUntil (inserting its outcome)", () => {
    given(ready, gated(optedOut)).then({
      kind: "finish-without-call",
      outcome: { type: "SendRejected", reason: "opted_out", detail: "stop" },
      owned: false,
    });
    given(ready, gated({ kind: "expired" })).then({
      kind: "finish-without-call",
      outcome: { type: "SendExpired" },
      owned: false,
    });
  });

  it("lets an existing record win over a gate refusal (a redelivery replays what it decided)", () => {
    given(ready, gated(optedOut), { type: "RecordExists" }).then({ kind: "read-record" });
    given(ready, gated(optedOut), { type: "RecordExists" }, read(record("done"))).then({
      kind: "replay",
    });
  });
});

describe("dispatch state machine: a record found (redelivery, restart, rebalance)", () => {
  const found = [ready, gated(), { type: "RecordExists" } as DispatchEvent];

  it("reads the record when its first claim lost", () => {
    given(...found).then({ kind: "read-record" });
  });

  it("replays a finished or in-doubt request", () => {
    given(...found, read(record("done"))).then({ kind: "replay" });
    given(...found, read(record("in_doubt"))).then({ kind: "replay" });
  });

  it("takes over a claimed record: claimed is not calling, so it is sent, not judged in doubt", () => {
    given(...found, read(record("claimed"))).then({ kind: "take-over", epoch: 4 });
    given(...found, read(record("claimed")), claimed(5, 1)).then({ kind: "await-slot" });
  });

  it("reads again when another owner took it over first", () => {
    given(...found, read(record("claimed")), { type: "TakeOverLost" }).then({
      kind: "read-record",
    });
  });

  it("waits on a call that may be out; past the bound marks it in doubt (a call had left)", () => {
    given(...found, read(record("calling", { calledAt: NOW - 1_000 }))).then({
      kind: "wait",
      untilMs: NOW + 14_000,
    });
    given(...found, read(record("calling", { calledAt: NOW - 1_000 })), { type: "Waited" }).then({
      kind: "read-record",
    });
    given(...found, read(record("calling", { calledAt: NOW - 20_000 }))).then({
      kind: "mark-in-doubt",
      calledAt: NOW - 20_000,
    });
  });

  it("goes to the slot afresh when the record vanished (its fence inserts one)", () => {
    given(...found, read(undefined)).then({ kind: "await-slot" });
    given(...found, read(undefined), slot()).then({
      kind: "fence",
      slotAt: NOW,
      recheckGate: false,
      first: true,
    });
  });

  it("finishes under its epoch when it took over a request whose gate said no", () => {
    given(
      ready,
      gated(optedOut),
      { type: "RecordExists" },
      read(record("claimed")),
      claimed(5),
    ).then({
      kind: "finish-without-call",
      outcome: { type: "SendRejected", reason: "opted_out", detail: "stop" },
      owned: true,
    });
  });
});

describe("dispatch state machine: the slot, the fence and the call", () => {
  const owned = [ready, gated(send, NOW), claimed()];

  it("waits for a rate slot once it owns the request", () => {
    given(...owned).then({ kind: "await-slot" });
  });

  it("parks when the number pauses while it waits for the slot", () => {
    given(...owned, { type: "NumberPaused" }).then({ kind: "park" });
  });

  it("fences at the slot, reading the gate again only when the last view is stale", () => {
    given(...owned, slot(NOW + 500)).then({ kind: "fence", slotAt: NOW + 500, recheckGate: false });
    given(...owned, slot(NOW + 5_000)).then({
      kind: "fence",
      slotAt: NOW + 5_000,
      recheckGate: true,
    });
  });

  it("finishes without a call when the gate read again at the slot says no (an opt-out during the wait)", () => {
    given(...owned, slot(NOW + 5_000), gated(optedOut, NOW + 5_000)).then({
      kind: "finish-without-call",
      outcome: { type: "SendRejected", reason: "opted_out", detail: "stop" },
      owned: true,
    });
  });

  it("calls only once the fence is written", () => {
    given(...owned, slot()).then({ kind: "fence", slotAt: NOW, recheckGate: false });
    given(...owned, slot(), fenced).then({ kind: "call" });
  });

  it("abandons without a call when the fence lost (a new owner took the request over)", () => {
    given(...owned, slot(), { type: "FenceLost" }).then({ kind: "abandon" });
  });
});

describe("dispatch state machine: an opt-out heard before the call (ADR 0006)", () => {
  const fencedAt = [ready, gated(send, NOW), claimed(), slot(NOW + 400), fenced];
  const heard = (at: number): DispatchEvent => ({ type: "RevocationHeard", at });

  it("reads the gate again when this process applied an opt-out for the contact after the view's read began", () => {
    given(...fencedAt, heard(NOW + 200)).then({ kind: "recheck-gate" });
    // At the same instant: the read may have begun before the write landed.
    given(...fencedAt, heard(NOW)).then({ kind: "recheck-gate" });
  });

  it("calls when the opt-out it heard is older than its view", () => {
    given(...fencedAt, heard(NOW - 1)).then({ kind: "call" });
  });

  it("calls when the gate read again still says send (another purpose's opt-out)", () => {
    given(...fencedAt, heard(NOW + 200), gated(send, NOW + 450)).then({ kind: "call" });
  });

  it("undoes the fence when the gate read again refuses, then finishes without a call under its epoch", () => {
    given(...fencedAt, heard(NOW + 200), gated(optedOut, NOW + 450)).then({ kind: "unfence" });
    given(...fencedAt, heard(NOW + 200), gated(optedOut, NOW + 450), { type: "Unfenced" }).then({
      kind: "finish-without-call",
      outcome: { type: "SendRejected", reason: "opted_out", detail: "stop" },
      owned: true,
    });
  });

  it("a first send's fence (its record's insert) is undone the same way", () => {
    given(
      ready,
      gated(send, NOW),
      slot(NOW + 400),
      { type: "Fenced", epoch: 1 },
      heard(NOW + 100),
      gated(optedOut, NOW + 450),
      { type: "Unfenced" },
    ).then({
      kind: "finish-without-call",
      outcome: { type: "SendRejected", reason: "opted_out", detail: "stop" },
      owned: true,
    });
  });

  it("counts no call for an undone fence", () => {
    const s = [...fencedAt, heard(NOW + 200), gated(optedOut, NOW + 450), { type: "Unfenced" }]
      .map((e) => e as DispatchEvent)
      .reduce(evolve, initialState(facts));
    expect(s.calls).toBe(0);
    expect(s.phase).toBe("owned");
  });

  it("abandons without a call when the fence moved on before it could be undone", () => {
    given(...fencedAt, heard(NOW + 200), gated(optedOut, NOW + 450), {
      type: "FenceLost",
    }).then({ kind: "abandon" });
  });
});

describe("dispatch state machine: after the answer", () => {
  const called = [ready, gated(), claimed(), slot(), fenced];

  it("settles an accepted call", () => {
    given(...called, answered({ kind: "accepted" })).then({ kind: "settle-accepted" });
  });

  it("settles a call whose answer was lost as in doubt", () => {
    given(...called, answered({ kind: "in-doubt", reason: "timeout" })).then({
      kind: "settle-in-doubt",
      reason: "timeout",
    });
  });

  it("settles a failure, dead-lettered when its retries ran out", () => {
    given(...called, answered({ kind: "fail", error, deadLetter: true })).then({
      kind: "settle-failed",
      error,
      deadLetter: true,
    });
  });

  it("releases a refused call back to claimed: retry after its delay, hold, pace or pause", () => {
    given(...called, answered({ kind: "retry", delayMs: 250, error })).then({
      kind: "release",
      effect: "retry",
      delayMs: 250,
    });
    given(...called, answered({ kind: "hold-number", code: 131057, error })).then({
      kind: "release",
      effect: "hold-number",
      delayMs: 0,
    });
    given(...called, answered({ kind: "pace-recipient", error })).then({
      kind: "release",
      effect: "pace-recipient",
      delayMs: 0,
    });
    given(...called, answered({ kind: "pause-number", error })).then({
      kind: "release",
      effect: "pause-number",
      delayMs: 0,
    });
  });

  it("starts over after a release, still the owner: pacing, gate, then straight to the slot", () => {
    const again = [
      ...called,
      answered({ kind: "hold-number", code: 130429, error }),
      { type: "Released" } as DispatchEvent,
    ];
    given(...again).then({ kind: "await-recipient" });
    given(...again, ready, gated()).then({ kind: "await-slot" });
    const s = [...again, ready, gated(), slot(), fenced].reduce(evolve, initialState(facts));
    expect(s.calls).toBe(2);
  });

  it("is done once finished", () => {
    given(ready, gated(optedOut), { type: "Finished" }).then({ kind: "done" });
  });
});

describe("dispatch state machine: a late template fallback", () => {
  const owed = record("claimed", {
    calls: 1,
    lateFallback: {
      dispatchId: "dispatch-1",
      failedWamid: "wamid.A",
      code: 131047,
      title: "Re-engagement message",
    },
  });

  it("takes over the request that owes it, and sends it like any call", () => {
    given(ready, gated(), { type: "RecordExists" }, read(owed)).then({
      kind: "take-over",
      epoch: 4,
    });
    given(ready, gated(), { type: "RecordExists" }, read(owed), claimed(5, 1)).then({
      kind: "await-slot",
    });
  });

  it("replays when another copy of the request comes", () => {
    given(ready, gated(), { type: "RecordExists" }, read(owed)).then(
      { kind: "replay" },
      { ...facts, dispatchId: "the-original" },
    );
  });

  it("ends the request on its free-form failure when the fallback may not go (opted out meanwhile)", () => {
    given(ready, gated(optedOut), { type: "RecordExists" }, read(owed), claimed(5, 1)).then({
      kind: "finish-without-call",
      outcome: {
        type: "SendFailed",
        error: "late-fallback",
        detail: "its template fallback was not sent: stop",
      },
      owned: true,
    });
  });
});

describe("dispatch state machine: at most one call per fence", () => {
  /** Every result a step can have, as the executor reports it. */
  const resultsOf = (step: Step): DispatchEvent[] => {
    switch (step.kind) {
      case "await-recipient":
        return [ready, { type: "NumberPaused" }];
      case "view-gate":
        return [gated(send), gated(optedOut), gated({ kind: "expired" })];
      case "finish-without-call":
        return [{ type: "Finished" }, { type: "RecordExists" }, { type: "FenceLost" }];
      case "read-record":
        return (["claimed", "calling", "done", "in_doubt", "refused"] as const).flatMap((state) => [
          read(record(state, { calledAt: NOW - 1 })),
          read(record(state, { calledAt: NOW - 60_000 })),
        ]);
      case "take-over":
        return [claimed(step.epoch + 1, 1), { type: "TakeOverLost" }];
      case "wait":
        return [{ type: "Waited" }];
      case "await-slot":
        return [slot(NOW), slot(NOW + 5_000), { type: "NumberPaused" }];
      case "fence":
        return step.first === true
          ? [{ type: "Fenced", epoch: 1 }, { type: "RecordExists" }, gated(optedOut, NOW + 5_000)]
          : [fenced, { type: "FenceLost" }, gated(optedOut, NOW + 5_000)];
      case "recheck-gate":
        return [gated(send, NOW + 6_000), gated(optedOut, NOW + 6_000)];
      case "unfence":
        return [{ type: "Unfenced" }, { type: "FenceLost" }];
      case "call":
        return [
          // The executor's last look: an opt-out heard goes to the decider instead of the call.
          { type: "RevocationHeard", at: NOW + 5_500 },
          answered({ kind: "accepted" }),
          answered({ kind: "retry", delayMs: 1, error }),
          answered({ kind: "hold-number", code: 131057, error }),
          answered({ kind: "in-doubt", reason: "timeout" }),
          answered({ kind: "fail", error, deadLetter: false }),
        ];
      case "release":
        return [{ type: "Released" }];
      default:
        return [];
    }
  };

  it("calls only after its own fence won, never twice per fence, never after an opt-out it heard unless read again, and ends in one terminal step", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 60, maxLength: 60 }), (choices) => {
        let s = initialState(facts);
        let owned = false;
        let fencesWon = 0;
        let calls = 0;
        /** The fence won and not undone since: the only state a call may leave from. */
        let fenceStands = false;
        /** The newest opt-out heard, and when the newest gate read that said send began. */
        let heardAt = Number.NEGATIVE_INFINITY;
        let viewAt = Number.NEGATIVE_INFINITY;
        for (const choice of choices) {
          const step = decide(s, NOW);
          const results = resultsOf(step);
          // A terminal step (replay, park, settle, mark-in-doubt, abandon, done): finished.
          if (results.length === 0) return;
          const result = results[choice % results.length] as DispatchEvent;
          if (step.kind === "call" && result.type === "Answered") {
            // Under a standing fence of a claim this dispatch holds (or its first record's insert).
            expect(fenceStands).toBe(true);
            expect(owned).toBe(true);
            // No opt-out heard that the last gate read could have missed.
            expect(heardAt < viewAt).toBe(true);
            calls++;
            expect(calls).toBe(fencesWon);
            fenceStands = false;
          }
          if (result.type === "RevocationHeard") heardAt = Math.max(heardAt, result.at);
          if (result.type === "GateViewed" && result.decision.kind === "send") viewAt = result.at;
          if (result.type === "Unfenced" || result.type === "FenceLost") fenceStands = false;
          if (result.type === "Claimed") owned = true;
          // Only a first fence (no record, none owned) claims by its insert.
          if (step.kind === "fence" && step.first === true) expect(owned).toBe(false);
          if (result.type === "Fenced" && result.epoch !== undefined) owned = true;
          if (result.type === "RecordExists" || result.type === "FenceLost") owned = false;
          if (step.kind === "fence" && result.type === "Fenced") {
            fencesWon++;
            fenceStands = true;
          }
          s = evolve(s, result);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("a message naming Parley uploads (ADR 0013, Outbound)", () => {
  const media: DispatchFacts = { ...facts, freeForm: true, mediaToResolve: true };
  const resolved: DispatchEvent = { type: "MediaResolved", graphIds: { up_a: "42" } };
  const refused: DispatchEvent = { type: "MediaRefused", detail: "up_a: no such media (404)" };

  it("resolves its media once owned and gated, before the slot (a take-over too)", () => {
    given(ready, gated(), claimed()).then({ kind: "resolve-media" }, media);
    given(ready, gated(), claimed(), resolved).then({ kind: "await-slot" }, media);
    given(ready, gated(), { type: "RecordExists" }, read(record("claimed")), claimed(5, 1)).then(
      { kind: "resolve-media" },
      media,
    );
    // None to resolve: straight to the slot.
    given(ready, gated(), claimed()).then({ kind: "await-slot" });
  });

  it("a refusal finishes the owned request without a call (SendFailed media)", () => {
    given(ready, gated(), claimed(), refused).then(
      {
        kind: "finish-without-call",
        outcome: { type: "SendFailed", error: "media", detail: "up_a: no such media (404)" },
        owned: true,
      },
      media,
    );
  });

  it("a gate refusal still wins over the media (it was decided first)", () => {
    given(ready, gated(optedOut)).then(
      {
        kind: "finish-without-call",
        outcome: { type: "SendRejected", reason: "opted_out", detail: "stop" },
        owned: false,
      },
      media,
    );
  });

  it("a refused call released for a retry resolves its media again", () => {
    given(
      ready,
      gated(),
      claimed(),
      resolved,
      slot(),
      fenced,
      answered({ kind: "retry", delayMs: 10, error }),
      { type: "Released" },
      ready,
      gated(),
    ).then({ kind: "resolve-media" }, media);
  });
});
