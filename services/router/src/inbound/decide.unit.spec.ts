import { createEvent, type EventOf } from "@parley/contracts";
import { deciderSpec } from "@parley/testkit";
import { describe, expect, it } from "vitest";
import {
  evolve,
  inboundDecider,
  initialState,
  retain,
  type DecideContext,
  type InboundEvent,
} from "./decide.js";
import { eventIdOf } from "./event-id.js";
import { inboundIdentity } from "./identity.js";
import { createKeywordMatcher, defaultKeywords, normalizeKeyword } from "./keywords.js";

const CONTACT = "16505551234";
const BN = "106540352242922";
const BN2 = "106540352242933";
const HOUR = 3_600_000;
const T0 = new Date("2026-03-01T10:00:00.000Z");
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

const ctx = (now = at(0)): DecideContext => ({
  now,
  windowMs: 24 * HOUR,
  matchKeyword: createKeywordMatcher(defaultKeywords),
  eventIdOf,
});

const origin = { deliveryId: "d-1", wabaId: "waba-1" };

function inbound(
  wamid: string,
  {
    body = "hello",
    hours = 0,
    businessNumber = BN,
    type = "text",
  }: { body?: string; hours?: number; businessNumber?: string; type?: "text" | "system" } = {},
): EventOf<"InboundMessageReceived"> {
  return createEvent(
    "InboundMessageReceived",
    {
      contactId: CONTACT,
      wamid,
      contact: { waId: CONTACT },
      origin,
      message:
        type === "text"
          ? { type: "text", text: { body } }
          : { type: "system", system: { systemType: "user_changed_number" } },
    },
    {
      eventId: eventIdOf(inboundIdentity(wamid)),
      correlationId: "d-1",
      causationId: "raw-1",
      businessNumber,
      occurredAt: at(hours),
      now: at(hours),
    },
  );
}

function status(
  wamid: string,
  value: "sent" | "delivered" | "read" | "failed",
): EventOf<"StatusUpdated"> {
  return createEvent(
    "StatusUpdated",
    { contactId: CONTACT, wamid, status: value, origin },
    { correlationId: "d-1", businessNumber: BN, now: at(0) },
  );
}

function preferences(value: string): EventOf<"UserPreferencesUpdated"> {
  return createEvent(
    "UserPreferencesUpdated",
    {
      wabaId: "waba-1",
      deliveryId: "d-1",
      contactId: CONTACT,
      category: "marketing_messages",
      value,
    },
    { eventId: eventIdOf(`prefs:${value}`), correlationId: "d-1", businessNumber: BN, now: at(0) },
  );
}

const spec = (now?: Date, context: DecideContext = ctx(now)) =>
  deciderSpec(inboundDecider, { key: CONTACT, context });

describe("inbound decider: duplicates (invariant 3)", () => {
  it("given nothing, when a message arrives, then it is published and opens the window", () => {
    spec()
      .given()
      .when(inbound("wamid.A"))
      .then(
        { type: "InboundMessageReceived" },
        {
          type: "ConversationWindowOpened",
          data: {
            contactId: CONTACT,
            openedBy: "wamid.A",
            expiresAt: at(24).toISOString(),
            freeEntryPoint: false,
          },
        },
      );
  });

  it("given the message was seen, when Meta retries it, then nothing", () => {
    const first = inbound("wamid.A");
    const emitted = spec().given().when(first).events;
    spec()
      .given(...emitted)
      .when(inbound("wamid.A"))
      .thenNothing();
  });

  it("given a (wamid, status) was seen, when it comes again, then nothing; another status passes", () => {
    spec().given(status("wamid.B", "delivered")).when(status("wamid.B", "delivered")).thenNothing();
    spec()
      .given(status("wamid.B", "delivered"))
      .when(status("wamid.B", "read"))
      .then({ type: "StatusUpdated" });
  });

  it("passes statuses through in arrival order, even out of ladder order (projection orders them)", () => {
    spec()
      .given(status("wamid.B", "read"))
      .when(status("wamid.B", "sent"))
      .then({
        type: "StatusUpdated",
        data: expect.objectContaining({ status: "sent" }) as unknown,
      });
  });

  it("the emitted event ids are deterministic: the same fact decided twice gives the same ids", () => {
    const a = spec()
      .given()
      .when(inbound("wamid.A", { body: "STOP" })).published;
    const b = spec()
      .given()
      .when(inbound("wamid.A", { body: "STOP" })).published;
    expect(a.map((e) => e.eventId)).toEqual(b.map((e) => e.eventId));
    expect(new Set(a.map((e) => e.eventId)).size).toBe(a.length);
  });
});

