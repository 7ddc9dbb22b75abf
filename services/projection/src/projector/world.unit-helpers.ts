import {
  createEvent,
  type AnyEvent,
  type EventData,
  type EventName,
  type MessageStatus,
} from "@parley/contracts";
import fc from "fast-check";

/**
 * Small worlds of Parley traffic for property tests of the read models: contacts who write and
 * get windows (in order, as the windows topic keeps them), send requests with every kind of
 * final word (accepted with statuses in any order, failed later by Meta, a late template
 * fallback, rejected, expired, in doubt then reconciled, failed at once, deduplicated), opt-outs
 * and template reviews. Times are Meta's, spread over two days; event ids are unique.
 */
export const NUMBER = "106540352242922";
export const WABA = "102290129340398";
export const CONTACTS = ["16505550001", "5511987654321", "447700900123"] as const;
export const T0 = Date.parse("2026-03-01T10:00:00.000Z");

const COUNTRIES: Readonly<Record<string, string>> = { "1": "US", "55": "BR", "44": "GB" };
export const countryOf = (contactId: string): string | undefined =>
  COUNTRIES[contactId.slice(0, 1)] ?? COUNTRIES[contactId.slice(0, 2)];

type Scenario =
  | "delivered"
  | "failedLater"
  | "fallback"
  | "rejected"
  | "expired"
  | "inDoubt"
  | "failedNow"
  | "deduplicated";

interface RequestPlan {
  readonly contact: number;
  readonly scenario: Scenario;
  readonly template: boolean;
  readonly atMs: number;
  readonly statuses: readonly { readonly status: MessageStatus; readonly afterMs: number }[];
}

interface InboundPlan {
  readonly contact: number;
  readonly atMs: number;
  readonly stop: boolean;
}

export interface World {
  /** Every event, in a plausible production order. */
  readonly events: readonly AnyEvent[];
}

const requestPlan = fc.record({
  contact: fc.integer({ min: 0, max: CONTACTS.length - 1 }),
  scenario: fc.constantFrom<Scenario>(
    "delivered",
    "failedLater",
    "fallback",
    "rejected",
    "expired",
    "inDoubt",
    "failedNow",
    "deduplicated",
  ),
  template: fc.boolean(),
  atMs: fc.integer({ min: 0, max: 48 * 3_600_000 }),
  statuses: fc.array(
    fc.record({
      status: fc.constantFrom<MessageStatus>("sent", "delivered", "read"),
      afterMs: fc.integer({ min: 0, max: 600_000 }),
    }),
    { maxLength: 3 },
  ),
});
const inboundPlan = fc.record({
  contact: fc.integer({ min: 0, max: CONTACTS.length - 1 }),
  atMs: fc.integer({ min: 0, max: 48 * 3_600_000 }),
  stop: fc.boolean(),
});

export const worldArb: fc.Arbitrary<World> = fc
  .record({
    requests: fc.array(requestPlan, { minLength: 1, maxLength: 5 }),
    inbound: fc.array(inboundPlan, { maxLength: 4 }),
    templates: fc.array(fc.constantFrom("APPROVED", "REJECTED", "PAUSED"), { maxLength: 3 }),
  })
  .map(({ requests, inbound, templates }) => buildWorld(requests, inbound, templates));

let counter = 0;

