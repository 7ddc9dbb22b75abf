import { finalOutcome } from "@parley/client";
import { createEvent, type EventData, type EventName } from "@parley/contracts";
import { deciderSpec } from "@parley/testkit";
import { describe, expect, it } from "vitest";
import type { Observed } from "./facts.js";
import { pickTrace, requestDecider, type RequestState } from "./request.js";

const REQ = "req-1";
const CONTACT = "16505551234";
const NUMBER = "106540352242922";
const T0 = Date.parse("2026-03-01T10:00:00.000Z");
let n = 0;
const nextId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;

const outcome = { requestId: REQ, idempotencyKey: "orders:1", contactId: CONTACT };

function observed<N extends EventName>(type: N, data: EventData<N>, atMs: number): Observed {
  return {
    type: "Observed",
    event: createEvent(type, data, {
      correlationId: REQ,
      businessNumber: NUMBER,
      occurredAt: new Date(atMs),
      now: new Date(atMs),
      eventId: nextId(),
    }),
    country: "US",
    traceId: `trace-${type}`,
  };
}

const requested = (atMs = T0) =>
  observed(
    "SendRequested",
    {
      contactId: CONTACT,
      idempotencyKey: "orders:1",
      recipient: { phone: "+16505551234" },
      sender: { kind: "alias", alias: "orders" },
      content: { type: "text", text: { body: "Your order shipped" } },
      category: "utility",
      requester: "orders",
      templateFallback: { name: "order_update", language: { code: "en_US" } },
      metadata: { orderId: "42" },
    },
    atMs,
  );
const accepted = (wamid: string, atMs: number, extra: Partial<EventData<"SendAccepted">> = {}) =>
  observed(
    "SendAccepted",
    { ...outcome, wamid, usedTemplateFallback: false, attempts: 1, ...extra },
    atMs,
  );
const failedAsync = (wamid: string, atMs: number) =>
  observed(
    "SendFailed",
    {
      ...outcome,
      phase: "async",
      wamid,
      attempts: 1,
      error: { errorClass: "window_closed", code: 131047, title: "Re-engagement", retriable: true },
    },
    atMs,
  );

const decider = requestDecider(finalOutcome);
const spec = deciderSpec(decider, { key: REQ, context: undefined, match: "subset" });
const applied = (command: Observed) => ({ type: "Applied" as const, command });

function fold(commands: readonly Observed[]): RequestState {
  let state = decider.initialState(REQ);
  for (const c of commands)
    for (const e of decider.decide(c, state)) state = decider.evolve(state, e);
  return state;
}

describe("request read model (given/when/then)", () => {
  it("hands its message the template, category and sender once both the request and the acceptance are known", () => {
    const result = spec.given(applied(requested())).when(accepted("wamid.A", T0 + 100));
    const [link] = result.published.filter((e) => e.type === "MessageLinked");
    expect(link).toMatchObject({
      type: "MessageLinked",
      wamid: "wamid.A",
      link: {
        requestId: REQ,
        contactId: CONTACT,
        country: "US",
        businessNumber: NUMBER,
        requester: "orders",
        category: "utility",
        usedTemplateFallback: false,
        acceptedAt: new Date(T0 + 100).toISOString(),
      },
    });
    expect(result.next.decision).toBe("accepted");
    expect(result.next.final).toMatchObject({ status: "accepted", wamid: "wamid.A" });
    expect(result.next.trace?.traceId).toBe("trace-SendRequested");
  });

  it("lets a failure Meta reported later supersede the acceptance (ADR 0009, by the client's finalOutcome)", () => {
    spec
      .given(applied(requested()), applied(accepted("wamid.A", T0 + 100)))
      .when(failedAsync("wamid.A", T0 + 5_000))
      .thenState((next) => {
        expect(next.decision).toBe("failed");
        expect(next.final).toMatchObject({
          status: "failed",
          phase: "async",
          code: 131047,
          title: "Re-engagement",
        });
      });
  });

  it("says in doubt, then reconciled", () => {
    const inDoubt = observed(
      "SendInDoubt",
      {
        ...outcome,
        bizOpaqueCallbackData: REQ,
        reason: "timeout",
        attemptedAt: new Date(T0).toISOString(),
      },
      T0 + 10,
    );
    const doubtful = spec.given(applied(requested())).when(inDoubt);
    expect(doubtful.next.decision).toBe("in_doubt");
    spec
      .given(applied(requested()), applied(inDoubt))
      .when(
        observed(
          "SendReconciled",
          { ...outcome, wamid: "wamid.B", status: "sent", result: "sent" },
          T0 + 900,
        ),
      )
      .thenState((next) => {
        expect(next.decision).toBe("reconciled");
        expect(next.final).toMatchObject({ status: "accepted", wamid: "wamid.B" });
      });
  });

  it("recognises an outcome it has: nothing new", () => {
    const a = accepted("wamid.A", T0 + 100);
    spec.given(applied(requested()), applied(a)).when(a).thenNothing();
  });

  it("keeps metadata once, as pairs, and never on its outcomes", () => {
    const state = fold([requested(), accepted("wamid.A", T0 + 100)]);
    expect(state.request?.metadata).toEqual([["orderId", "42"]]);
    expect(state.outcomes.every((o) => !("metadata" in o.data))).toBe(true);
  });

  it("ends the same whatever order its events come in: a late fallback and its failed free-form message", () => {
    const events = [
      requested(),
      accepted("wamid.FREE", T0 + 100),
      observed(
        "SendAccepted",
        {
          ...outcome,
          wamid: "wamid.TPL",
          usedTemplateFallback: true,
          attempts: 2,
          fallbackAfter: { wamid: "wamid.FREE", code: 131047 },
        },
        T0 + 9_000,
      ),
    ];
    const forward = fold(events);
    expect(fold([...events].reverse())).toEqual(forward);
    expect(fold([events[2] as Observed, events[0] as Observed, events[1] as Observed])).toEqual(
      forward,
    );
    expect(forward.final).toMatchObject({
      status: "accepted",
      wamid: "wamid.TPL",
      usedTemplateFallback: true,
    });
  });

  it("links the fallback's template name to the template message", () => {
    const result = spec.given(applied(requested()), applied(accepted("wamid.FREE", T0 + 100))).when(
      observed(
        "SendAccepted",
        {
          ...outcome,
          wamid: "wamid.TPL",
          usedTemplateFallback: true,
          attempts: 2,
          fallbackAfter: { wamid: "wamid.FREE", code: 131047 },
        },
        T0 + 9_000,
      ),
    );
    const links = result.published.filter((e) => e.type === "MessageLinked");
    expect(links.find((l) => l.wamid === "wamid.TPL")).toMatchObject({
      link: { template: "order_update", usedTemplateFallback: true },
    });
  });
});

describe("the request's trace", () => {
  it("is the same whichever copy of an event (one event id, two traces) came first; the request's own trace wins", () => {
    const copy = (traceId: string, fromRequest = false) => ({
      at: "2026-03-01T10:00:00.000Z",
      eventId: "00000000-0000-4000-8000-000000000001",
      traceId,
      fromRequest,
    });
    const [a, b] = [copy("b".repeat(32)), copy("a".repeat(32))];
    expect(pickTrace(a, b)).toEqual(pickTrace(b, a));
    expect(pickTrace(a, b).traceId).toBe("a".repeat(32));
    const own = copy("c".repeat(32), true);
    expect(pickTrace(pickTrace(a, own), b)).toBe(own);
  });
});
