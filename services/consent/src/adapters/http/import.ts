import { errorMessage } from "@parley/errors";
import type { ConsentCommand } from "../../ledger/decide.js";
import type { ConsentLedger } from "../../ledger/ledger.js";
import { commandOf, contactOf, fieldErrors, recordBody } from "./bodies.js";

/** The longest row accepted; a longer one is refused (and skipped) without being held. */
export const MAX_ROW_BYTES = 32_768;
const BATCH_ROWS = 500;
/**
 * Batches decided at once by default (CONSENT_IMPORT_BATCHES_IN_FLIGHT): with 2 the next batch is
 * parsed and sent to the ledger while the previous one is in its round trips (load, keys, save,
 * publish, mark); a contact's rows still go in order (each waits for the contact's earlier ones).
 * Each batch in flight holds its 500 ledgers in memory (whole documents, up to tens of KB each).
 */
export const BATCHES_IN_FLIGHT = 1;

/** Lines of a byte stream, each at most `max` bytes; a longer one comes out as `undefined`. */
export async function* linesOf(
  body: AsyncIterable<Buffer | string>,
  max = MAX_ROW_BYTES,
): AsyncGenerator<string | undefined> {
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  for await (const raw of body) {
    let chunk = typeof raw === "string" ? Buffer.from(raw, "utf8") : raw;
    for (;;) {
      const nl = chunk.indexOf(0x0a);
      const piece = nl === -1 ? chunk : chunk.subarray(0, nl);
      if (!overflow) {
        if (size + piece.length > max) {
          overflow = true;
          parts = [];
        } else {
          parts.push(piece);
          size += piece.length;
        }
      }
      if (nl === -1) break;
      yield overflow ? undefined : Buffer.concat(parts).toString("utf8").replace(/\r$/u, "");
      parts = [];
      size = 0;
      overflow = false;
      chunk = chunk.subarray(nl + 1);
    }
  }
  if (overflow) yield undefined;
  else if (size > 0) yield Buffer.concat(parts).toString("utf8").replace(/\r$/u, "");
}

/** One CSV line's fields (RFC 4180 quoting, no line break inside a field); undefined if malformed. */
export function csvFields(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return undefined;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(value);
      if (i === line.length) return out;
      if (line[i] !== ",") return undefined;
      i++;
    } else {
      const c = line.indexOf(",", i);
      const value = c === -1 ? line.slice(i) : line.slice(i, c);
      if (value.includes('"')) return undefined;
      out.push(value);
      if (c === -1) return out;
      i = c + 1;
    }
  }
}

const CSV_COLUMNS = new Set([
  "contactId",
  "inputId",
  "decision",
  "purposes",
  "occurredAt",
  "channel",
  "sourceSystem",
  "businessName",
  "wordingText",
  "wordingVersionHash",
  "expiresAt",
]);

