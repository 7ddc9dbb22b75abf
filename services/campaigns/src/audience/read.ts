import { ParleyError } from "@parley/errors";
import { isTimeZone } from "../domain/campaign.js";
import type { AudienceRow } from "../domain/plan.js";

/** The audience file formats: CSV with a header row, or one JSON object per line. */
export type AudienceFileFormat = "csv" | "jsonl";
/** How an audience is given: a file, or a query over the contacts read model (query.ts). */
export type AudienceFormat = AudienceFileFormat | "query";

export interface ReadAudienceOptions {
  readonly format: AudienceFileFormat;
  /** A longer line is one `invalid_row` (its bytes are skipped, never held). */
  readonly maxLineBytes?: number;
  /** A JSON line with more parameters is an `invalid_row`. */
  readonly maxParams?: number;
}

const NEWLINE = 0x0a;

/**
 * The lines of a byte stream, at most `maxLineBytes` each held in memory: a longer line yields
 * `{ tooLong: true }` and its bytes up to the next newline are dropped as they arrive. `\r\n` and
 * `\n` both end a line; the last line needs no newline.
 */
export async function* linesOf(
  chunks: AsyncIterable<Uint8Array | string>,
  maxLineBytes: number,
): AsyncGenerator<{ readonly text: string; readonly tooLong: boolean }> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let parts: Uint8Array[] = [];
  let size = 0;
  let tooLong = false;
  const take = (): { text: string; tooLong: boolean } => {
    // A line inside one chunk (most of them) is decoded where it is, not copied first.
    const whole = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    parts = [];
    size = 0;
    let text = tooLong || whole === undefined ? "" : decoder.decode(whole);
    if (text.endsWith("\r")) text = text.slice(0, -1);
    const result = { text, tooLong };
    tooLong = false;
    return result;
  };
  for await (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    let start = 0;
    for (let nl = bytes.indexOf(NEWLINE, start); nl !== -1; nl = bytes.indexOf(NEWLINE, start)) {
      if (!tooLong) {
        if (size + (nl - start) > maxLineBytes) tooLong = true;
        else parts.push(bytes.subarray(start, nl));
      }
      yield take();
      start = nl + 1;
    }
    if (start < bytes.length && !tooLong) {
      if (size + (bytes.length - start) > maxLineBytes) {
        tooLong = true;
        parts = [];
        size = 0;
      } else {
        // Copied: the stream may reuse its buffer.
        parts.push(Uint8Array.prototype.slice.call(bytes, start));
        size += bytes.length - start;
      }
    }
  }
  if (size > 0 || tooLong) yield take();
}

/**
 * One CSV line's fields (RFC 4180 quoting: `"a ""b"""`), or why it has none. A quoted field
 * cannot span lines: an audience row is one line.
 */
export function csvFields(
  line: string,
): { ok: true; fields: string[] } | { ok: false; why: string } {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return { ok: false, why: "a quoted field is not closed on its line" };
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === line.length) return { ok: true, fields };
      if (line[i] !== ",")
        return { ok: false, why: `text after a closing quote at column ${i + 1}` };
      i++;
    } else {
      const comma = line.indexOf(",", i);
      const value = line.slice(i, comma === -1 ? undefined : comma);
      if (value.includes('"')) return { ok: false, why: "a quote inside an unquoted field" };
      fields.push(value);
      if (comma === -1) return { ok: true, fields };
      i = comma + 1;
    }
  }
}

const PARAM_NAME = /^[a-z_][a-z0-9_]{0,63}$/;
const MAX_VALUE = 1024;

/** An audience that cannot be read at all (no header, no phone column): fix the file. */
export class AudienceHeaderError extends ParleyError {
  override readonly name = "AudienceHeaderError";
  constructor(message: string) {
    super(`audience: ${message}`, { retry: "never" });
  }
}

/**
 * The rows of an audience file, streamed: never more than one line in memory. Blank lines are not
 * rows. Each row is parsed or carries its problem (the plan skips it as `invalid_row`); the
 * header of a CSV must name a `phone` column, and may name `time_zone`; every other column is a
 * parameter. A JSON line is `{ "phone": "...", "params": { "name": "value" }, "timeZone": "..." }`.
 */
