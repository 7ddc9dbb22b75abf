import { finalOutcome } from "@parley/client";
import { createEvent, type EventData, type EventName } from "@parley/contracts";
import { deciderSpec } from "@parley/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contactDecider } from "./contact.js";
import { conversationDecider, conversationKey } from "./conversation.js";
import { ERASED_ID } from "./erasure.js";
import type { Observed } from "./facts.js";
import { messageDecider } from "./message.js";
import { requestDecider, type RequestState } from "./request.js";
import { route } from "./route.js";

const CONTACT = "16505551234";
const NUMBER = "106540352242922";
const IN = "wamid.IN1";
const OUT = "wamid.OUT1";
const REQ = "req-1";
const T0 = Date.parse("2026-03-01T10:00:00.000Z");
let n = 0;
const nextId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;

/** What identifies the person in the events below: none of it may stay after erasure. */
const PERSONAL = [
  CONTACT,
  "+16505551234",
  "Sheena",
  "US.13491208655302741918",
  "Where is my order",
  "Your order shipped",
  "orderId",
  "203.0.113.7",
  "STOP please",
  "sheena.pdf",
];

/** The state as JSON without the fields that are the document's key (contact id). */
function leaks(state: object, keyFields: readonly string[] = []): string[] {
  const copy = Object.fromEntries(
    Object.entries(state).filter(([field]) => !keyFields.includes(field)),
  );
  const json = JSON.stringify(copy);
  return PERSONAL.filter((p) => json.includes(p));
}

function observed<N extends EventName>(
  type: N,
  data: EventData<N>,
  atMs: number,
  extra: { businessNumber?: string; correlationId?: string } = {},
): Observed {
  return {
    type: "Observed",
    event: createEvent(type, data, {
      correlationId: extra.correlationId ?? "d-1",
      businessNumber: extra.businessNumber ?? NUMBER,
      occurredAt: new Date(atMs),
      now: new Date(atMs),
      eventId: nextId(),
    }),
    country: "US",
  };
}

const origin = { deliveryId: "d-1", wabaId: "102290129340398" };
const inbound = (atMs = T0) =>
  observed(
    "InboundMessageReceived",
    {
      contactId: CONTACT,
      wamid: IN,
      contact: { waId: CONTACT, profileName: "Sheena", userId: "US.13491208655302741918" },
      origin,
      message: { type: "text", text: { body: "Where is my order?" } },
    },
    atMs,
  );
const inboundDocument = (atMs = T0) =>
  observed(
    "InboundMessageReceived",
    {
      contactId: CONTACT,
      wamid: IN,
      contact: { waId: CONTACT },
      origin,
      message: {
        type: "document",
        document: { id: "m-1", mimeType: "application/pdf", filename: "sheena.pdf" },
      },
    },
    atMs,
  );
const status = (atMs: number) =>
  observed(
    "StatusUpdated",
    { contactId: CONTACT, wamid: OUT, status: "delivered", origin, recipientId: CONTACT },
    atMs,
  );
const granted = (atMs: number) =>
  observed(
    "ConsentGranted",
    {
      contactId: CONTACT,
      scope: "marketing",
      channel: "web",
      source: "api",
      businessName: "Acme Shop",
      evidence: { text: "203.0.113.7", note: "STOP please" },
    },
    atMs,
  );
const revoked = (atMs: number) =>
  observed(
    "ConsentRevoked",
    { contactId: CONTACT, scope: "all", channel: "whatsapp", source: "keyword" },
    atMs,
  );
const requested = (atMs: number) =>
  observed(
    "SendRequested",
    {
      contactId: CONTACT,
      idempotencyKey: "orders:1",
      recipient: { phone: "+16505551234" },
      sender: { kind: "alias", alias: "orders" },
      content: { type: "text", text: { body: "Your order shipped" } },
      category: "utility",
      metadata: { orderId: "42" },
    },
    atMs,
    { correlationId: REQ },
  );
const request = { requestId: REQ, idempotencyKey: "orders:1", contactId: CONTACT };
const dispatched = (atMs: number) =>
  observed(
    "DispatchMessage",
    {
      ...request,
      to: "+16505551234",
      toKind: "phone",
      content: { type: "text", text: { body: "Your order shipped" } },
      category: "utility",
      usedTemplateFallback: false,
      bizOpaqueCallbackData: REQ,
    },
    atMs,
    { correlationId: REQ },
  );
