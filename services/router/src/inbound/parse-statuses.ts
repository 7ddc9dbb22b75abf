import { InvalidEventError, type AnyEvent } from "@parley/contracts";
import { statusIdentity } from "./identity.js";
import { bool, compact, obj, str, text, unixToIso, type Json } from "./json.js";
import {
  build,
  contactKeyOf,
  optionalErrors,
  originOf,
  profileOf,
  unknownField,
  type ChangeScope,
} from "./parse-scope.js";

const STATUSES = new Set(["sent", "delivered", "read", "played", "failed"]);

/**
 * A `statuses[]` item. Its contact is the recipient (wa_id, else BSUID, else the contacts[] item
 * naming them), canonical; for a group send, the participant the status is about. A status that
 * names no contact, or a status value Meta added after this parser, is kept as an unknown field.
 */
export function statusUpdate(scope: ChangeScope, s: Json): AnyEvent {
  const wamid = text(s["id"]);
  const status = text(s["status"]);
  const recipientId = text(s["recipient_id"]);
  const recipientUserId = text(s["recipient_user_id"]);
  const participant = text(s["recipient_participant_id"]);
  const group = text(s["recipient_type"]) === "group";
  const contact = scope.contactNamed(recipientId, recipientUserId);
  const contactId = group
    ? contactKeyOf([["recipient_participant_id", participant]])
    : contactKeyOf([
        ["recipient_id", recipientId],
        ["recipient_user_id", recipientUserId],
        ["contacts[].wa_id", contact?.["wa_id"]],
        ["contacts[].user_id", contact?.["user_id"]],
      ]);
  if (wamid === undefined || contactId === undefined || !STATUSES.has(status ?? "")) {
    return unknownField(scope, "messages.statuses", scope.wabaId, { status: s });
  }
  const conversation = obj(s["conversation"]);
  const pricing = obj(s["pricing"]);
  const data = compact({
    contactId,
    wamid,
    status,
    origin: originOf(scope),
    recipientId,
    recipientUserId,
    parentRecipientUserId: text(s["parent_recipient_user_id"]),
    recipientType: text(s["recipient_type"]),
    recipientParticipantId: participant,
    contact: contact === undefined ? undefined : profileOf(contact),
    bizOpaqueCallbackData: str(s["biz_opaque_callback_data"]),
    conversation:
      conversation === undefined
        ? undefined
        : compact({
            id: str(conversation["id"]),
            expiresAt: unixToIso(conversation["expiration_timestamp"]),
            originType: text(obj(conversation["origin"])?.["type"]),
          }),
    pricing:
      pricing === undefined
        ? undefined
        : compact({
            pricingModel: str(pricing["pricing_model"]),
            type: str(pricing["type"]),
            category: str(pricing["category"]),
            billable: bool(pricing["billable"]),
          }),
    errors: optionalErrors(s["errors"]),
  });
  const occurredAt = unixToIso(s["timestamp"]) ?? scope.receivedAt;
  const name = statusIdentity(wamid, status ?? "", participant);
  try {
    return build("StatusUpdated", data, scope, name, occurredAt);
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return unknownField(scope, "messages.statuses", scope.wabaId, { status: s });
  }
}
