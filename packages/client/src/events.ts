import type { EventName, EventOf } from "@parley/contracts";

/**
 * The events of the send-outcomes topic. The catalog holds this list at runtime; TypeScript needs
 * it as a literal type, and `events.unit.spec.ts` keeps the two equal.
 */
export const sendOutcomeNames = [
  "SendAccepted",
  "SendRejected",
  "SendFailed",
  "SendExpired",
  "SendInDoubt",
  "SendReconciled",
  "SendDeduplicated",
] as const satisfies readonly EventName[];

export type SendOutcomeName = (typeof sendOutcomeNames)[number];
/** Any outcome of a send request; `data.requestId` is the id `requestSend` resolved with. */
export type SendOutcome = EventOf<SendOutcomeName>;
/** A delivery status Meta reported for a sent message (match it to SendAccepted by `data.wamid`). */
export type StatusEvent = EventOf<"StatusUpdated">;
