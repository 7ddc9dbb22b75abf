import { createEvent } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { eventIdOf } from "../inbound/event-id.js";
import { CONTACT, BN, BN2, at, text, send, history, spec, open } from "./decide.unit-helpers.js";

// The send decider on a request itself: dispatch, redeliveries and idempotency keys, validity,
// sender, recipient and content, and one person per contact (ADR 0008).

describe("outbound decider: dispatch", () => {
  it("given an open window, when a free-form send is requested, then a dispatch keyed by the business number", () => {
    const [dispatch] = spec()
      .given(open)
      .when(send({ replyTo: "wamid.q", validUntil: at(2) }))
      .then({
        type: "DispatchMessage",
        data: {
          requestId: "req-1",
          idempotencyKey: "key-1",
          contactId: CONTACT,
          to: "+16505551234",
          toKind: "phone",
          content: text(),
          category: "service",
          usedTemplateFallback: false,
          replyTo: "wamid.q",
          validUntil: at(2).toISOString(),
          bizOpaqueCallbackData: "req-1",
        },
      });
    expect(dispatch?.businessNumber).toBe(BN);
    expect(dispatch?.correlationId).toBe("req-1");
    expect(dispatch?.eventId).toBe(eventIdOf("router:dispatch:req-1"));
  });

  it("resolves an alias, and sends to a userId (BSUID) as it is", () => {
    const [d] = spec()
      .given(open)
      .when(
        send({
          sender: { kind: "alias", alias: "support" },
          recipient: { userId: "US.1349120865530274" },
          contactId: "US.1349120865530274",
        }),
      )
      .then({ type: "DispatchMessage", data: { to: "US.1349120865530274", toKind: "userId" } });
    expect(d?.businessNumber).toBe(BN);
  });

  it("reads a number without + in the business number's country, as Meta does", () => {
    spec()
      .given(open)
      .when(send({ recipient: { phone: "(650) 555-1234" } }))
      .then({ type: "DispatchMessage", data: { to: "+16505551234" } });
  });

  it("reads the same number again per business number: a reading kept for one sender is not another's (issue 31)", () => {
    const national = { recipient: { phone: "(650) 555-1234" } };
    const fromBn2 = {
      ...national,
      sender: { kind: "businessNumber" as const, phoneNumberId: BN2 },
    };
    for (let round = 0; round < 3; round++) {
      // BN has a US display number: read in the US. BN2 has none: read as another number.
      spec()
        .given(open)
        .when(send(national))
        .then({ type: "DispatchMessage", data: { to: "+16505551234" } });
      spec()
        .given(open)
        .when(send(fromBn2))
        .then({ type: "SendRejected", data: { reason: "contact_mismatch" } });
    }
  });
});

describe("outbound decider: redeliveries and idempotency keys", () => {
  it("given a request was decided, when it is delivered again, then nothing", () => {
    spec()
      .given(...history(send(), [open]))
      .when(send())
      .thenNothing();
  });

  it("given a rejected request, when it is delivered again, then nothing (one terminal outcome)", () => {
    const past = history(send());
    expect(past.map((e) => e.type)).toEqual(["SendRejected", "RequestDecided"]);
    spec()
      .given(...past)
      .when(send())
      .thenNothing();
  });

  it("given a key was used, when another request repeats it with the same content, then SendDeduplicated naming the first request, and nothing is sent", () => {
    const repeat = spec()
      .given(...history(send(), [open]))
      .when(send({ requestId: "req-2", metadata: { attempt: "2" } }));
    repeat.then({
      type: "SendDeduplicated",
      data: { requestId: "req-2", originalRequestId: "req-1", idempotencyKey: "key-1" },
    });
    // The repeat does not take the key over, and its own redelivery decides nothing again.
    expect(repeat.next.requests.filter((r) => r.key !== undefined)).toHaveLength(1);
    spec()
      .given(...history(send(), [open]), ...history(send({ requestId: "req-2" })))
      .when(send({ requestId: "req-2" }))
      .thenNothing();
  });

  it("given a key was used, when another request repeats it with other content, then duplicate_conflict", () => {
    const { next } = spec()
      .given(...history(send(), [open]))
      .when(send({ requestId: "req-2", content: text("something else") }));
    spec()
      .given(...history(send(), [open]))
      .when(send({ requestId: "req-2", content: text("something else") }))
      .then({
        type: "SendRejected",
        data: {
          requestId: "req-2",
          reason: "duplicate_conflict",
          detail: expect.stringContaining("req-1") as unknown,
        },
      });
    // The conflicting request does not take the key over.
    expect(next.requests.filter((r) => r.key !== undefined)).toHaveLength(1);
  });

  it("treats the same key from another requester as another key", () => {
    spec()
      .given(...history(send(), [open]))
      .when(send({ requestId: "req-2", requester: "payments" }))
      .then({ type: "DispatchMessage", data: { requestId: "req-2" } });
  });
});

