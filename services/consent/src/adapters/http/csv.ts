import type { OpenedEntry } from "../../ledger/ledger.js";

const columns = [
  "contactId",
  "sequence",
  "type",
  "purpose",
  "scope",
  "decision",
  "reason",
  "occurredAt",
  "recordedAt",
  "channel",
  "source",
  "sourceSystem",
  "businessName",
  "wordingVersionHash",
  "wordingText",
  "recordedBy",
  "expiresAt",
  "inputId",
  "eventId",
  "evidence",
  "previousHash",
  "hash",
] as const;

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  // A leading = + - @ would be read as a formula by a spreadsheet: prefixed with a quote.
  const safe = /^[=+\-@\t\r]/u.test(text) ? `'${text}` : text;
  return /[",\r\n]/u.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export const csvHeader = `${columns.join(",")}\r\n`;

/** An entry as one CSV row; the JSON lines export is the one the verifier checks. */
export function csvLineOf({ entry, opened }: OpenedEntry): string {
  const d = entry.data as Record<string, unknown> & {
    wording?: { versionHash?: string; text?: string };
    ledger?: { sequence: number; previousHash: string | null; hash: string };
  };
  const row: Record<(typeof columns)[number], unknown> = {
    contactId: d["contactId"],
    sequence: d.ledger?.sequence,
    type: entry.type,
    purpose: d["purpose"],
    scope: d["scope"],
    decision:
      entry.type === "ConsentGranted"
        ? "granted"
        : entry.type === "ConsentRevoked"
          ? "revoked"
          : "erased",
    reason: d["reason"],
    occurredAt: entry.occurredAt,
    recordedAt: entry.recordedAt,
    channel: d["channel"],
    source: d["source"],
    sourceSystem: d["sourceSystem"],
    businessName: d["businessName"],
    wordingVersionHash: d.wording?.versionHash,
    wordingText: d.wording?.text,
    recordedBy: d["recordedBy"] ?? d["requestedBy"],
    expiresAt: d["expiresAt"],
    inputId: d["inputId"],
    eventId: entry.eventId,
    evidence: opened?.evidence,
    previousHash: d.ledger?.previousHash,
    hash: d.ledger?.hash,
  };
  return `${columns.map((c) => csvField(row[c])).join(",")}\r\n`;
}
