import {
  createEvent,
  parseContactId,
  type AnyEvent,
  type EventData,
  type EventName,
  type EventOf,
  type Truncation,
} from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import { contentDigest, eventIdOf } from "./event-id.js";
import { fitEvent, limitDepth } from "./fit.js";
import { compact, int, obj, objects, str, text, type Json } from "./json.js";

// What the parser's parts share: the scope of a webhook and of one change, how an event is built
// (content-derived id, depth and size limits), how an item's contact is keyed, and the unknown
// event that keeps whatever cannot be read.

/** What a webhook's events are built with (see ParseInput). */
export interface Scope {
  readonly deliveryId: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly receivedAt: string;
  readonly now: Date;
  /** The largest JSON an event of this type may have (its topic's record limit less framing). */
  readonly budgetOf: (type: EventName) => number;
  /** The business number's phone_number_id for a display number, from the number directory. */
  readonly phoneNumberIdOf: (wabaId: string, displayPhoneNumber: string) => string | undefined;
  /** The body nests MAX_JSON_DEPTH levels or more: values kept as Meta sent them are checked. */
  readonly deep: boolean;
}

/** A value kept as Meta sent it (at `path` in the event's data), cut if it nests too deep. */
export const opaque = (scope: Scope, value: unknown, path: string, cuts: Truncation[]): unknown =>
  scope.deep ? limitDepth(value, path, cuts) : value;

export interface ChangeScope extends Scope {
  readonly wabaId: string;
  readonly entryTime: string | undefined;
  readonly phoneNumberId: string | undefined;
  readonly displayPhoneNumber: string | undefined;
  readonly contacts: readonly Json[];
  /** The contacts[] item with this wa_id, else this BSUID (an index: a change holds up to 1,000). */
  readonly contactNamed: (waId: string | undefined, userId: string | undefined) => Json | undefined;
}

/** Looks contacts[] items up by wa_id and BSUID, the first of each winning (as Array.find). */
export function contactIndex(
  contacts: readonly Json[],
): (waId: string | undefined, userId: string | undefined) => Json | undefined {
  const byWaId = new Map<string, Json>();
  const byUserId = new Map<string, Json>();
  for (const c of contacts) {
    const waId = text(c["wa_id"]);
    const userId = text(c["user_id"]);
    if (waId !== undefined && !byWaId.has(waId)) byWaId.set(waId, c);
    if (userId !== undefined && !byUserId.has(userId)) byUserId.set(userId, c);
  }
  return (waId, userId) => {
    const a = waId === undefined ? undefined : byWaId.get(waId);
    const b = userId === undefined ? undefined : byUserId.get(userId);
    if (a === undefined || b === undefined) return a ?? b;
    // Both match: the one listed first, as a scan of the list would find.
    return contacts.indexOf(a) <= contacts.indexOf(b) ? a : b;
  };
}

/**
 * One item of a webhook (a message, a status, a preference) that cannot become an event: it names
 * no valid contact, or it cannot be cut to fit its topic. Its webhook's other items go on; the
 * webhook is dead-lettered afterwards with the reasons (see ParsedWebhook.rejected).
 */
export class ItemRejectedError extends ParleyError {
  override readonly name = "ItemRejectedError";
  constructor(reason: string) {
    super(reason, { retry: "never" });
  }
}

/**
 * The canonical contact id (ADR 0008) of the first id an item gives, in the order listed; the
 * item is rejected when that id is not a wa_id or a BSUID (letters, invalid UTF-8, too short...).
 * Undefined when the item gives none. The rejected value stays out of the reason: it may be a
 * phone number, and reasons reach logs and dead-letter headers.
 */
export function contactKeyOf(
  candidates: readonly (readonly [field: string, value: unknown])[],
): string | undefined {
  for (const [field, value] of candidates) {
    const id = text(value);
    if (id === undefined) continue;
    const parsed = parseContactId(id);
    if (!parsed.ok) throw new ItemRejectedError(`${field}: ${parsed.reason}`);
    return parsed.contactId;
  }
  return undefined;
}

/** A contacts[] item as the contract's profile. */
export function profileOf(c: Json | undefined) {
  if (c === undefined) return {};
  const profile = obj(c["profile"]);
  return compact({
    waId: text(c["wa_id"]),
    userId: text(c["user_id"]),
    parentUserId: text(c["parent_user_id"]),
    profileName: str(profile?.["name"]),
    username: text(profile?.["username"]),
    identityKeyHash: text(c["identity_key_hash"]),
  });
}

/** Where an event came from: the delivery (the raw webhook holds everything cut), the WABA. */
export function originOf(scope: ChangeScope) {
  return {
    deliveryId: scope.deliveryId,
    wabaId: scope.wabaId,
    ...compact({ displayPhoneNumber: scope.displayPhoneNumber }),
  };
}

/** Error objects as webhooks carry them (`value.errors[]`, `statuses[].errors[]`, ...). */
export function webhookErrors(v: unknown) {
  return objects(v).flatMap((e) => {
    const code = int(e["code"]);
    if (code === undefined) return [];
    return [
      compact({
        code,
        title: str(e["title"]),
        message: str(e["message"]),
        details: str(obj(e["error_data"])?.["details"]),
        href: str(e["href"]),
      }),
    ];
  });
}

export function optionalErrors(v: unknown) {
  const errors = webhookErrors(v);
  return errors.length === 0 ? undefined : errors;
}

export function unknownField(scope: Scope, field: string, wabaId: string, value: Json): AnyEvent {
  const entryTime = "entryTime" in scope ? (scope as ChangeScope).entryTime : undefined;
  const cuts: Truncation[] = [];
  const kept = opaque(scope, { ...value }, "/value", cuts) as Json;
  return build(
    "UnknownWebhookFieldReceived",
    { wabaId, deliveryId: scope.deliveryId, field, value: kept },
    scope,
    `unknown:${field}:${wabaId}:${entryTime ?? ""}:${contentDigest(kept)}`,
    entryTime ?? scope.receivedAt,
    { cuts },
  );
}

/**
 * A validated event with a content-derived id, carrying the cuts made to its data (`truncated`)
 * and fitted to its topic (fit.ts). The business number is the change's unless given.
 */
export function build<E extends EventName>(
  type: E,
  data: unknown,
  scope: Scope,
  name: string,
  occurredAt: string,
  { cuts = [], businessNumber }: { cuts?: readonly Truncation[]; businessNumber?: string } = {},
): EventOf<E> {
  const number =
    businessNumber ?? ("phoneNumberId" in scope ? (scope as ChangeScope).phoneNumberId : undefined);
  const withCuts =
    cuts.length === 0 ? data : { ...(data as Record<string, unknown>), truncated: [...cuts] };
  const event = createEvent(type, withCuts as EventData<E>, {
    eventId: eventIdOf(name),
    correlationId: scope.correlationId,
    causationId: scope.causationId,
    occurredAt,
    now: scope.now,
    ...compact({ businessNumber: number }),
  });
  return fitEvent(event, scope.budgetOf(type));
}
