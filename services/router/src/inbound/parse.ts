import {
  EVENT_MESSAGE_BYTES,
  type AnyEvent,
  type EventName,
  type EventOf,
} from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import { contentDigest } from "./event-id.js";
import { EventTooLargeError, eventBudgetOf, jsonShape, MAX_JSON_DEPTH } from "./fit.js";
import { isObject, obj, objects, text, unixToIso, type Json } from "./json.js";
import {
  businessEvent,
  isBusinessField,
  userPreference,
  userPreferenceItems,
} from "./parse-business.js";
import { contactFor, inboundMessage } from "./parse-messages.js";
import {
  build,
  contactIndex,
  ItemRejectedError,
  opaque,
  unknownField,
  webhookErrors,
  type ChangeScope,
  type Scope,
} from "./parse-scope.js";
import { statusUpdate } from "./parse-statuses.js";

/** The raw body is not a webhook at all (bad JSON, no `entry` list): retrying cannot help. */
export class UnparseableWebhookError extends ParleyError {
  override readonly name: string = "UnparseableWebhookError";
  constructor(
    message: string,
    readonly deliveryId: string,
    options?: { cause?: unknown },
  ) {
    super(`webhook ${deliveryId}: ${message}`, { retry: "never", cause: options?.cause });
  }
}

/** A webhook with more entries, changes or items than Meta ever sends in one POST. */
export class WebhookLimitError extends UnparseableWebhookError {
  override readonly name = "WebhookLimitError";
}

/**
 * The most work one webhook may ask for, counted before any fact is built. Meta batches up to
 * 1,000 updates per POST (entries, changes, messages or statuses; reference §4), and since 2026
 * a status carries its contact too; the defaults leave twice that.
 */
export interface WebhookLimits {
  readonly maxEntries: number;
  readonly maxChanges: number;
  /**
   * Items across the webhook: messages, statuses, contacts, errors and user_preferences, and the
   * lists inside messages the parser reads (contact cards and their phones, e-mails, URLs and
   * addresses, order items).
   */
  readonly maxItems: number;
  /**
   * JSON values in the body (every container, and every item of one), counted by a scan of the
   * text before it is parsed: what bounds the work on values kept as Meta sent them (unknown
   * types and fields), which no item count sees. Meta's largest batches (1,000 statuses or
   * messages with their contacts, pricing, context and referral) hold 20,000 to 30,000.
   */
  readonly maxValues: number;
}

export const defaultWebhookLimits: WebhookLimits = {
  maxEntries: 2_000,
  maxChanges: 2_000,
  maxItems: 4_000,
  maxValues: 60_000,
};

export interface ParseInput {
  /** The raw webhook's envelope: its delivery id correlates, its event id causes. */
  readonly raw: Pick<EventOf<"RawWebhookReceived">, "eventId" | "occurredAt" | "data">;
  /** The exact body text (the base64 of the raw event, decoded). */
  readonly body: string;
  readonly now: Date;
  readonly limits?: WebhookLimits;
  /** The largest JSON an event of a type may have; default: the 1 MiB event topics' budget. */
  readonly budgetOf?: (type: EventName) => number;
  /** A business number's phone_number_id by its WABA and display number (the number directory). */
  readonly phoneNumberIdOf?: (wabaId: string, displayPhoneNumber: string) => string | undefined;
}

/** An item of the webhook that became no event, with why (its pointer names it in the body). */
export interface RejectedItem {
  /** RFC 6901 pointer into the webhook body, e.g. `/entry/0/changes/0/value/messages/3`. */
  readonly item: string;
  readonly reason: string;
}

export interface ParsedWebhook {
  readonly events: AnyEvent[];
  /** Items that name no valid contact or cannot fit their topic: the webhook is dead-lettered. */
  readonly rejected: readonly RejectedItem[];
  /** Items read (messages, statuses, preferences, errors lists, other changes). */
  readonly items: number;
}

const defaultBudget = eventBudgetOf(EVENT_MESSAGE_BYTES);

