import type { EventData, EventName, EventOf } from "./events.js";
import { createEvent, schemaVersions } from "./events.js";

const at = "2026-03-01T10:15:00.000Z";
const contact = "16505551234";
const business = "106540352242922";
const waba = "102290129340398";
const inWamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdDRDZFRjE4QTlDQzBCQjgwNgA=";
const outWamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA";
const origin = { deliveryId: "d-7f3c2a", wabaId: waba, displayPhoneNumber: "15550783881" };
const request = { requestId: "req-42", idempotencyKey: "orders:42:shipped", contactId: contact };

/** One realistic data sample per event: the AsyncAPI examples and the schema tests use them. */
export const exampleData: { readonly [N in EventName]: EventData<N> } = {
  RawWebhookReceived: {
    deliveryId: "d-7f3c2a",
    bodyBase64: "eyJvYmplY3QiOiJ3aGF0c2FwcF9idXNpbmVzc19hY2NvdW50IiwiZW50cnkiOltdfQ==",
    signature: "sha256=4f1c1a6f0b7e4d7a8b0c2a0e6c8b1d3f5e7a9c1b3d5f7e9a1c3b5d7f9e1a3c5b",
    contentType: "application/json",
    sizeBytes: 51,
    sourceIp: "173.252.95.1",
    userAgent: "facebookexternalua",
    phoneNumberIds: [business],
    wabaIds: [waba],
  },
  RawStatusWebhookReceived: {
    deliveryId: "d-9a41e0",
    bodyBase64: "eyJvYmplY3QiOiJ3aGF0c2FwcF9idXNpbmVzc19hY2NvdW50IiwiZW50cnkiOltdfQ==",
    signature: "sha256=0b7e4d7a8b0c2a0e6c8b1d3f5e7a9c1b3d5f7e9a1c3b5d7f9e1a3c5b4f1c1a6f",
    contentType: "application/json",
    sizeBytes: 51,
    sourceIp: "173.252.95.1",
    userAgent: "facebookexternalua",
    phoneNumberIds: [business],
    wabaIds: [waba],
  },
  InboundMessageReceived: {
    contactId: contact,
    wamid: inWamid,
    contact: { waId: contact, profileName: "Sheena", userId: "US.13491208655302741918" },
    origin,
    message: { type: "text", text: { body: "Where is my order?" } },
    context: { from: "15550783881", id: outWamid },
  },
  StatusUpdated: {
    contactId: contact,
    wamid: outWamid,
    status: "delivered",
    origin,
    recipientId: contact,
    bizOpaqueCallbackData: "req-42",
    pricing: { pricingModel: "PMP", type: "regular", category: "utility", billable: true },
  },
  UserPreferencesUpdated: {
    wabaId: waba,
    deliveryId: "d-7f3c2b",
    contactId: contact,
    category: "marketing_messages",
    value: "stop",
    detail: "User requested to stop marketing messages",
  },
  UnknownWebhookFieldReceived: {
    wabaId: waba,
    deliveryId: "d-7f3c2c",
    field: "automatic_events",
    value: { event_name: "Purchase", ctwa_clid: "ARAkLkA8" },
  },
  WebhookErrorsReceived: {
    wabaId: waba,
    deliveryId: "d-7f3c2d",
    phoneNumberId: business,
    errors: [
      {
        code: 130429,
        title: "Rate limit hit",
        details: "Cloud API message throughput has been reached.",
      },
    ],
  },
  TemplateStatusUpdated: {
    wabaId: waba,
    deliveryId: "d-7f3c2e",
    templateId: "1689556908129832",
    templateName: "order_update",
    language: "en_US",
    event: "APPROVED",
    reason: "NONE",
    category: "UTILITY",
  },
  TemplateQualityUpdated: {
    wabaId: waba,
    deliveryId: "d-7f3c2f",
    templateId: "1689556908129832",
    templateName: "order_update",
    language: "en_US",
    previousQualityScore: "GREEN",
    newQualityScore: "YELLOW",
  },
  TemplateCategoryUpdated: {
    wabaId: waba,
    deliveryId: "d-7f3c30",
    templateId: "1689556908129832",
    templateName: "order_update",
    language: "en_US",
    previousCategory: "UTILITY",
    newCategory: "MARKETING",
  },
  PhoneNumberQualityUpdated: {
    wabaId: waba,
    deliveryId: "d-7f3c31",
    displayPhoneNumber: "15550783881",
    event: "THROUGHPUT_UPGRADE",
    maxDailyConversationsPerBusiness: "TIER_UNLIMITED",
  },
  AccountUpdated: {
    wabaId: waba,
    deliveryId: "d-7f3c32",
    event: "ACCOUNT_RESTRICTION",
    value: {
      event: "ACCOUNT_RESTRICTION",
      restriction_info: [{ restriction_type: "RESTRICTED_ADD_PHONE_NUMBER_ACTION" }],
    },
  },
  BusinessCapabilityUpdated: {
    wabaId: waba,
    deliveryId: "d-7f3c33",
    maxDailyConversationsPerBusiness: 10000,
    value: { max_daily_conversations_per_business: 10000 },
  },
  SendRequested: {
    contactId: contact,
    idempotencyKey: "orders:42:shipped",
    recipient: { phone: contact },
    sender: { kind: "alias", alias: "orders" },
    content: {
      type: "template",
      template: {
        name: "order_update",
        language: { code: "en_US", policy: "deterministic" },
        components: [
          {
            type: "body",
            parameters: [{ type: "text", text: "Jess", parameterName: "first_name" }],
          },
          {
            type: "button",
            subType: "url",
            index: 0,
            parameters: [{ type: "text", text: "track/42" }],
          },
        ],
      },
    },
    category: "utility",
    validUntil: "2026-03-02T10:15:00.000Z",
    metadata: { orderId: "42" },
    requester: "orders",
  },
  DispatchMessage: {
    ...request,
    to: contact,
    toKind: "phone",
    content: { type: "text", text: { body: "Your order 42 has shipped." } },
    category: "service",
    usedTemplateFallback: false,
    bizOpaqueCallbackData: "req-42",
  },
  SendAccepted: {
    ...request,
    wamid: outWamid,
    waId: contact,
    usedTemplateFallback: false,
    attempts: 1,
  },
  SendRejected: {
    ...request,
    reason: "outside_window",
    detail: "The service window is closed and the request has no template fallback.",
  },
  SendFailed: {
    ...request,
    error: {
      errorClass: "window_closed",
      code: 131047,
      title: "Re-engagement message",
      retriable: false,
      retryHint:
        "the service window is closed: send a template (a request's templateFallback is sent once by itself)",
    },
    phase: "async",
    wamid: outWamid,
    statusAt: "2026-03-01T10:00:02.000Z",
    attempts: 1,
  },
  SendExpired: { ...request, validUntil: "2026-03-01T10:00:00.000Z", stage: "sender" },
  SendInDoubt: { ...request, bizOpaqueCallbackData: "req-42", reason: "timeout", attemptedAt: at },
  SendReconciled: { ...request, wamid: outWamid, status: "sent", result: "sent" },
  SendDeduplicated: {
    ...request,
    requestId: "req-43",
    originalRequestId: "req-42",
  },
  ConsentGranted: {
    contactId: contact,
    scope: "marketing",
    channel: "whatsapp",
    source: "keyword",
    businessName: "Acme Shop",
    evidence: { wamid: inWamid, text: "START" },
  },
  ConsentRevoked: {
    contactId: contact,
    scope: "all",
    channel: "whatsapp",
    source: "keyword",
    businessName: "Acme Shop",
    evidence: { wamid: inWamid, text: "STOP" },
  },
  ConsentKeywordReceived: {
    contactId: contact,
    wamid: inWamid,
    keyword: "stop",
    text: "STOP",
  },
  ContactErased: {
    contactId: contact,
    keyIds: ["k-4b1e0f2a"],
    destroyed: ["consent data key k-4b1e0f2a"],
    kept: ["that consent was granted and withdrawn, without evidence"],
    requestedBy: "privacy-desk",
  },
  AuditRecorded: {
    action: "consent.erased",
    service: "consent",
    actorId: "privacy-desk",
    authMethod: "jwt",
    role: "admin",
    method: "POST",
    route: "/v1/contacts/{contactId}/erasure",
    target: { contactId: contact },
    status: 200,
  },
  MediaStored: {
    contactId: contact,
    mediaId: "1037543291543636",
    wamid: inWamid,
    mimeType: "image/jpeg",
    sha256: "2yLd0bAE8Pc9oJnFcSU4Ro8ToCv7VfIP1VtKaN1WxUU=",
    sizeBytes: 303833,
    storageKey: "media/2026/03/01/1037543291543636.enc",
    keyId: "k-2026-01",
    retentionEndsAt: "2026-05-30T10:15:00.000Z",
  },
  MediaFailed: {
    contactId: contact,
    mediaId: "1037543291543636",
    wamid: inWamid,
    reason: "hash_mismatch",
    detail: "sha256 of the downloaded bytes differs from the webhook's",
    direction: "inbound",
  },
  MediaExpired: {
    contactId: contact,
    mediaId: "1037543291543636",
    storageKey: "media/2026/03/01/1037543291543636.enc",
    reason: "retention",
  },
  MediaDeleted: {
    contactId: contact,
    mediaId: "1037543291543636",
    wamid: inWamid,
    storageKey: "inbound/1037543291543636",
    reason: "retention",
    policy: "retention:image:90d",
    kind: "image",
  },
  ConversationWindowOpened: {
    contactId: contact,
    openedBy: inWamid,
    expiresAt: "2026-03-02T10:15:00.000Z",
    freeEntryPoint: false,
  },
  ConversationWindowExtended: {
    contactId: contact,
    extendedBy: inWamid,
    previousExpiresAt: "2026-03-02T09:00:00.000Z",
    expiresAt: "2026-03-02T10:15:00.000Z",
  },
};

/** Events whose envelope names the business number (phone_number_id). */
const withBusinessNumber = new Set<EventName>([
  "InboundMessageReceived",
  "StatusUpdated",
  "UserPreferencesUpdated",
  "WebhookErrorsReceived",
  "SendAccepted",
  "SendFailed",
  "SendInDoubt",
  "SendReconciled",
  "DispatchMessage",
  "ConversationWindowOpened",
  "ConversationWindowExtended",
  "MediaStored",
  "PhoneNumberQualityUpdated",
]);

/** A complete, valid example envelope of event `name` (fixed ids and times: stable output). */
export function exampleEvent<N extends EventName>(name: N): EventOf<N> {
  const index = Object.keys(schemaVersions).indexOf(name);
  return createEvent(name, exampleData[name], {
    correlationId: name.startsWith("Send") || name === "DispatchMessage" ? "req-42" : "d-7f3c2a",
    causationId: index === 0 ? null : "5b0c7a3e-1f2d-4c6b-9a8e-000000000000",
    ...(withBusinessNumber.has(name) ? { businessNumber: business } : {}),
    now: new Date(at),
    eventId: `5b0c7a3e-1f2d-4c6b-9a8e-${String(index + 1).padStart(12, "0")}`,
  });
}
