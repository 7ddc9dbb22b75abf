import { isJsonObject } from "@parley/contracts";
/**
 * What ingress needs from a webhook body to route it, and nothing more: the business numbers
 * (`entry[].changes[].value.metadata.phone_number_id`) and WABA ids (`entry[].id`) it names, and
 * its lane. Everything else stays opaque bytes for the router to parse from the raw topic.
 */
export interface Routing {
  readonly phoneNumberIds: readonly string[];
  readonly wabaIds: readonly string[];
  /**
   * The raw topic it goes to (ADR 0004, "Two raw lanes"): `statuses` for a webhook that carries
   * delivery statuses and nothing else, none of them failed (raw-status-webhooks, which the router
   * serves after messages and sends); `webhooks` for everything else (raw-webhooks): messages,
   * user_preferences, failures, account and template webhooks, and anything not understood.
   */
  readonly lane: "webhooks" | "statuses";
}

/** The record key of a webhook that names no business number and no WABA (garbage, or a new shape). */
export const UNROUTED_KEY = "unrouted";

const NOTHING: Routing = Object.freeze({ phoneNumberIds: [], wabaIds: [], lane: "webhooks" });
/** Meta's ids are digits; anything longer than this is not an id and would make a silly record key. */
const MAX_ID_LENGTH = 64;

const decoder = new TextDecoder("utf-8", { fatal: true });

function idOf(value: unknown): string | undefined {
  const id =
    typeof value === "string"
      ? value.trim()
      : typeof value === "number" && Number.isSafeInteger(value) && value >= 0
        ? String(value)
        : undefined;
  return id !== undefined && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : undefined;
}

function arrayOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * The keys a statuses-only change's value holds; any other key sends the webhook to the main
 * lane. `contacts` comes with receipts since Meta's 2026 BSUID change (the recipient's wa_id and
 * user id, reference §4.3): identity the router records in either lane.
 */
const STATUS_VALUE_KEYS = new Set(["messaging_product", "metadata", "statuses", "contacts"]);

/**
 * Whether a change carries delivery statuses and nothing else, none failed: a failure is a
 * terminal outcome and may be a consent input (131050), so it goes with the messages.
 */
function receiptsOnly(change: Record<string, unknown>): boolean {
  const value = change["value"];
  if (change["field"] !== "messages" || !isJsonObject(value)) return false;
  const statuses = value["statuses"];
  if (!Array.isArray(statuses) || statuses.length === 0) return false;
  for (const key of Object.keys(value)) if (!STATUS_VALUE_KEYS.has(key)) return false;
  return statuses.every(
    (s) => isJsonObject(s) && typeof s["status"] === "string" && s["status"] !== "failed",
  );
}

/**
 * Extracts the routing ids of a webhook body, in order of first appearance, without duplicates,
 * and its lane. Never throws: a body that is not UTF-8, not JSON, or not shaped like a webhook
 * has no ids and goes to the main lane.
 */
export function extractRouting(body: Uint8Array): Routing {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch {
    return NOTHING;
  }
  if (!isJsonObject(parsed)) return NOTHING;
  const phoneNumberIds = new Set<string>();
  const wabaIds = new Set<string>();
  let changes = 0;
  let receipts = 0;
  for (const entry of arrayOf(parsed["entry"])) {
    if (!isJsonObject(entry)) continue;
    const waba = idOf(entry["id"]);
    if (waba !== undefined) wabaIds.add(waba);
    for (const change of arrayOf(entry["changes"])) {
      changes += 1;
      if (isJsonObject(change) && receiptsOnly(change)) receipts += 1;
      if (!isJsonObject(change) || !isJsonObject(change["value"])) continue;
      const metadata = change["value"]["metadata"];
      if (!isJsonObject(metadata)) continue;
      const phone = idOf(metadata["phone_number_id"]);
      if (phone !== undefined) phoneNumberIds.add(phone);
    }
  }
  const lane =
    parsed["object"] === "whatsapp_business_account" && changes > 0 && receipts === changes
      ? "statuses"
      : "webhooks";
  return { phoneNumberIds: [...phoneNumberIds], wabaIds: [...wabaIds], lane };
}

/**
 * The raw-topic record key: the first business number, so one number's webhooks stay in order on
 * one partition; else the first WABA id (account and template webhooks); else a constant, so
 * retries of an unroutable payload land together rather than on a random partition.
 */
export function recordKeyOf(routing: Routing): string {
  return routing.phoneNumberIds[0] ?? routing.wabaIds[0] ?? UNROUTED_KEY;
}