describe("outbound decider: validity, sender, recipient, content", () => {
  it("given validUntil has passed, then SendExpired at the router stage", () => {
    const [expired] = spec()
      .given(open)
      .when(send({ validUntil: at(-1), metadata: { order: "A-1" } }))
      .then({
        type: "SendExpired",
        data: { stage: "router", validUntil: at(-1).toISOString(), metadata: { order: "A-1" } },
      });
    expect(expired?.eventId).toBe(eventIdOf("router:outcome:req-1"));
  });

  it("rejects an unknown business number or alias", () => {
    spec()
      .given(open)
      .when(send({ sender: { kind: "businessNumber", phoneNumberId: "999" } }))
      .then({
        type: "SendRejected",
        data: { reason: "unknown_sender", detail: expect.stringContaining("999") as unknown },
      });
    spec()
      .given(open)
      .when(send({ sender: { kind: "alias", alias: "sales" } }))
      .then({
        type: "SendRejected",
        data: { reason: "unknown_sender", detail: expect.stringContaining('"sales"') as unknown },
      });
  });

  it("rejects a recipient that is not a phone number, masked in the detail", () => {
    const [r] = spec()
      .given(open)
      .when(send({ recipient: { phone: "12" } }))
      .then({ type: "SendRejected", data: { reason: "recipient_invalid" } });
    expect(r?.data).not.toHaveProperty("detail", expect.stringContaining("12 ") as unknown);
    spec()
      .given(open)
      .when(send({ recipient: {} }))
      .then({ type: "SendRejected", data: { reason: "recipient_invalid" } });
  });

  it("rejects content that breaks Meta's rules, naming the field", () => {
    spec()
      .given(open)
      .when(send({ content: { type: "image", image: { caption: "no media" } } }))
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: "content: image: needs exactly one of id or link",
        },
      });
    spec()
      .given(open)
      .when(
        send({
          content: {
            type: "interactive",
            interactive: {
              type: "button",
              body: { text: "Pick" },
              buttons: [
                { id: "a", title: "Same" },
                { id: "b", title: "Same" },
              ],
            },
          },
        }),
      )
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining('duplicate title "Same"') as unknown,
        },
      });
  });

  it("rejects a malformed template fallback even while the window is open", () => {
    spec()
      .given(open)
      .when(
        send({
          templateFallback: {
            name: "order_update",
            language: { code: "en_US" },
            components: [
              { type: "body", parameters: [{ type: "text", text: "a", parameterName: "A-B" }] },
            ],
          },
        }),
      )
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("templateFallback:") as unknown,
        },
      });
  });
});

describe("outbound decider: one person, one contact (ADR 0008)", () => {
  it("rejects a request whose contactId names someone other than the recipient, before anything is sent", () => {
    spec()
      .given(open)
      .when(send({ contactId: "16505559999" }))
      .then({
        type: "SendRejected",
        data: {
          reason: "contact_mismatch",
          contactId: "16505559999",
          detail: expect.stringContaining("16505551234") as unknown,
        },
      });
  });

  it("takes Meta's forms of one Mexican number as one contact, and refuses the non-canonical key", () => {
    const MX = "525512345678";
    const mxOpen = createEvent(
      "ConversationWindowOpened",
      {
        contactId: MX,
        openedBy: "wamid.in",
        expiresAt: at(20).toISOString(),
        freeEntryPoint: false,
      },
      { correlationId: "d-1", businessNumber: BN, now: at(-1) },
    );
    // The CRM's +52 number with the canonical key: dispatched to the number as given.
    spec()
      .given(mxOpen)
      .when(send({ contactId: MX, recipient: { phone: "+52 55 1234 5678" } }))
      .then({ type: "DispatchMessage", data: { contactId: MX, to: "+525512345678" } });
    // Meta's 521 wa_id as the recipient is the same person: same key.
    spec()
      .given(mxOpen)
      .when(send({ contactId: MX, recipient: { phone: "+5215512345678" } }))
      .then({ type: "DispatchMessage", data: { contactId: MX } });
    // The wa_id used as the key is not the canonical id: refused, so state never splits.
    spec()
      .given(mxOpen)
      .when(send({ contactId: "5215512345678", recipient: { phone: "+52 55 1234 5678" } }))
      .then({ type: "SendRejected", data: { reason: "contact_mismatch" } });
  });

  it("keys a BSUID recipient by the BSUID", () => {
    spec()
      .given(open)
      .when(send({ recipient: { userId: "US.13491208655302741918" } }))
      .then({ type: "SendRejected", data: { reason: "contact_mismatch" } });
  });
});
