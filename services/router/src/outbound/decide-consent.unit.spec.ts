import { createEvent } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { eventIdOf } from "../inbound/event-id.js";
import { decide } from "./decide.js";
import {
  CONTACT,
  HOUR,
  at,
  ctx,
  tplContent,
  orderUpdate,
  springSale,
  send,
  windowOpened,
  consent,
  history,
  spec,
  open,
  catalog,
  template,
} from "./decide.unit-helpers.js";
import { evolve, initialState, retain, type OutboundEvent } from "./evolve.js";

// The send decider on consent: opt-outs and opt-ins, marketing consent and its frequency cap,
// and the consent and window facts it records (and the bounds of its state).

describe("outbound decider: consent", () => {
  it("given the contact opted out of everything, then opted_out naming the consent event", () => {
    const revoked = consent("ConsentRevoked", "all", -2);
    spec()
      .given(open, revoked)
      .when(send())
      .then({
        type: "SendRejected",
        data: {
          reason: "opted_out",
          detail: expect.stringContaining(revoked.eventId) as unknown,
          consentEventId: revoked.eventId,
        },
      });
  });

  it("given an opt-out then a later opt-in, then the send goes, naming the opt-in it relied on", () => {
    const granted = consent("ConsentGranted", "all", -2);
    spec()
      .given(open, consent("ConsentRevoked", "all", -3), granted)
      .when(send())
      .then({ type: "DispatchMessage", data: { consentEventId: granted.eventId } });
  });

  it("given no consent recorded, a utility send goes and names no consent event", () => {
    const { events: emitted } = spec().given(open).when(send());
    expect(emitted[0]?.type).toBe("DispatchMessage");
    expect(emitted[0]).not.toHaveProperty("data.consentEventId");
  });

  it("keeps the latest fact by time: an older opt-in consumed late does not undo an opt-out", () => {
    const revoked = consent("ConsentRevoked", "all", -1);
    const { next } = spec()
      .given(open, revoked)
      .when({ type: "RecordConsent", event: consent("ConsentGranted", "all", -5) });
    expect(next.consent).toEqual([
      expect.objectContaining({ eventId: revoked.eventId, granted: false }),
    ]);
  });

  it("given no opt-in, when marketing is requested, then no_consent", () => {
    spec()
      .given(open)
      .when(send({ content: tplContent(springSale), category: "marketing" }))
      .then({ type: "SendRejected", data: { reason: "no_consent" } });
  });

  it("given a marketing opt-out, then marketing is refused and utility still goes", () => {
    const stop = consent("ConsentRevoked", "marketing", -1);
    spec()
      .given(open, consent("ConsentGranted", "all", -5), stop)
      .when(send({ content: tplContent(springSale), category: "marketing" }))
      .then({
        type: "SendRejected",
        data: {
          reason: "opted_out",
          detail: expect.stringContaining(stop.eventId) as unknown,
          consentEventId: stop.eventId,
        },
      });
    spec()
      .given(open, consent("ConsentGranted", "all", -5), stop)
      .when(send({ content: tplContent(orderUpdate()), category: "utility" }))
      .then({ type: "DispatchMessage" });
  });

  it("given a marketing opt-in, then marketing goes; a later START (scope all) resumes a marketing stop", () => {
    const optIn = consent("ConsentGranted", "marketing", -1);
    spec()
      .given(optIn)
      .when(send({ content: tplContent(springSale), category: "marketing" }))
      .then({
        type: "DispatchMessage",
        data: { category: "marketing", consentEventId: optIn.eventId },
      });
    const start = consent("ConsentGranted", "all", -1);
    spec()
      .given(consent("ConsentRevoked", "marketing", -3), start)
      .when(send({ content: tplContent(springSale), category: "marketing" }))
      .then({ type: "DispatchMessage", data: { consentEventId: start.eventId } });
  });
});

