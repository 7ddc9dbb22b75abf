import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AudienceRow } from "../domain/plan.js";
import { AudienceHeaderError, csvFields, readAudience } from "./read.js";

const collect = async (it: AsyncIterable<AudienceRow>) => {
  const out: AudienceRow[] = [];
  for await (const r of it) out.push(r);
  return out;
};
/** The bytes cut at the given points (mid UTF-8 sequence included). */
function chunked(text: string, cuts: readonly number[]): AsyncIterable<Uint8Array> {
  const bytes = Buffer.from(text, "utf8");
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    parts.push(bytes.subarray(from, p));
    from = p;
  }
  parts.push(bytes.subarray(from));
  return (async function* () {
    for (const part of parts) yield await Promise.resolve(part);
  })();
}

describe("csvFields", () => {
  it("reads RFC 4180 quoting and refuses what is not", () => {
    expect(csvFields('a,"b ""c""",,"d,e"')).toEqual({
      ok: true,
      fields: ["a", 'b "c"', "", "d,e"],
    });
    expect(csvFields('"open')).toMatchObject({ ok: false });
    expect(csvFields('"a"b')).toMatchObject({ ok: false });
    expect(csvFields('a"b')).toMatchObject({ ok: false });
  });
});

describe("readAudience", () => {
  it("refuses a CSV whose header names no phone column", async () => {
    await expect(
      collect(readAudience(chunked("name\nAna\n", []), { format: "csv" })),
    ).rejects.toThrow(AudienceHeaderError);
  });

  it("reads a CSV with a BOM, CRLF, quoted values and a time zone", async () => {
    const rows = await collect(
      readAudience(
        chunked(
          '\uFEFFphone,first_name,time_zone\r\n+34612345601,"Ana, la",Europe/Madrid\r\n\r\n+34612345602,Luis,\r\n',
          [7, 30],
        ),
        { format: "csv" },
      ),
    );
    expect(rows).toEqual([
      {
        ok: true,
        index: 0,
        line: 2,
        phone: "+34612345601",
        params: { first_name: "Ana, la" },
        timeZone: "Europe/Madrid",
      },
      { ok: true, index: 1, line: 4, phone: "+34612345602", params: { first_name: "Luis" } },
    ]);
  });
});

// ---- property: hostile lines mixed with valid rows, any chunking ----

const value = fc.string({ maxLength: 20 }).filter((s) => !/[\r\n]/.test(s));
const validRow = fc.record({
  phone: fc.stringMatching(/^\+?\d{6,15}$/),
  first_name: value,
  timeZone: fc.option(fc.constantFrom("UTC", "Europe/Madrid", "Asia/Tokyo"), { nil: undefined }),
});
type Valid = { phone: string; first_name: string; timeZone: string | undefined };
const hostileJson = fc.oneof(
  fc.constant("{not json"),
  fc.constant("[1,2]"),
  fc.constant('{"phone": 5}'),
  fc.constant('{"phone": "1", "extra": true}'),
  fc.constant('{"phone": "1", "params": {"Bad-Name": "x"}}'),
  fc.constant('{"phone": "1", "params": {"a": 1}}'),
  fc.constant('{"phone": "1", "timeZone": "Mars/Base"}'),
  fc.constant(`{"phone": "1", "params": {"a": "${"x".repeat(70_000)}"}}`),
  fc
    .string({ minLength: 1, maxLength: 30 })
    .filter((s) => !/[\r\n]/.test(s) && s.trim() !== "" && !s.trim().startsWith("{")),
);
const hostileCsv = fc.oneof(
  fc.constant('"unclosed,x,'),
  fc.constant("a,b"),
  fc.constant("a,b,c,d"),
  fc.constant('x"y,1,'),
  fc.constant("+34612345601,Ana,Mars/Base"),
  fc.constant(`+34612345601,${"x".repeat(70_000)},`),
);
const csvQuote = (s: string) =>
  /[",]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;

describe("readAudience over hostile files (property)", () => {
  for (const format of ["jsonl", "csv"] as const) {
    it(`${format}: keeps each valid row once, in order, and gives each hostile line its own problem`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              { weight: 3, arbitrary: validRow.map((v) => ({ valid: v })) },
              {
                weight: 1,
                arbitrary: (format === "csv" ? hostileCsv : hostileJson).map((h) => ({
                  hostile: h,
                })),
              },
            ),
            { maxLength: 40 },
          ),
          fc.array(fc.nat(), { maxLength: 8 }),
          async (items, cuts) => {
            const lines = items.map((item) => {
              if ("hostile" in item) return item.hostile;
              const v: Valid = item.valid;
              return format === "jsonl"
                ? JSON.stringify({
                    phone: v.phone,
                    params: { first_name: v.first_name },
                    ...(v.timeZone === undefined ? {} : { timeZone: v.timeZone }),
                  })
                : [v.phone, csvQuote(v.first_name), v.timeZone ?? ""].join(",");
            });
            const text =
              (format === "csv" ? "phone,first_name,time_zone\n" : "") + lines.join("\n") + "\n";
            const rows = await collect(
              readAudience(chunked(text, cuts), { format, maxLineBytes: 65_536 }),
            );
            expect(rows.map((r) => r.index)).toEqual(items.map((_, i) => i));
            items.forEach((item, i) => {
              const r = rows[i];
              expect(r?.line).toBe(i + (format === "csv" ? 2 : 1));
              if ("hostile" in item) {
                expect(r).toMatchObject({
                  ok: false,
                  problem: expect.stringMatching(new RegExp(`^line ${r?.line ?? 0}`)) as unknown,
                });
                return;
              }
              const v: Valid = item.valid;
              expect(r).toEqual({
                ok: true,
                index: i,
                line: r?.line,
                phone: v.phone,
                params: { first_name: format === "csv" ? v.first_name.trim() : v.first_name },
                ...(v.timeZone === undefined ? {} : { timeZone: v.timeZone }),
              });
            });
          },
        ),
        { numRuns: 200 },
      );
    });
  }

  it("never holds an over-long line: it is one problem and the next row still reads", async () => {
    const huge = "x".repeat(5_000_000);
    const rows = await collect(
      readAudience(
        chunked(`{"phone":"${huge}"}\n{"phone":"+34612345601"}\n`, [1000, 70_000, 3_000_000]),
        {
          format: "jsonl",
          maxLineBytes: 1024,
        },
      ),
    );
    expect(rows).toEqual([
      { ok: false, index: 0, line: 1, problem: "line 1 is longer than 1024 bytes" },
      { ok: true, index: 1, line: 2, phone: "+34612345601", params: {} },
    ]);
  });
});