/** A CSV row as the JSON shape of a JSON lines row (empty cells are absent). */
function rowOfCsv(header: readonly string[], fields: readonly string[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  const evidence: Record<string, string> = {};
  const wording: Record<string, string> = {};
  header.forEach((name, i) => {
    const value = fields[i];
    if (value === undefined || value === "") return;
    if (name.startsWith("evidence.")) evidence[name.slice("evidence.".length)] = value;
    else if (name === "purposes") row["purposes"] = value.split(/[;|]/u).map((p) => p.trim());
    else if (name === "wordingText") wording["text"] = value;
    else if (name === "wordingVersionHash") wording["versionHash"] = value;
    else row[name] = value;
  });
  if (Object.keys(evidence).length > 0) row["evidence"] = evidence;
  if (Object.keys(wording).length > 0) row["wording"] = wording;
  return row;
}

export type ImportLine =
  | { readonly row: number; readonly status: "refused"; readonly reason: string }
  | {
      readonly progress: {
        readonly rows: number;
        readonly recorded: number;
        readonly refused: number;
      };
    }
  | {
      readonly done: {
        readonly rows: number;
        readonly recorded: number;
        readonly refused: number;
        readonly importId: string;
      };
    };

/**
 * A bulk import, streamed: rows are validated one by one, decided in batches (each contact's
 * rows in order, contacts apart so one refusal never sinks another's), and the answer streams a
 * refusal per refused row with its reason, a progress line per batch and a final count. Rows are
 * idempotent by their inputId (default: the import id and the row number).
 */
export async function* importRows({
  body,
  format,
  ledger,
  clock,
  recordedBy,
  importId,
  batchesInFlight = BATCHES_IN_FLIGHT,
}: {
  body: AsyncIterable<Buffer | string>;
  format: "jsonl" | "csv";
  ledger: Pick<ConsentLedger, "handle">;
  clock: () => Date;
  recordedBy: string;
  importId: string;
  batchesInFlight?: number;
}): AsyncGenerator<ImportLine> {
  let rows = 0;
  let recorded = 0;
  let refused = 0;
  let header: string[] | undefined;
  let batch: { row: number; contactId: string; command: ConsentCommand }[] = [];
  const pending: ImportLine[] = [];
  const refuse = (row: number, reason: string) => {
    refused++;
    pending.push({ row, status: "refused", reason });
  };

  /** Each contact's last unfinished row: its next row is decided after it (bounded by the batches in flight). */
  const tails = new Map<string, Promise<void>>();
  const inFlight: Promise<unknown>[] = [];
  const decideBatch = () => {
    const byContact = new Map<string, typeof batch>();
    for (const item of batch) {
      const list = byContact.get(item.contactId) ?? [];
      list.push(item);
      byContact.set(item.contactId, list);
    }
    batch = [];
    return Promise.all(
      [...byContact].map(([contactId, items]) => {
        // The contact's rows of the batch go in one call, decided in order in one batch of the
        // ledger's runtime (one load, save, publish and mark for them all, however many rows the
        // contact has here). If that call fails (a row the ledger refuses, an outage), nothing of
        // it was saved but what the ledger recognises on the next try (same input ids, same
        // entries), so the rows are tried again one by one, to refuse only the rows at fault.
        const run = async () => {
          if (items.length > 1) {
            try {
              await ledger.handle(items.map((item) => ({ key: contactId, command: item.command })));
              recorded += items.length;
              return;
            } catch {
              // row by row below, each with its own reason
            }
          }
          for (const item of items) {
            try {
              await ledger.handle([{ key: contactId, command: item.command }]);
              recorded++;
            } catch (error) {
              refuse(item.row, errorMessage(error));
            }
          }
        };
        const done = (tails.get(contactId) ?? Promise.resolve()).then(run);
        tails.set(contactId, done);
        return done.finally(() => {
          if (tails.get(contactId) === done) tails.delete(contactId);
        });
      }),
    );
  };
  /** Starts deciding the batch; waits while BATCHES_IN_FLIGHT are already being decided. */
  const flush = async (all = false) => {
    if (batch.length > 0) inFlight.push(decideBatch());
    while (inFlight.length >= (all ? 1 : batchesInFlight)) await inFlight.shift();
  };

  for await (const line of linesOf(body)) {
    // Refusals stream as they come: rows that are all refused never fill a batch, and holding
    // their lines until the end grew the service by ~300 MB over 1 million refused rows.
    if (pending.length >= BATCH_ROWS) {
      yield* pending.splice(0);
      yield { progress: { rows, recorded, refused } };
    }
    if (format === "csv" && header === undefined) {
      const fields = line === undefined ? undefined : csvFields(line.replace(/^\uFEFF/u, ""));
      if (fields === undefined || !fields.includes("contactId")) {
        refuse(0, "the first line must be a CSV header naming contactId and the other columns");
        break;
      }
      const unknown = fields.filter(
        (f) => !CSV_COLUMNS.has(f) && !/^evidence\.[A-Za-z][A-Za-z0-9_]{0,63}$/u.test(f),
      );
      if (unknown.length > 0) {
        refuse(0, `unknown columns: ${unknown.slice(0, 5).join(", ")}`);
        break;
      }
      header = fields;
      continue;
    }
    if (line !== undefined && line.trim() === "") continue;
    const row = ++rows;
    if (line === undefined) {
      refuse(row, `longer than ${String(MAX_ROW_BYTES)} bytes`);
      continue;
    }
    let value: unknown;
    if (format === "csv") {
      const fields = csvFields(line);
      if (fields === undefined || header === undefined) {
        refuse(row, "not a CSV row (unbalanced quotes)");
        continue;
      }
      value = rowOfCsv(header, fields);
    } else {
      try {
        value = JSON.parse(line);
      } catch {
        refuse(row, "not JSON");
        continue;
      }
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      refuse(row, "not an object");
      continue;
    }
    const { contactId: rawContact, ...rest } = value as Record<string, unknown>;
    const contact = typeof rawContact === "string" ? contactOf(rawContact) : undefined;
    if (contact === undefined || !contact.ok) {
      refuse(row, `contactId: ${contact?.ok === false ? contact.detail : "missing"}`);
      continue;
    }
    const parsed = recordBody.safeParse(rest);
    if (!parsed.success) {
      refuse(
        row,
        fieldErrors(parsed.error)
          .map((e) => `${e.field}: ${e.detail}`)
          .join("; "),
      );
      continue;
    }
    const command = commandOf(parsed.data, {
      now: clock(),
      recordedBy,
      source: "import",
      inputId: `${importId}:row:${String(row)}`,
    });
    if (Array.isArray(command)) {
      refuse(row, command.map((e) => `${e.field}: ${e.detail}`).join("; "));
      continue;
    }
    batch.push({
      row,
      contactId: contact.contactId,
      command: { ...command, channel: parsed.data.channel },
    });
    if (batch.length >= BATCH_ROWS) {
      await flush();
      yield* pending.splice(0);
      yield { progress: { rows, recorded, refused } };
    }
  }
  await flush(true);
  yield* pending.splice(0);
  yield { done: { rows, recorded, refused, importId } };
}