export function buildWorld(
  requests: readonly RequestPlan[],
  inbound: readonly InboundPlan[],
  templates: readonly string[],
): World {
  const run = ++counter;
  let seq = 0;
  const events: AnyEvent[] = [];
  const emit = <N extends EventName>(
    type: N,
    data: EventData<N>,
    atMs: number,
    correlationId: string,
    businessNumber: string | null = NUMBER,
  ) => {
    const eventId = `00000000-0000-4000-8${String(run % 1_000).padStart(3, "0")}-${String(++seq).padStart(12, "0")}`;
    events.push(
      createEvent(type, data, {
        correlationId,
        ...(businessNumber === null ? {} : { businessNumber }),
        occurredAt: new Date(T0 + atMs),
        now: new Date(T0 + atMs),
        eventId,
      }),
    );
  };
  const origin = (d: string) => ({ deliveryId: d, wabaId: WABA });

  // Inbound, per contact in time order: the first opens a window, later ones extend or reopen.
  const byContact = new Map<number, InboundPlan[]>();
  for (const p of inbound) byContact.set(p.contact, [...(byContact.get(p.contact) ?? []), p]);
  for (const [c, plans] of byContact) {
    const contactId = CONTACTS[c] ?? CONTACTS[0];
    let expires = -Infinity;
    plans
      .sort((a, b) => a.atMs - b.atMs)
      .forEach((p, i) => {
        const wamid = `wamid.IN.${String(run)}.${String(c)}.${String(i)}`;
        const d = `d-in-${String(run)}-${String(c)}-${String(i)}`;
        const body = p.stop ? "STOP" : `hello ${String(i)}`;
        emit(
          "InboundMessageReceived",
          {
            contactId,
            wamid,
            contact: { waId: contactId, profileName: `Person ${String(c)}` },
            origin: origin(d),
            message: { type: "text", text: { body } },
          },
          p.atMs,
          d,
        );
        const newExpiry = p.atMs + 24 * 3_600_000;
        if (p.atMs < expires) {
          emit(
            "ConversationWindowExtended",
            {
              contactId,
              extendedBy: wamid,
              previousExpiresAt: new Date(T0 + expires).toISOString(),
              expiresAt: new Date(T0 + newExpiry).toISOString(),
            },
            p.atMs,
            d,
          );
        } else {
          emit(
            "ConversationWindowOpened",
            {
              contactId,
              openedBy: wamid,
              expiresAt: new Date(T0 + newExpiry).toISOString(),
              freeEntryPoint: false,
            },
            p.atMs,
            d,
          );
        }
        expires = newExpiry;
        if (p.stop)
          emit(
            "ConsentRevoked",
            {
              contactId,
              scope: "all",
              channel: "whatsapp",
              source: "keyword",
              evidence: { wamid, text: body },
            },
            p.atMs,
            d,
          );
      });
  }

  requests.forEach((p, i) => {
    const contactId = CONTACTS[p.contact] ?? CONTACTS[0];
    const requestId = `req-${String(run)}-${String(i)}`;
    const key = `key-${String(run)}-${String(i)}`;
    const ids = { requestId, idempotencyKey: key, contactId };
    emit(
      "SendRequested",
      {
        contactId,
        idempotencyKey: key,
        recipient: { phone: `+${contactId}` },
        sender: { kind: "alias", alias: "orders" },
        content: p.template
          ? { type: "template", template: { name: "order_update", language: { code: "en_US" } } }
          : { type: "text", text: { body: `message ${String(i)}` } },
        category: p.template ? "utility" : "service",
        templateFallback: { name: "order_fallback", language: { code: "en_US" } },
        requester: "orders",
      },
      p.atMs,
      requestId,
      null,
    );
    const dispatch = () => {
      emit(
        "DispatchMessage",
        {
          ...ids,
          to: contactId,
          toKind: "phone",
          content: { type: "text", text: { body: "x" } },
          category: "service",
          usedTemplateFallback: false,
          bizOpaqueCallbackData: requestId,
        },
        p.atMs + 5,
        requestId,
      );
    };
    const wamid = `wamid.OUT.${String(run)}.${String(i)}`;
    const statuses = (w: string, base: number) => {
      p.statuses.forEach((s, k) => {
        emit(
          "StatusUpdated",
          {
            contactId,
            wamid: w,
            status: s.status,
            origin: origin(`d-st-${String(run)}-${String(i)}-${String(k)}`),
            recipientId: contactId,
            bizOpaqueCallbackData: requestId,
            ...(s.status === "sent"
              ? { pricing: { pricingModel: "PMP", type: "regular", category: "utility" } }
              : {}),
          },
          base + s.afterMs,
          `d-st-${String(run)}-${String(i)}-${String(k)}`,
        );
      });
    };
    const accepted = (w: string, atMs: number, extra = {}) => {
      emit(
        "SendAccepted",
        { ...ids, wamid: w, usedTemplateFallback: false, attempts: 1, ...extra },
        atMs,
        requestId,
      );
    };
    const failedStatus = (w: string, atMs: number, code: number) => {
      emit(
        "StatusUpdated",
        {
          contactId,
          wamid: w,
          status: "failed",
          origin: origin(`d-f-${String(run)}-${String(i)}`),
          errors: [{ code, title: "failed" }],
          bizOpaqueCallbackData: requestId,
        },
        atMs,
        `d-f-${String(run)}-${String(i)}`,
      );
    };
    switch (p.scenario) {
      case "delivered":
        dispatch();
        accepted(wamid, p.atMs + 50);
        statuses(wamid, p.atMs + 50);
        break;
      case "failedLater":
        dispatch();
        accepted(wamid, p.atMs + 50);
        failedStatus(wamid, p.atMs + 900, 131026);
        emit(
          "SendFailed",
          {
            ...ids,
            phase: "async",
            wamid,
            attempts: 1,
            error: { errorClass: "recipient", code: 131026, retriable: false },
          },
          p.atMs + 950,
          requestId,
        );
        break;
      case "fallback": {
        dispatch();
        accepted(wamid, p.atMs + 50);
        failedStatus(wamid, p.atMs + 700, 131047);
        const template = `${wamid}.T`;
        accepted(template, p.atMs + 800, {
          usedTemplateFallback: true,
          attempts: 2,
          fallbackAfter: { wamid, code: 131047 },
        });
        statuses(template, p.atMs + 800);
        break;
      }
      case "rejected":
        emit(
          "SendRejected",
          { ...ids, reason: "opted_out", detail: "the contact opted out" },
          p.atMs + 5,
          requestId,
        );
        break;
      case "expired":
        emit(
          "SendExpired",
          { ...ids, validUntil: new Date(T0 + p.atMs).toISOString(), stage: "router" },
          p.atMs + 5,
          requestId,
        );
        break;
      case "inDoubt":
        dispatch();
        emit(
          "SendInDoubt",
          {
            ...ids,
            bizOpaqueCallbackData: requestId,
            reason: "timeout",
            attemptedAt: new Date(T0 + p.atMs + 10).toISOString(),
          },
          p.atMs + 10_000,
          requestId,
        );
        statuses(wamid, p.atMs + 20);
        emit(
          "SendReconciled",
          { ...ids, wamid, status: "sent", result: "sent" },
          p.atMs + 10_500,
          requestId,
        );
        break;
      case "failedNow":
        dispatch();
        emit(
          "SendFailed",
          {
            ...ids,
            phase: "sync",
            attempts: 1,
            error: { errorClass: "template", code: 132001, retriable: false },
          },
          p.atMs + 60,
          requestId,
        );
        break;
      case "deduplicated":
        emit(
          "SendDeduplicated",
          { ...ids, originalRequestId: `req-${String(run)}-0` },
          p.atMs + 5,
          requestId,
        );
        break;
    }
  });

  templates.forEach((status, i) => {
    emit(
      "TemplateStatusUpdated",
      {
        wabaId: WABA,
        deliveryId: `d-t-${String(run)}-${String(i)}`,
        templateId: `t-${String(i % 2)}`,
        templateName: `template_${String(i % 2)}`,
        language: "en_US",
        event: status,
      },
      i * 60_000,
      `d-t-${String(run)}-${String(i)}`,
      undefined,
    );
  });
  return { events };
}

