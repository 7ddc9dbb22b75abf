import {
  createEvent,
  type EventOf,
  type OutboundContent,
  type TemplateContent,
} from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { contentDigest, eventIdOf } from "../inbound/event-id.js";
import {
  CatalogUnavailableError,
  decide,
  requestFingerprint,
  type OutboundCommand,
  type OutboundContext,
  type SenderNumber,
} from "./decide.js";
import { outboundSpec } from "./decider-spec.unit-helpers.js";
import { evolve, initialState, retain, type OutboundEvent } from "./evolve.js";
import type { CatalogTemplate, TemplateCatalog } from "./templates.js";

const CONTACT = "16505551234";
const BN = "106540352242922";
const BN2 = "106540352242933";
const WABA = "102290129340398";
const HOUR = 3_600_000;
const T0 = new Date("2026-03-01T10:00:00.000Z");
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

const numbers: readonly (SenderNumber & { aliases: string[] })[] = [
  { phoneNumberId: BN, wabaId: WABA, aliases: ["support"], displayPhoneNumber: "+1 650 555 0100" },
  { phoneNumberId: BN2, wabaId: WABA, aliases: [] },
];

const template = (
  t: Partial<CatalogTemplate> & Pick<CatalogTemplate, "name">,
): CatalogTemplate => ({
  id: `id-${t.name}`,
  language: "en_US",
  status: "APPROVED",
  category: "UTILITY",
  parameterFormat: "POSITIONAL",
  components: [],
  ...t,
});

const catalog: TemplateCatalog = {
  wabaId: WABA,
  syncedAt: T0.toISOString(),
  templates: [
    template({
      name: "order_update",
      components: [{ type: "BODY", text: "Order {{1}} is {{2}}." }],
    }),
    template({
      name: "order_update",
      language: "fr",
      components: [{ type: "BODY", text: "Commande {{1}}: {{2}}" }],
    }),
    template({
      name: "spring_sale",
      category: "MARKETING",
      parameterFormat: "NAMED",
      components: [{ type: "BODY", text: "Hi {{first_name}}, {{offer}} today" }],
    }),
    template({
      name: "paused_one",
      status: "PAUSED",
      components: [{ type: "BODY", text: "Hello" }],
    }),
    template({
      name: "with_media",
      components: [
        { type: "HEADER", format: "IMAGE" },
        { type: "BODY", text: "Your receipt" },
        {
          type: "BUTTONS",
          buttons: [{ type: "URL", url: "https://x.test/r/{{1}}" }, { type: "QUICK_REPLY" }],
        },
      ],
    }),
    template({
      name: "welcome_back",
      components: [{ type: "BODY", text: "Welcome back! Reply to continue." }],
    }),
  ],
};

const ctx = (over: Partial<OutboundContext> = {}): OutboundContext => ({
  now: at(0),
  resolveSender: (s) =>
    s.kind === "businessNumber"
      ? numbers.find((n) => n.phoneNumberId === s.phoneNumberId)
      : numbers.find((n) => n.aliases.includes(s.alias)),
  catalog,
  observedWindows: [],
  marketingCap: { count: 2, periodMs: 24 * HOUR },
  eventIdOf,
  ...over,
});

const text = (body = "Your order shipped"): OutboundContent => ({ type: "text", text: { body } });
const tplContent = (t: TemplateContent): OutboundContent => ({ type: "template", template: t });
const orderUpdate = (language = "en_US", params = ["A-1", "shipped"]): TemplateContent => ({
  name: "order_update",
  language: { code: language },
  components: [
    { type: "body", parameters: params.map((p) => ({ type: "text" as const, text: p })) },
  ],
});
const springSale: TemplateContent = {
  name: "spring_sale",
  language: { code: "en_US" },
  components: [
    {
      type: "body",
      parameters: [
        { type: "text", text: "Ana", parameterName: "first_name" },
        { type: "text", text: "20% off", parameterName: "offer" },
      ],
    },
  ],
};

interface RequestOptions {
  requestId?: string;
  key?: string;
  requester?: string;
  content?: OutboundContent;
  category?: "marketing" | "utility" | "authentication" | "service";
  templateFallback?: TemplateContent;
  validUntil?: Date;
  sender?: EventOf<"SendRequested">["data"]["sender"];
  recipient?: { phone?: string; userId?: string };
  contactId?: string;
  metadata?: Record<string, string>;
  replyTo?: string;
}