const accepted = (atMs: number) =>
  observed(
    "SendAccepted",
    { ...request, wamid: OUT, waId: CONTACT, usedTemplateFallback: false, attempts: 1 },
    atMs,
    { correlationId: REQ },
  );
const windowOpened = (atMs: number) =>
  observed(
    "ConversationWindowOpened",
    {
      contactId: CONTACT,
      openedBy: IN,
      expiresAt: new Date(atMs + 86_400_000).toISOString(),
      freeEntryPoint: false,
    },
    atMs,
  );
const erased = (atMs: number) =>
  observed(
    "ContactErased",
    { contactId: CONTACT, keyIds: ["k-1"], destroyed: ["consent data key k-1"], kept: [] },
    atMs,
  );
/** An event the projector found to be about an erased contact (a replay, another topic). */
const flagged = (o: Observed): Observed => ({ ...o, erased: true });
const applied = (command: Observed) => ({ type: "Applied" as const, command });

describe("erasure in the read models (given/when/then)", () => {
  it("the contact becomes a tombstone: consent existed and was withdrawn, no id forms, name or evidence", () => {
    const spec = deciderSpec(contactDecider, { key: CONTACT, context: undefined });
    spec
      .given(applied(inbound()), applied(granted(T0 + 1_000)), applied(revoked(T0 + 2_000)))
      .when(erased(T0 + 3_000))
      .thenState((next) => {
        expect(next.erased).toBe(true);
        expect(next.ids).toEqual([]);
        expect(next.profileName).toBeUndefined();
        expect(next.country).toBeUndefined();
        expect(next.consentHistory.map((c) => [c.scope, c.state, c.channel])).toEqual([
          ["marketing", "granted", "web"],
          ["all", "revoked", "whatsapp"],
        ]);
        expect(next.consentHistory.every((c) => c.evidence === undefined)).toBe(true);
        expect(leaks(next, ["contactId"])).toEqual([]);
      });
  });

  it("an erased contact keeps nothing of events that come after (a replay, another topic)", () => {
    const spec = deciderSpec(contactDecider, { key: CONTACT, context: undefined });
    spec
      .given(applied(erased(T0)))
      .when(flagged(inbound(T0 + 1_000)))
      .thenState((next) => {
        expect(next.ids).toEqual([]);
        expect(next.profileName).toBeUndefined();
        expect(next.lastInboundAt).toBe(new Date(T0 + 1_000).toISOString());
      });
  });

  it("a repeated erasure decides nothing", () => {
    const spec = deciderSpec(contactDecider, { key: CONTACT, context: undefined });
    const erasure = erased(T0);
    expect(spec.given(applied(inbound()), applied(erasure)).when(erasure).events).toEqual([]);
  });

  it("a message keeps its direction, statuses and type, not the words, file names or who", () => {
    const spec = deciderSpec(messageDecider, { key: IN, context: undefined });
    spec
      .given(applied(inboundDocument()))
      .when(erased(T0 + 1_000))
      .thenState((next) => {
        expect(next.erased).toBe(true);
        expect(next.direction).toBe("inbound");
        expect(next.contactId).toBeUndefined();
        expect(next.inbound?.content).toEqual({ type: "document" });
        expect(leaks(next)).toEqual([]);
      });
    const text = deciderSpec(messageDecider, { key: IN, context: undefined });
    text
      .given(applied(inbound()))
      .when(erased(T0 + 1_000))
      .thenState((next) => {
        expect(next.inbound?.content).toEqual({ type: "text" });
        expect(leaks(next)).toEqual([]);
      });
  });

  it("an erased message still takes its statuses, without the person", () => {
    const spec = deciderSpec(messageDecider, { key: OUT, context: undefined });
    spec
      .given(applied(erased(T0)))
      .when(status(T0 + 1_000))
      .thenState((next) => {
        expect(next.timeline.map((e) => e.status)).toEqual(["delivered"]);
        expect(next.contactId).toBeUndefined();
        expect(leaks(next)).toEqual([]);
      });
  });

  it("a request keeps its category, decision and outcomes, not the recipient, content or metadata", () => {
    const decider = requestDecider(finalOutcome);
    const spec = deciderSpec(decider, { key: REQ, context: undefined, match: "subset" });
    spec
      .given(applied(requested(T0)), applied(dispatched(T0 + 10)), applied(accepted(T0 + 20)))
      .when(erased(T0 + 1_000))
      .thenState((next) => {
        expect(next.erased).toBe(true);
        expect(next.decision).toBe("accepted");
        expect(next.request?.category).toBe("utility");
        expect(next.request?.contactId).toBe(ERASED_ID);
        expect(next.request?.recipient).toEqual({});
        expect(next.request?.content).toEqual({ type: "text" });
        expect(next.request?.metadata).toBeUndefined();
        expect(next.dispatches.map((d) => d.to)).toEqual([ERASED_ID]);
        expect(leaks(next)).toEqual([]);
      });
  });

  it("an erased request hands its messages links that name nobody", () => {
    const decider = requestDecider(finalOutcome);
    const spec = deciderSpec(decider, { key: REQ, context: undefined, match: "subset" });
    const result = spec
      .given(applied(requested(T0)), applied(erased(T0 + 5)))
      .when(flagged(accepted(T0 + 20)));
    const links = result.published.filter((o) => o.type === "MessageLinked");
    expect(links).toHaveLength(1);
    expect(links[0]).toMatchObject({ wamid: OUT, link: { requestId: REQ, category: "utility" } });
    expect(JSON.stringify(links)).not.toContain(CONTACT);
  });

  it("a conversation keeps its windows, not whom it was with", () => {
    const key = conversationKey(CONTACT, NUMBER);
    const spec = deciderSpec(conversationDecider, { key, context: undefined, match: "subset" });
    spec
      .given(applied(windowOpened(T0)), applied(inbound(T0)))
      .when(erased(T0 + 1_000))
      .thenState((next) => {
        expect(next.erased).toBe(true);
        expect(next.contactId).toBe(ERASED_ID);
        expect(next.windows.map((w) => w.openedBy)).toEqual([IN]);
        expect(leaks(next, ["key"])).toEqual([]);
      });
  });

  it("erasure routes to the contact; the projector finds the rest", () => {
    const targets = route(erased(T0));
    expect(targets.contacts.map((t) => t.key)).toEqual([CONTACT]);
    expect(targets.messages).toEqual([]);
  });

  it("a replay ends where the live service did: any order, events after the erasure flagged", () => {
    const decider = requestDecider(finalOutcome);
    const fold = (commands: readonly Observed[]): RequestState => {
      let state = decider.initialState(REQ);
      for (const c of commands)
        for (const e of decider.decide(c, state)) state = decider.evolve(state, e);
      return state;
    };
    const events = [requested(T0), dispatched(T0 + 10), accepted(T0 + 20)];
    const erasure = erased(T0 + 1_000);
    const live = fold([...events, erasure]);
    fc.assert(
      fc.property(
        fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }),
        (order: number[]) => {
          let seen = false;
          const replay = order.map((i) => {
            if (i === 3) {
              seen = true;
              return erasure;
            }
            const event = events[i] as Observed;
            return seen ? flagged(event) : event;
          });
          expect(fold(replay)).toEqual(live);
        },
      ),
    );
  });
});

