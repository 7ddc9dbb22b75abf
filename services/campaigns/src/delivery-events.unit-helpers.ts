import { createEvent, type AnyEvent } from "@parley/contracts";

/**
 * What Meta and the sender say about one campaign send, as the router and the sender publish it
 * (contracts' own createEvent, validated): the outcomes on send-outcomes, the statuses with
 * their pricing on statuses. Used by the progress tests (unit and int).
 */
export type SendStory =
  | {
      readonly kind: "delivered";
      readonly read: boolean;
      /** Meta's pricing type on the sent and delivered statuses. */
      readonly pricingType: "regular" | "free_customer_service" | "free_entry_point";
      readonly category: string;
    }
  | { readonly kind: "failed_async"; readonly code: number }
  | { readonly kind: "rejected"; readonly reason: "opted_out" | "no_consent" | "outside_window" }
  | { readonly kind: "accepted_only" };

export interface SendRef {
  readonly campaignId: string;
  readonly contactId: string;
  readonly requestId: string;
}

let n = 0;
const meta = (eventId?: string) => ({
  correlationId: `corr-${++n}`,
  now: new Date("2026-12-06T10:00:00Z"),
  ...(eventId === undefined ? {} : { eventId }),
});

/** The events of one send's story, in the order they happen. */
export function eventsOf(ref: SendRef, story: SendStory): AnyEvent[] {
  const outcome = {
    requestId: ref.requestId,
    idempotencyKey: `campaign:${ref.campaignId}:${ref.contactId}`,
    contactId: ref.contactId,
  };
  const wamid = `wamid.${ref.requestId}`;
  const status = (s: "sent" | "delivered" | "read" | "failed", extra: object = {}) =>
    createEvent(
      "StatusUpdated",
      {
        contactId: ref.contactId,
        wamid,
        status: s,
        origin: { deliveryId: `d-${ref.requestId}-${s}`, wabaId: "waba-1" },
        bizOpaqueCallbackData: ref.requestId,
        ...extra,
      },
      meta(),
    );
  const accepted = createEvent(
    "SendAccepted",
    { ...outcome, wamid, usedTemplateFallback: false, attempts: 1 },
    meta(),
  );
  switch (story.kind) {
    case "delivered": {
      const pricing = { pricingModel: "PMP", type: story.pricingType, category: story.category };
      return [
        accepted,
        status("sent", { pricing }),
        status("delivered", { pricing }),
        ...(story.read ? [status("read")] : []),
      ];
    }
    case "failed_async":
      return [
        accepted,
        status("sent"),
        status("failed", { errors: [{ code: story.code, title: "failed" }] }),
        createEvent(
          "SendFailed",
          {
            ...outcome,
            error: { errorClass: "policy", code: story.code, retriable: false },
            phase: "async",
            wamid,
            attempts: 1,
          },
          meta(),
        ),
      ];
    case "rejected":
      return [
        createEvent("SendRejected", { ...outcome, reason: story.reason, detail: "no" }, meta()),
      ];
    case "accepted_only":
      return [accepted];
  }
}
