import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csvField } from "./csv.js";
import { csvFields, importRows, linesOf } from "./import.js";

async function collect(chunks: readonly string[], max?: number) {
  async function* body() {
    for (const c of chunks) {
      await Promise.resolve(); // a chunk arrives later, as from a socket
      yield Buffer.from(c, "utf8");
    }
  }
  const out: (string | undefined)[] = [];
  for await (const line of linesOf(body(), max)) out.push(line);
  return out;
}

describe("import: lines of a streamed body", () => {
  it("gives the same lines however the body is cut into chunks", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ unit: "grapheme-ascii", maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, "")),
          { maxLength: 20 },
        ),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }),
        async (lines, cuts) => {
          const text = lines.map((l) => `${l}\n`).join("");
          const chunks: string[] = [];
          let at = 0;
          for (let i = 0; at < text.length; i++) {
            const size = cuts[i % cuts.length] ?? 1;
            chunks.push(text.slice(at, at + size));
            at += size;
          }
          expect(await collect(chunks)).toEqual(lines);
        },
      ),
    );
  });

  it("refuses an over-long line without holding it, and goes on with the next", async () => {
    expect(await collect(["ab", "c".repeat(50), "d\nok\n", "e".repeat(30)], 20)).toEqual([
      undefined,
      "ok",
      undefined,
    ]);
    expect(await collect(["a\r\nb"])).toEqual(["a", "b"]);
  });
});

describe("import: CSV fields", () => {
  it("reads back every row written with csvField, quotes and commas included", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc
            .string({ maxLength: 12 })
            .map((s) => s.replace(/[\r\n]/g, "").replace(/^[=+\-@\t]/, "x")),
          { minLength: 1, maxLength: 8 },
        ),
        (cells) => {
          const line = cells.map(csvField).join(",");
          expect(csvFields(line)).toEqual(cells);
        },
      ),
    );
  });

  it("answers undefined for unbalanced quotes, never throws", () => {
    expect(csvFields('a,"b')).toBeUndefined();
    expect(csvFields('a,b"c')).toBeUndefined();
    expect(csvFields('"a"b')).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (line) => {
        const fields = csvFields(line);
        expect(fields === undefined || Array.isArray(fields)).toBe(true);
      }),
    );
  });
});

describe("import: refusals stream", () => {
  it("answers refused rows while the body is still coming, not all at the end", async () => {
    const rows = 5_000;
    let read = 0;
    async function* body() {
      for (let i = 0; i < rows; i++) {
        await Promise.resolve();
        read++;
        yield Buffer.from(`not json ${String(i)}\n`, "utf8");
      }
    }
    const readAtFirstAnswer: number[] = [];
    let refused = 0;
    for await (const line of importRows({
      body: body(),
      format: "jsonl",
      ledger: {
        handle: () => Promise.reject(new Error("an all-refused import decides nothing")),
      },
      clock: () => new Date("2026-12-06T00:00:00Z"),
      recordedBy: "test",
      importId: "import:stream",
    })) {
      if (readAtFirstAnswer.length === 0) readAtFirstAnswer.push(read);
      if ("status" in line) refused++;
      if ("done" in line) expect(line.done).toMatchObject({ rows, recorded: 0, refused: rows });
    }
    expect(refused).toBe(rows);
    // The first refusals come out after about one batch of rows (500), long before the end.
    expect(readAtFirstAnswer[0]).toBeLessThan(1_000);
  });
});