describe("outbound decider: marketing frequency cap", () => {
  const marketing = (n: number) =>
    send({
      requestId: `m-${n}`,
      key: `k-${n}`,
      content: tplContent(springSale),
      category: "marketing",
    });
  const optIn = consent("ConsentGranted", "marketing", -10);

  it("given the cap was reached in the period, then frequency_capped; after the period, it goes", () => {
    let past: OutboundEvent[] = [optIn];
    past = history(marketing(1), past, ctx({ now: at(0) }));
    past = history(marketing(2), past, ctx({ now: at(1) }));
    spec(ctx({ now: at(2) }))
      .given(...past)
      .when(marketing(3))
      .then({
        type: "SendRejected",
        data: {
          reason: "frequency_capped",
          detail: expect.stringContaining("the cap is 2 per day") as unknown,
        },
      });
    spec(ctx({ now: at(24.5) }))
      .given(...past)
      .when(marketing(3))
      .then({ type: "DispatchMessage" });
  });

  it("counts neither rejected marketing nor other categories", () => {
    let past: OutboundEvent[] = [optIn, open];
    past = history(send({ requestId: "u-1", key: "u-1" }), past);
    past = history(send({ requestId: "u-2", key: "u-2" }), past);
    spec()
      .given(...past)
      .when(marketing(1))
      .then({ type: "DispatchMessage" });
  });

  it("is off with a count of 0", () => {
    let past: OutboundEvent[] = [optIn];
    const off = ctx({ marketingCap: { count: 0, periodMs: HOUR } });
    for (let n = 1; n <= 5; n++) past = history(marketing(n), past, off);
    spec(off)
      .given(...past)
      .when(marketing(6))
      .then({ type: "DispatchMessage" });
  });
});

describe("outbound decider: consent and window facts", () => {
  it("records a newer consent fact and ignores a repeated one", () => {
    const stop = consent("ConsentRevoked", "all", 0);
    expect(decide({ type: "RecordConsent", event: stop }, initialState(CONTACT), ctx())).toEqual([
      stop,
    ]);
    const state = evolve(initialState(CONTACT), stop);
    expect(decide({ type: "RecordConsent", event: stop }, state, ctx())).toEqual([]);
  });

  it("lengthens a window and never shortens it", () => {
    const state = evolve(initialState(CONTACT), windowOpened(at(20)));
    expect(decide({ type: "RecordWindow", event: windowOpened(at(10)) }, state, ctx())).toEqual([]);
    expect(
      decide({ type: "RecordWindow", event: windowOpened(at(22)) }, state, ctx()),
    ).toHaveLength(1);
  });

  it("bounds the state: old requests, marketing sends outside the period and closed windows go", () => {
    let s = [open, consent("ConsentGranted", "marketing", -1)].reduce(
      evolve,
      initialState(CONTACT),
    );
    s = decide(send({ content: tplContent(springSale), category: "marketing" }), s, ctx()).reduce(
      evolve,
      s,
    );
    const limits = { maxRequests: 10, requestTtlMs: 48 * HOUR, marketingPeriodMs: 24 * HOUR };
    expect(retain(s, at(1), limits)).toMatchObject({
      windows: [{}],
      marketingSends: [at(0).toISOString()],
    });
    expect(retain(s, at(30), limits)).toMatchObject({
      windows: [],
      marketingSends: [],
      requests: [{}],
    });
    expect(retain(s, at(49), limits).requests).toEqual([]);
    expect(retain(s, at(1), { ...limits, maxRequests: 0 }).requests).toEqual([]);
    expect(retain(s, at(1), limits).consent).toHaveLength(1);
  });
});