describe("MediaDeleted", () => {
  const stored = (atMs: number) =>
    observed(
      "MediaStored",
      {
        contactId: CONTACT,
        mediaId: "m-1",
        wamid: IN,
        mimeType: "image/jpeg",
        sha256: "x",
        sizeBytes: 10,
        storageKey: "inbound/m-1",
        keyId: "k-1",
        retentionEndsAt: "2026-06-01T00:00:00.000Z",
      },
      atMs,
    );
  const deleted = (atMs: number) =>
    observed(
      "MediaDeleted",
      {
        contactId: CONTACT,
        mediaId: "m-1",
        wamid: IN,
        storageKey: "inbound/m-1",
        reason: "retention",
        policy: "retention:image:90d",
        kind: "image",
      },
      atMs,
    );

  it("routes to the message's read model by wamid", () => {
    expect(route(deleted(T0)).messages.map((t) => t.key)).toEqual([IN]);
  });

  it("says the message's media was deleted, and by which policy", () => {
    const spec = deciderSpec(messageDecider, { key: IN, context: undefined, match: "subset" });
    spec
      .given(applied(stored(T0)))
      .when(deleted(T0 + 1_000))
      .thenState((next) => {
        expect(next.media).toMatchObject({
          mediaId: "m-1",
          state: "deleted",
          reason: "retention",
          policy: "retention:image:90d",
        });
      });
  });

  it("a deletion read before the storing (another partition) still wins: the latest fact", () => {
    const spec = deciderSpec(messageDecider, { key: IN, context: undefined, match: "subset" });
    spec
      .given(applied(deleted(T0 + 1_000)))
      .when(stored(T0))
      .thenState((next) => {
        expect(next.media?.state).toBe("deleted");
      });
  });
});