/**
 * Turns one raw webhook into contract events, in the order Meta listed them: every entry, change,
 * message, status and error. Pure and deterministic: event ids derive from what Meta said (the
 * wamid, the (wamid, status) pair, or the content), never from the delivery, so parsing a retried,
 * replayed or re-driven webhook again yields the same ids. Nothing is dropped: an unknown message
 * type, a known type in a shape we cannot read, or an unknown field becomes an explicit unknown
 * event that keeps Meta's payload; a value too large or too deep for its topic or for MongoDB is
 * cut, with what was cut and why in the event; an item that names no valid contact, or cannot be
 * cut to fit, is rejected with its reason. A body that is not a webhook, or asks for more work
 * than Meta ever sends in one POST (counted before any fact is built), throws.
 */
export function parseWebhook({
  raw,
  body,
  now,
  limits = defaultWebhookLimits,
  budgetOf = () => defaultBudget,
  phoneNumberIdOf = () => undefined,
}: ParseInput): ParsedWebhook {
  const { deliveryId } = raw.data;
  const shape = jsonShape(body);
  if (shape.values > limits.maxValues) {
    throw new WebhookLimitError(
      `about ${String(shape.values)} JSON values; at most ${String(limits.maxValues)} are taken in one webhook`,
      deliveryId,
    );
  }
  let root: unknown;
  try {
    root = JSON.parse(body);
  } catch (error) {
    throw new UnparseableWebhookError("body is not JSON", deliveryId, { cause: error });
  }
  if (!isObject(root) || !Array.isArray(root["entry"])) {
    throw new UnparseableWebhookError("body has no entry list", deliveryId);
  }
  const entries = root["entry"] as unknown[];
  checkLimits(entries, limits, deliveryId);
  const scope: Scope = {
    deliveryId,
    correlationId: deliveryId,
    causationId: raw.eventId,
    receivedAt: raw.occurredAt,
    now,
    budgetOf,
    phoneNumberIdOf,
    deep: shape.depth >= MAX_JSON_DEPTH,
  };
  const out: ParsedWebhook & { items: number } = { events: [], rejected: [], items: 0 };
  const rejected = out.rejected as RejectedItem[];
  /** One item's event, or its rejection (the webhook's other items go on). */
  const item = (pointer: string, make: () => AnyEvent) => {
    out.items++;
    try {
      out.events.push(make());
    } catch (error) {
      if (!(error instanceof ItemRejectedError || error instanceof EventTooLargeError)) throw error;
      rejected.push({ item: pointer, reason: error.message });
    }
  };
  entries.forEach((entry, e) => {
    if (!isObject(entry) || !Array.isArray(entry["changes"])) {
      item(`/entry/${String(e)}`, () => unknownField(scope, "(entry)", wabaOf(entry), { entry }));
      return;
    }
    const wabaId = wabaOf(entry);
    (entry["changes"] as unknown[]).forEach((change, c) => {
      const at = `/entry/${String(e)}/changes/${String(c)}`;
      const field = isObject(change) ? text(change["field"]) : undefined;
      const value = isObject(change) ? obj(change["value"]) : undefined;
      if (field === undefined || value === undefined) {
        item(at, () => unknownField(scope, field ?? "(change)", wabaId, { change }));
        return;
      }
      const metadata = obj(value["metadata"]);
      const contacts = objects(value["contacts"]);
      const changeScope: ChangeScope = {
        ...scope,
        wabaId,
        entryTime: unixToIso(entry["time"]),
        phoneNumberId: text(metadata?.["phone_number_id"]),
        displayPhoneNumber: text(metadata?.["display_phone_number"]),
        contacts,
        contactNamed: contactIndex(contacts),
      };
      parseChange(changeScope, field, value, `${at}/value`, item);
    });
  });
  return out;
}

const wabaOf = (entry: unknown): string =>
  (isObject(entry) ? text(entry["id"]) : undefined) ?? "unknown";

type Item = (pointer: string, make: () => AnyEvent) => void;