describe("inbound decider: customer-service window per business number", () => {
  it("given an open window, when another message arrives, then it is extended to 24 h from it", () => {
    const opened = spec().given().when(inbound("wamid.A")).events;
    spec(at(5))
      .given(...opened)
      .when(inbound("wamid.B", { hours: 5 }))
      .then(
        { type: "InboundMessageReceived" },
        {
          type: "ConversationWindowExtended",
          data: {
            contactId: CONTACT,
            extendedBy: "wamid.B",
            previousExpiresAt: at(24).toISOString(),
            expiresAt: at(29).toISOString(),
          },
        },
      );
  });

  it("given a window with another business number, when a message arrives, then this number's window opens", () => {
    const opened = spec()
      .given()
      .when(inbound("wamid.A", { businessNumber: BN2 })).events;
    const emitted = spec(at(1))
      .given(...opened)
      .when(inbound("wamid.B", { hours: 1 }))
      .then({ type: "InboundMessageReceived" }, { type: "ConversationWindowOpened" });
    expect(emitted[1]?.businessNumber).toBe(BN);
  });

  it("given a window that closed, when a message arrives, then a new window opens", () => {
    const opened = spec().given().when(inbound("wamid.A")).events;
    spec(at(30))
      .given(...opened)
      .when(inbound("wamid.B", { hours: 30 }))
      .then({ type: "InboundMessageReceived" }, { type: "ConversationWindowOpened" });
  });

  it("given a later message's window, when an earlier message arrives late, then the window is not shortened", () => {
    const opened = spec(at(5))
      .given()
      .when(inbound("wamid.B", { hours: 5 })).events;
    spec(at(6))
      .given(...opened)
      .when(inbound("wamid.A", { hours: 1 }))
      .then({ type: "InboundMessageReceived" });
  });

  it("when a message is older than the window (a replay), then it opens nothing", () => {
    spec(at(48)).given().when(inbound("wamid.A")).then({ type: "InboundMessageReceived" });
  });

  it("system notices open no window", () => {
    spec()
      .given()
      .when(inbound("wamid.S", { type: "system" }))
      .then({ type: "InboundMessageReceived" });
  });
});

describe("inbound decider: consent keywords and user_preferences", () => {
  it.each(["STOP", " stop ", "Stop!", "ARRÊT", "arret", "Baja", "  Opt   Out "])(
    "when the whole message is %j, then ConsentRevoked (scope all, source keyword)",
    (body) => {
      spec()
        .given()
        .when(inbound("wamid.K", { body }))
        .then(
          { type: "InboundMessageReceived" },
          { type: "ConversationWindowOpened" },
          {
            type: "ConsentRevoked",
            data: {
              contactId: CONTACT,
              scope: "all",
              channel: "whatsapp",
              source: "keyword",
              recordedBy: "router",
              evidence: { wamid: "wamid.K", text: body },
            },
          },
        );
    },
  );

  it.each(["START", "Unstop", "começar"])("when the message is %j, then ConsentGranted", (body) => {
    spec()
      .given()
      .when(inbound("wamid.K", { body }))
      .then(
        { type: "InboundMessageReceived" },
        { type: "ConversationWindowOpened" },
        { type: "ConsentGranted" },
      );
  });

  it.each(["please stop sending", "stopping", "start the order"])(
    "when %j merely contains a keyword, then no consent event",
    (body) => {
      spec()
        .given()
        .when(inbound("wamid.K", { body }))
        .then({ type: "InboundMessageReceived" }, { type: "ConversationWindowOpened" });
    },
  );

  it("a configured list replaces the defaults", () => {
    const custom = spec(undefined, {
      ...ctx(),
      matchKeyword: createKeywordMatcher({ stop: ["basta ya"], start: ["vuelve"] }),
    });
    custom
      .given()
      .when(inbound("wamid.K", { body: "Basta  YA" }))
      .then(
        { type: "InboundMessageReceived" },
        { type: "ConversationWindowOpened" },
        { type: "ConsentRevoked" },
      );
    custom
      .given()
      .when(inbound("wamid.L", { body: "stop" }))
      .then({ type: "InboundMessageReceived" }, { type: "ConversationWindowOpened" });
  });

  it("a duplicate STOP revokes once", () => {
    const first = spec()
      .given()
      .when(inbound("wamid.K", { body: "STOP" })).events;
    spec()
      .given(...first)
      .when(inbound("wamid.K", { body: "STOP" }))
      .thenNothing();
  });

  it("user_preferences stop revokes marketing; resume grants it; a retry does nothing", () => {
    const stop = spec()
      .given()
      .when(preferences("stop"))
      .then(
        { type: "UserPreferencesUpdated" },
        {
          type: "ConsentRevoked",
          data: expect.objectContaining({
            scope: "marketing",
            source: "user_preferences",
          }) as unknown,
        },
      );
    spec()
      .given(...stop)
      .when(preferences("stop"))
      .thenNothing();
    spec()
      .given(...stop)
      .when(preferences("resume"))
      .then({ type: "UserPreferencesUpdated" }, { type: "ConsentGranted" });
  });

  describe("when the consent service decides (ROUTER_CONSENT_DECIDER=consent, ADR 0012)", () => {
    const consentCtx = (): DecideContext => ({ ...ctx(), consentDecider: "consent" });

    it.each([
      ["STOP", "stop"],
      ["Arrêt", "stop"],
      ["START", "start"],
    ] as const)("%j is published as ConsentKeywordReceived (%s), no decision", (body, keyword) => {
      spec(undefined, consentCtx())
        .given()
        .when(inbound("wamid.K", { body }))
        .then(
          { type: "InboundMessageReceived" },
          { type: "ConversationWindowOpened" },
          {
            type: "ConsentKeywordReceived",
            data: { contactId: CONTACT, wamid: "wamid.K", keyword, text: body },
          },
        );
    });

    it("a repeated STOP is forwarded once; user_preferences is only the fact", () => {
      const first = spec(undefined, consentCtx())
        .given()
        .when(inbound("wamid.K", { body: "STOP" })).events;
      spec(undefined, consentCtx())
        .given(...first)
        .when(inbound("wamid.K", { body: "STOP" }))
        .thenNothing();
      spec(undefined, consentCtx())
        .given()
        .when(preferences("stop"))
        .then({ type: "UserPreferencesUpdated" });
    });
  });

  it("a keyword in both lists is refused at construction", () => {
    expect(() => createKeywordMatcher({ stop: ["Stop"], start: ["STOP "] })).toThrow(/both/);
    expect(normalizeKeyword("  Ça   VA! ")).toBe("ca va");
  });
});