export async function* readAudience(
  chunks: AsyncIterable<Uint8Array | string>,
  { format, maxLineBytes = 16_384, maxParams = 50 }: ReadAudienceOptions,
): AsyncGenerator<AudienceRow> {
  let index = 0;
  let lineNo = 0;
  let header: string[] | undefined;
  for await (const { text, tooLong } of linesOf(chunks, maxLineBytes)) {
    lineNo++;
    if (!tooLong && text.trim() === "") continue;
    if (format === "csv" && header === undefined) {
      if (tooLong) throw new AudienceHeaderError(`the header is longer than ${maxLineBytes} bytes`);
      const parsed = csvFields(text.replace(/^\uFEFF/, ""));
      if (!parsed.ok) throw new AudienceHeaderError(`the header: ${parsed.why}`);
      header = parsed.fields.map((f) => f.trim().toLowerCase());
      if (!header.includes("phone"))
        throw new AudienceHeaderError("the header has no phone column");
      const bad = header.find((h) => h !== "phone" && h !== "time_zone" && !PARAM_NAME.test(h));
      if (bad !== undefined)
        throw new AudienceHeaderError(
          `the header names a bad column: ${JSON.stringify(bad.slice(0, 64))}`,
        );
      if (new Set(header).size !== header.length)
        throw new AudienceHeaderError("the header repeats a column");
      continue;
    }
    const at = { index: index++, line: lineNo };
    if (tooLong) {
      yield { ok: false, ...at, problem: `line ${lineNo} is longer than ${maxLineBytes} bytes` };
      continue;
    }
    const row = format === "csv" ? csvRow(text, header ?? []) : jsonRow(text, maxParams);
    yield row.ok
      ? { ok: true, ...at, ...row.row }
      : { ok: false, ...at, problem: `line ${lineNo}: ${row.why}` };
  }
}

type Parsed =
  | {
      ok: true;
      row: { phone: string; params: Record<string, string>; timeZone?: string };
    }
  | { ok: false; why: string };

function csvRow(text: string, header: readonly string[]): Parsed {
  const parsed = csvFields(text);
  if (!parsed.ok) return parsed;
  if (parsed.fields.length !== header.length) {
    return { ok: false, why: `${parsed.fields.length} fields, the header has ${header.length}` };
  }
  const params: Record<string, string> = {};
  let phone = "";
  let timeZone: string | undefined;
  header.forEach((name, i) => {
    const value = (parsed.fields[i] ?? "").trim();
    if (name === "phone") phone = value;
    else if (name === "time_zone") timeZone = value === "" ? undefined : value;
    else params[name] = value;
  });
  return finish(phone, params, timeZone);
}

function jsonRow(text: string, maxParams: number): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, why: "not a JSON object" };
  }
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== "phone" && k !== "params" && k !== "timeZone");
  if (unknown.length > 0)
    return { ok: false, why: `unknown field ${JSON.stringify(unknown[0]?.slice(0, 64))}` };
  if (typeof o["phone"] !== "string") return { ok: false, why: "phone is not a string" };
  if (o["timeZone"] !== undefined && typeof o["timeZone"] !== "string") {
    return { ok: false, why: "timeZone is not a string" };
  }
  const raw: unknown = o["params"] ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, why: "params is not an object" };
  }
  const entries = Object.entries(raw);
  if (entries.length > maxParams) return { ok: false, why: `more than ${maxParams} params` };
  const params: Record<string, string> = {};
  for (const [name, v] of entries) {
    if (!PARAM_NAME.test(name))
      return { ok: false, why: `bad parameter name ${JSON.stringify(name.slice(0, 64))}` };
    if (typeof v !== "string") return { ok: false, why: `params.${name} is not a string` };
    params[name] = v;
  }
  return finish(o["phone"], params, o["timeZone"]);
}

function finish(phone: string, params: Record<string, string>, timeZone: unknown): Parsed {
  for (const [name, v] of Object.entries(params)) {
    if (v.length > MAX_VALUE)
      return { ok: false, why: `${name} is longer than ${MAX_VALUE} characters` };
  }
  if (typeof timeZone === "string" && !isTimeZone(timeZone)) {
    return { ok: false, why: "time zone is not an IANA time zone" };
  }
  return {
    ok: true,
    row: { phone, params, ...(typeof timeZone === "string" ? { timeZone } : {}) },
  };
}