function request({
  requestId = "req-1",
  key = "key-1",
  requester = "orders",
  content = text(),
  category = "service",
  templateFallback,
  validUntil,
  sender = { kind: "businessNumber", phoneNumberId: BN },
  recipient = { phone: "+1 650 555 1234" },
  contactId = CONTACT,
  metadata,
  replyTo,
}: RequestOptions = {}): EventOf<"SendRequested"> {
  return createEvent(
    "SendRequested",
    {
      contactId,
      idempotencyKey: key,
      recipient,
      sender,
      content,
      category,
      requester,
      ...(templateFallback ? { templateFallback } : {}),
      ...(validUntil ? { validUntil: validUntil.toISOString() } : {}),
      ...(metadata ? { metadata } : {}),
      ...(replyTo ? { replyTo } : {}),
    },
    { correlationId: requestId, now: at(0) },
  );
}

const send = (options: RequestOptions = {}): OutboundCommand => {
  const r = request(options);
  return { type: "DecideSend", request: r, contentHash: contentDigest(requestFingerprint(r)) };
};

const windowOpened = (expiresAt: Date, businessNumber = BN): EventOf<"ConversationWindowOpened"> =>
  createEvent(
    "ConversationWindowOpened",
    {
      contactId: CONTACT,
      openedBy: "wamid.in",
      expiresAt: expiresAt.toISOString(),
      freeEntryPoint: false,
    },
    { correlationId: "d-1", businessNumber, now: at(-1) },
  );

function consent(
  type: "ConsentGranted" | "ConsentRevoked",
  scope: "all" | "marketing",
  hours: number,
  id = `${type}-${scope}-${hours}`,
): EventOf<"ConsentGranted"> | EventOf<"ConsentRevoked"> {
  return createEvent(
    type,
    { contactId: CONTACT, scope, channel: "whatsapp", source: "keyword" },
    { eventId: eventIdOf(id), correlationId: "d-1", occurredAt: at(hours), now: at(hours) },
  );
}

/** The events a first decision emitted, to use as history. */
const history = (command: OutboundCommand, given: readonly OutboundEvent[] = [], c = ctx()) => [
  ...given,
  ...decide(command, given.reduce(evolve, initialState(CONTACT)), c),
];

const spec = (c: OutboundContext = ctx()) => outboundSpec(CONTACT, c);
const open = windowOpened(at(20));

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
    const { emitted } = spec().given(open).when(send());
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

describe("outbound decider: the service window", () => {
  it("given no window, when free-form is requested, then outside_window saying it is closed", () => {
    spec()
      .given()
      .when(send())
      .then({
        type: "SendRejected",
        data: { reason: "outside_window", detail: expect.stringContaining("is closed") as unknown },
      });
  });

  it("judges the window with the decision's clock, not the one it was recorded with", () => {
    spec(ctx({ now: at(21) }))
      .given(open)
      .when(send())
      .then({
        type: "SendRejected",
        data: {
          reason: "outside_window",
          detail: expect.stringContaining(`closed at ${at(20).toISOString()}`) as unknown,
        },
      });
  });

  it("counts only the window with the requested business number", () => {
    spec()
      .given(windowOpened(at(20), BN2))
      .when(send())
      .then({ type: "SendRejected", data: { reason: "outside_window" } });
  });

  it("uses windows observed at decision time from the inbound state", () => {
    spec(ctx({ observedWindows: [{ businessNumber: BN, expiresAt: at(5).toISOString() }] }))
      .given()
      .when(send())
      .then({ type: "DispatchMessage" });
  });

  it("given a closed window and a template fallback, then the fallback is dispatched", () => {
    spec()
      .given()
      .when(send({ templateFallback: orderUpdate(), category: "service" }))
      .then({
        type: "DispatchMessage",
        data: {
          content: tplContent(orderUpdate()),
          usedTemplateFallback: true,
          category: "utility",
        },
      });
  });

  it("sends templates outside the window", () => {
    spec()
      .given()
      .when(send({ content: tplContent(orderUpdate()), category: "utility" }))
      .then({ type: "DispatchMessage", data: { usedTemplateFallback: false } });
  });

  it("checks the fallback against the catalog too", () => {
    spec()
      .given()
      .when(send({ templateFallback: { name: "paused_one", language: { code: "en_US" } } }))
      .then({
        type: "SendRejected",
        data: {
          reason: "template_not_approved",
          detail: expect.stringMatching(/^templateFallback: .*PAUSED/) as unknown,
        },
      });
  });
});