describe("outbound decider: ledger entries of the consent service (ADR 0012)", () => {
  const entry = (
    type: "ConsentGranted" | "ConsentRevoked",
    purpose: "marketing" | "utility",
    hours: number,
    extra: { expiresAt?: string } = {},
  ) =>
    createEvent(
      type,
      {
        contactId: CONTACT,
        scope: purpose === "marketing" ? "marketing" : "all",
        purpose,
        channel: "web",
        source: "api",
        ...extra,
      },
      {
        eventId: eventIdOf(`${type}-${purpose}-${String(hours)}`),
        correlationId: "c-1",
        occurredAt: at(hours),
        now: at(hours),
      },
    );
  const marketing = () => send({ content: tplContent(springSale), category: "marketing" });

  it("a utility opt-in (scope all) is not a marketing opt-in", () => {
    spec()
      .given(open, entry("ConsentRevoked", "marketing", -3), entry("ConsentGranted", "utility", -1))
      .when(marketing())
      .then({ type: "SendRejected", data: { reason: "opted_out" } });
  });

  it("a STOP as two entries (marketing and utility revoked) stops utility and marketing", () => {
    const given = [
      open,
      entry("ConsentGranted", "marketing", -5),
      entry("ConsentRevoked", "marketing", -1),
      entry("ConsentRevoked", "utility", -1),
    ];
    spec()
      .given(...given)
      .when(send())
      .then({ type: "SendRejected", data: { reason: "opted_out" } });
    spec()
      .given(...given)
      .when(marketing())
      .then({ type: "SendRejected", data: { reason: "opted_out" } });
  });

  it("a marketing opt-in lets marketing go until it expires", () => {
    const optIn = entry("ConsentGranted", "marketing", -2, { expiresAt: at(1).toISOString() });
    spec()
      .given(open, optIn)
      .when(marketing())
      .then({ type: "DispatchMessage", data: { consentEventId: optIn.eventId } });
    spec(ctx({ now: at(2) }))
      .given(open, optIn)
      .when(marketing())
      .then({
        type: "SendRejected",
        data: { reason: "no_consent", consentEventId: optIn.eventId },
      });
  });
});

describe("outbound decider: the authentication exemption (ADR 0012)", () => {
  const withAuth = {
    ...catalog,
    templates: [
      ...catalog.templates,
      template({
        name: "login_code",
        category: "AUTHENTICATION",
        components: [{ type: "BODY", text: "{{1}} is your verification code." }],
      }),
    ],
  };
  const code = tplContent({
    name: "login_code",
    language: { code: "en_US" },
    components: [{ type: "body", parameters: [{ type: "text", text: "482913" }] }],
  });
  const stop = consent("ConsentRevoked", "all", -2);
  const exempt = ctx({ catalog: withAuth, authenticationExempt: true });

  it("given a STOP and the exemption on, an authentication template goes, naming the opt-out it went past", () => {
    spec(exempt)
      .given(stop)
      .when(send({ content: code, category: "authentication" }))
      .then({
        type: "DispatchMessage",
        data: { category: "authentication", consentEventId: stop.eventId },
      });
  });

  it("given a STOP and the exemption off (the default), the authentication template is stopped", () => {
    spec(ctx({ catalog: withAuth }))
      .given(stop)
      .when(send({ content: code, category: "authentication" }))
      .then({ type: "SendRejected", data: { reason: "opted_out" } });
  });

  it("the exemption covers only authentication templates: utility, marketing and a mislabelled template are still refused", () => {
    spec(exempt)
      .given(open, stop)
      .when(send({ content: tplContent(orderUpdate()), category: "utility" }))
      .then({ type: "SendRejected", data: { reason: "opted_out" } });
    spec(exempt)
      .given(open, stop, consent("ConsentGranted", "marketing", -5))
      .when(send({ content: tplContent(springSale), category: "marketing" }))
      .then({ type: "SendRejected", data: { reason: "opted_out" } });
    // A utility template sent as "authentication" to slip past the opt-out: refused by the catalog.
    spec(exempt)
      .given(open, stop)
      .when(send({ content: tplContent(orderUpdate()), category: "authentication" }))
      .then({ type: "SendRejected", data: { reason: "invalid_request" } });
    // Free-form text labelled authentication is no template: stopped.
    spec(exempt)
      .given(open, stop)
      .when(send({ category: "authentication" }))
      .then({ type: "SendRejected", data: { reason: "opted_out" } });
  });
});