function parseChange(scope: ChangeScope, field: string, value: Json, at: string, item: Item) {
  if (field === "messages") {
    parseMessagesValue(scope, value, at, item);
  } else if (field === "user_preferences") {
    const list = Array.isArray(value["user_preferences"]);
    userPreferenceItems(value).forEach((p, i) => {
      item(list ? `${at}/user_preferences/${String(i)}` : at, () => userPreference(scope, p));
    });
  } else if (isBusinessField(field)) {
    item(at, () => businessEvent(scope, field, value));
  } else {
    item(at, () => unknownField(scope, field, scope.wabaId, value));
  }
}

function parseMessagesValue(scope: ChangeScope, value: Json, at: string, item: Item) {
  const messages = objects(value["messages"]);
  messages.forEach((m, i) => {
    item(`${at}/messages/${String(i)}`, () =>
      inboundMessage(scope, m, contactFor(scope, i, messages.length, m)),
    );
  });
  objects(value["statuses"]).forEach((s, i) => {
    item(`${at}/statuses/${String(i)}`, () => statusUpdate(scope, s));
  });
  const errors = webhookErrors(value["errors"]);
  if (errors.length > 0) {
    item(`${at}/errors`, () =>
      build(
        "WebhookErrorsReceived",
        {
          wabaId: scope.wabaId,
          deliveryId: scope.deliveryId,
          ...(scope.phoneNumberId === undefined ? {} : { phoneNumberId: scope.phoneNumberId }),
          errors,
        },
        scope,
        `errors:${scope.wabaId}:${scope.phoneNumberId ?? ""}:${contentDigest(opaque(scope, value["errors"], "/errors", []))}`,
        scope.receivedAt,
      ),
    );
  }
  // Neither messages, statuses nor errors: a shape we do not know yet, kept whole.
  if (
    messages.length === 0 &&
    !Array.isArray(value["statuses"]) &&
    !Array.isArray(value["errors"])
  ) {
    item(at, () => unknownField(scope, "messages", scope.wabaId, value));
  }
}

/** Lists in a change's value whose items the parser reads one by one. */
const ITEM_LISTS = ["messages", "statuses", "contacts", "errors", "user_preferences"] as const;
/** Lists inside a contact card. */
const CARD_LISTS = ["phones", "emails", "urls", "addresses"] as const;

const lengthOf = (v: unknown): number => (Array.isArray(v) ? v.length : 0);

/**
 * Counts the webhook's entries, changes and items before any fact is built (cheap: list lengths
 * only, stopping at the first limit passed), so an oversized webhook costs its JSON parse and no
 * more. Throws WebhookLimitError naming the limit.
 */
function checkLimits(entries: readonly unknown[], limits: WebhookLimits, deliveryId: string) {
  const over = (what: string, count: number, max: number) =>
    new WebhookLimitError(
      `${String(count)} ${what}; at most ${String(max)} ${what} are taken in one webhook (Meta sends up to 1,000 updates)`,
      deliveryId,
    );
  if (entries.length > limits.maxEntries) {
    throw over("entries", entries.length, limits.maxEntries);
  }
  let changes = 0;
  let items = 0;
  for (const entry of entries) {
    const list = isObject(entry) ? entry["changes"] : undefined;
    changes += lengthOf(list);
    if (changes > limits.maxChanges) throw over("changes", changes, limits.maxChanges);
    if (!Array.isArray(list)) continue;
    for (const change of list) {
      const value = isObject(change) ? obj(change["value"]) : undefined;
      if (value === undefined) continue;
      for (const name of ITEM_LISTS) items += lengthOf(value[name]);
      if (items > limits.maxItems) throw over("items", items, limits.maxItems);
      for (const m of objects(value["messages"])) {
        const cards = m["contacts"];
        items += lengthOf(cards);
        for (const card of objects(cards))
          for (const name of CARD_LISTS) items += lengthOf(card[name]);
        items += lengthOf(obj(m["order"])?.["product_items"]);
        if (items > limits.maxItems) throw over("items", items, limits.maxItems);
      }
    }
  }
}
