import {
  createEvent,
  type EventOf,
  type OutboundContent,
  type TemplateContent,
} from "@parley/contracts";
import { deciderSpec } from "@parley/testkit";
import { contentDigest, eventIdOf } from "../inbound/event-id.js";
import {
  decide,
  outboundDecider,
  requestFingerprint,
  type OutboundCommand,
  type OutboundContext,
  type SenderNumber,
} from "./decide.js";
import { evolve, initialState, type OutboundEvent } from "./evolve.js";
import type { CatalogTemplate, TemplateCatalog } from "./templates.js";

// The send decider's fixtures, shared by its given/when/then specs (one file per concern):
// a contact, two business numbers of one WABA, a catalog, requests, consent and window facts.

export const CONTACT = "16505551234";
export const BN = "106540352242922";
export const BN2 = "106540352242933";
export const WABA = "102290129340398";
export const HOUR = 3_600_000;
export const T0 = new Date("2026-03-01T10:00:00.000Z");
export const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

export const numbers: readonly (SenderNumber & { aliases: string[] })[] = [
  { phoneNumberId: BN, wabaId: WABA, aliases: ["support"], displayPhoneNumber: "+1 650 555 0100" },
  { phoneNumberId: BN2, wabaId: WABA, aliases: [] },
];

export const template = (
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

export const catalog: TemplateCatalog = {
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

export const ctx = (over: Partial<OutboundContext> = {}): OutboundContext => ({
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

export const text = (body = "Your order shipped"): OutboundContent => ({
  type: "text",
  text: { body },
});
export const tplContent = (t: TemplateContent): OutboundContent => ({
  type: "template",
  template: t,
});
export const orderUpdate = (language = "en_US", params = ["A-1", "shipped"]): TemplateContent => ({
  name: "order_update",
  language: { code: language },
  components: [
    { type: "body", parameters: params.map((p) => ({ type: "text" as const, text: p })) },
  ],
});
export const springSale: TemplateContent = {
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

export interface RequestOptions {
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

export function request({
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

export const send = (options: RequestOptions = {}): OutboundCommand => {
  const r = request(options);
  return { type: "DecideSend", request: r, contentHash: contentDigest(requestFingerprint(r)) };
};

export const windowOpened = (
  expiresAt: Date,
  businessNumber = BN,
): EventOf<"ConversationWindowOpened"> =>
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

export function consent(
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
export const history = (
  command: OutboundCommand,
  given: readonly OutboundEvent[] = [],
  c = ctx(),
) => [...given, ...decide(command, given.reduce(evolve, initialState(CONTACT)), c)];

/** Given/when/then for the send decider (testkit's, data compared as a subset). */
export const spec = (c: OutboundContext = ctx()) =>
  deciderSpec(outboundDecider, { key: CONTACT, context: c, match: "subset" });
export const open = windowOpened(at(20));