describe("outbound decider: the template catalog", () => {
  const sendTemplate = (t: TemplateContent, category: RequestOptions["category"] = "utility") =>
    send({ content: tplContent(t), category });

  it("rejects a template that does not exist, or not in that language", () => {
    spec()
      .given()
      .when(sendTemplate({ name: "nope", language: { code: "en_US" } }))
      .then({
        type: "SendRejected",
        data: {
          reason: "template_not_approved",
          detail: expect.stringContaining(`no template "nope"`) as unknown,
        },
      });
    spec()
      .given()
      .when(sendTemplate(orderUpdate("de")))
      .then({
        type: "SendRejected",
        data: {
          reason: "template_not_approved",
          detail: expect.stringContaining("en_US, fr") as unknown,
        },
      });
  });

  it("rejects a template that is not APPROVED", () => {
    spec()
      .given()
      .when(sendTemplate({ name: "paused_one", language: { code: "en_US" } }))
      .then({
        type: "SendRejected",
        data: {
          reason: "template_not_approved",
          detail: expect.stringContaining("PAUSED") as unknown,
        },
      });
  });

  it("rejects a wrong parameter count", () => {
    spec()
      .given()
      .when(sendTemplate(orderUpdate("en_US", ["A-1"])))
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining(
            "the body takes 2 parameter(s), the request gives 1",
          ) as unknown,
        },
      });
    spec()
      .given()
      .when(
        sendTemplate({
          name: "welcome_back",
          language: { code: "en_US" },
          components: [{ type: "body", parameters: [{ type: "text", text: "x" }] }],
        }),
      )
      .then({ type: "SendRejected", data: { reason: "invalid_request" } });
  });

  it("rejects positional parameters for a named template and the reverse", () => {
    spec(ctx())
      .given(consent("ConsentGranted", "marketing", -1))
      .when(
        sendTemplate(
          {
            name: "spring_sale",
            language: { code: "en_US" },
            components: [
              {
                type: "body",
                parameters: [
                  { type: "text", text: "Ana" },
                  { type: "text", text: "x" },
                ],
              },
            ],
          },
          "marketing",
        ),
      )
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("uses named parameters") as unknown,
        },
      });
    spec()
      .given()
      .when(
        sendTemplate({
          name: "order_update",
          language: { code: "en_US" },
          components: [
            {
              type: "body",
              parameters: [
                { type: "text", text: "A-1", parameterName: "order" },
                { type: "text", text: "shipped", parameterName: "state" },
              ],
            },
          ],
        }),
      )
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("uses positional parameters") as unknown,
        },
      });
  });

  it("checks media headers and button variables", () => {
    const receipt = (components: NonNullable<TemplateContent["components"]>): TemplateContent => ({
      name: "with_media",
      language: { code: "en_US" },
      components,
    });
    spec()
      .given()
      .when(sendTemplate(receipt([])))
      .then({
        type: "SendRejected",
        data: { reason: "invalid_request", detail: expect.stringContaining("IMAGE") as unknown },
      });
    spec()
      .given()
      .when(
        sendTemplate(
          receipt([{ type: "header", parameters: [{ type: "image", image: { id: "1" } }] }]),
        ),
      )
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("button 0 (URL)") as unknown,
        },
      });
    spec()
      .given()
      .when(
        sendTemplate(
          receipt([
            { type: "header", parameters: [{ type: "image", image: { id: "1" } }] },
            {
              type: "button",
              subType: "url",
              index: 0,
              parameters: [{ type: "text", text: "r-9" }],
            },
          ]),
        ),
      )
      .then({ type: "DispatchMessage" });
  });

  it("rejects a template whose catalog category differs from the request's", () => {
    spec()
      .given(consent("ConsentGranted", "all", -1))
      .when(sendTemplate(springSale, "utility"))
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("MARKETING") as unknown,
        },
      });
  });

  it("without a catalog for the WABA yet, the decision is retried, not rejected", () => {
    expect(() =>
      decide(sendTemplate(orderUpdate()), initialState(CONTACT), ctx({ catalog: undefined })),
    ).toThrow(CatalogUnavailableError);
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

describe("outbound decider: the template fallback travels with free-form content", () => {
  const fallback = orderUpdate();

  it("puts an approved fallback into the dispatch of a free-form message, for a late 131047", () => {
    spec()
      .given(open)
      .when(send({ templateFallback: fallback }))
      .then({
        type: "DispatchMessage",
        data: {
          usedTemplateFallback: false,
          content: { type: "text" },
          templateFallback: fallback,
        },
      });
  });

  it("leaves out a fallback the catalog does not approve", () => {
    const [d] = spec()
      .given(open)
      .when(send({ templateFallback: { ...fallback, name: "paused_one", components: [] } }))
      .then({ type: "DispatchMessage", data: { usedTemplateFallback: false } });
    expect(d?.type === "DispatchMessage" ? d.data.templateFallback : "n/a").toBeUndefined();
  });

  it("carries no second fallback when the fallback is already what goes", () => {
    const [d] = spec()
      .given()
      .when(send({ templateFallback: fallback }))
      .then({ type: "DispatchMessage", data: { usedTemplateFallback: true } });
    expect(d?.type === "DispatchMessage" ? d.data.templateFallback : "n/a").toBeUndefined();
  });
});