const WINDOW_TYPES: ReadonlySet<string> = new Set([
  "ConversationWindowOpened",
  "ConversationWindowExtended",
]);

/**
 * `events` in the order `ranks` gives them, except that each contact's window events keep their
 * own relative order (the windows topic is one partition per contact: any consumer, a rebuild
 * included, reads them in order). Every other topic may run ahead of or behind the others.
 */
export function arrivalOrder(events: readonly AnyEvent[], ranks: readonly number[]): AnyEvent[] {
  const shuffled = events
    .map((event, i) => ({ event, rank: ranks[i % Math.max(ranks.length, 1)] ?? 0, i }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map((x) => x.event);
  const windowKey = (e: AnyEvent) =>
    WINDOW_TYPES.has(e.type) ? (e.data as { contactId: string }).contactId : undefined;
  const queues = new Map<string, AnyEvent[]>();
  for (const e of events) {
    const k = windowKey(e);
    if (k !== undefined) queues.set(k, [...(queues.get(k) ?? []), e]);
  }
  return shuffled.map((e) => {
    const k = windowKey(e);
    return k === undefined ? e : (queues.get(k)?.shift() ?? e);
  });
}

/** One fixed world with every kind of request, windows, an opt-out and template reviews. */
export function exampleWorld(): World {
  return buildWorld(
    [
      {
        contact: 0,
        scenario: "delivered",
        template: true,
        atMs: 1_000,
        statuses: [
          { status: "read", afterMs: 900 },
          { status: "sent", afterMs: 100 },
        ],
      },
      {
        contact: 1,
        scenario: "fallback",
        template: false,
        atMs: 2_000,
        statuses: [{ status: "delivered", afterMs: 300 }],
      },
      {
        contact: 2,
        scenario: "inDoubt",
        template: false,
        atMs: 3_000,
        statuses: [{ status: "sent", afterMs: 10 }],
      },
      { contact: 0, scenario: "rejected", template: false, atMs: 4_000, statuses: [] },
      { contact: 1, scenario: "failedLater", template: true, atMs: 5_000, statuses: [] },
    ],
    [
      { contact: 0, atMs: 500, stop: false },
      { contact: 0, atMs: 600, stop: false },
      { contact: 2, atMs: 2_500, stop: true },
    ],
    ["APPROVED", "REJECTED"],
  );
}