describe("inbound decider: bounded state", () => {
  it("keeps at most maxIds identities and none older than the ttl", () => {
    let state = initialState(CONTACT);
    for (let i = 0; i < 10; i++) state = evolve(state, inbound(`wamid.${i}`, { hours: i }));
    const kept = retain(state, at(10), { maxIds: 5, ttlMs: 7 * HOUR });
    expect(kept.messages.map((m) => m.id)).toEqual(
      [5, 6, 7, 8, 9].map((i) => inboundIdentity(`wamid.${i}`)),
    );
    const younger = retain(state, at(10), { maxIds: 100, ttlMs: 3 * HOUR });
    expect(younger.messages).toHaveLength(3); // hours 7, 8 and 9
  });

  it("forgets windows that have closed", () => {
    const state = spec().given().when(inbound("wamid.A")).next;
    expect(state.windows).toHaveLength(1);
    expect(retain(state, at(25), { maxIds: 10, ttlMs: 100 * HOUR }).windows).toEqual([]);
  });
});

describe("inbound decider: cut texts and facts that could not be published", () => {
  it("given a STOP text cut to fit its topic, when it arrives, then no consent is decided from the prefix", () => {
    const cut = inbound("wamid.CUT", { body: "STOP" });
    const truncated = {
      ...cut,
      data: {
        ...cut.data,
        truncated: [
          {
            path: "/message/text/body",
            reason: "too_large" as const,
            originalBytes: 2_000_004,
            keptBytes: 4,
            sha256: "0".repeat(64),
          },
        ],
      },
    };
    spec()
      .given()
      .when(truncated)
      .then({ type: "InboundMessageReceived" }, { type: "ConversationWindowOpened" });
  });

  it("a text longer than WhatsApp allows (4,096 characters) is not a keyword", () => {
    spec()
      .given()
      .when(inbound("wamid.LONG", { body: `STOP${" ".repeat(5_000)}` }))
      .then({ type: "InboundMessageReceived" }, { type: "ConversationWindowOpened" });
  });

  it("a forgotten fact (its event could not be published) is decided again; the others stay seen", () => {
    const a = inbound("wamid.A");
    const b = inbound("wamid.B", { hours: 1 });
    const forgetting = spec()
      .given(a, b)
      .when({ type: "ForgetFacts", dropped: [a] });
    forgetting.thenNothing();
    expect(forgetting.events).toEqual([
      { type: "FactsForgotten", ids: [inboundIdentity("wamid.A")] },
    ]);
    const after = forgetting.next;
    expect(after.messages.map((m) => m.id)).toEqual([inboundIdentity("wamid.B")]);
    const again = spec().given(b).when(inbound("wamid.A")).events;
    expect(again.map((e) => e.type)).toContain("InboundMessageReceived");
  });

  it("a dropped window or consent event forgets the message that caused it; a fact not seen is nothing to forget", () => {
    const stop = inbound("wamid.S", { body: "STOP" });
    const decided = spec().given().when(stop).events;
    const [, window, revoked] = decided;
    for (const dropped of [window, revoked]) {
      if (dropped === undefined || dropped.type === "FactsForgotten") throw new Error("decided");
      spec()
        .given(...decided)
        .when({ type: "ForgetFacts", dropped: [dropped] })
        .thenState((next) => {
          expect(next.messages).toEqual([]);
        });
    }
    const past: InboundEvent[] = [inbound("wamid.B")];
    expect(
      spec()
        .given(...past)
        .when({ type: "ForgetFacts", dropped: [inbound("wamid.X")] }).events,
    ).toEqual([]);
  });
});
