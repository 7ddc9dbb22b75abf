import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ConsentCommand } from "../../ledger/decide.js";
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

describe("import: batches in flight", () => {
  const row = (contact: number, i: number) =>
    `${JSON.stringify({
      contactId: `4477${String(1_000_000 + contact)}`,
      decision: "granted",
      purposes: ["marketing"],
      occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      channel: "web",
      businessName: "Acme",
      wording: { text: "Offers on WhatsApp? Yes" },
    })}\n`;
  const bodyOf = (contacts: readonly number[]) =>
    (async function* () {
      for (const [i, c] of contacts.entries()) {
        await Promise.resolve(); // a chunk arrives later, as from a socket
        yield Buffer.from(row(c, i), "utf8");
      }
    })();
  const rowOf = (command: ConsentCommand | undefined) =>
    Number((command?.type === "RecordConsent" ? command.inputId : "").split(":row:")[1]);

  it("decides the next batch while one is in its round trips, and no more than batchesInFlight (2)", async () => {
    const gates: (() => void)[] = [];
    const answers: unknown[] = [];
    const done = (async () => {
      for await (const line of importRows({
        body: bodyOf(Array.from({ length: 2_000 }, (_, i) => i)),
        format: "jsonl",
        ledger: { handle: () => new Promise<void>((resolve) => gates.push(resolve)) },
        clock: () => new Date("2026-12-06T00:00:00Z"),
        recordedBy: "test",
        importId: "import:gate",
        batchesInFlight: 2,
      }))
        answers.push(line);
    })();
    const settle = async () => {
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    // 2,000 rows of distinct contacts, none decided yet: two batches of 500 started, not four.
    expect(gates.length).toBe(500 * 2);
    while (gates.length > 0) {
      for (const open of gates.splice(0)) open();
      await settle();
    }
    await done;
    expect(answers.at(-1)).toMatchObject({ done: { rows: 2_000, recorded: 2_000, refused: 0 } });
  });

  it("hands a contact's rows of a batch over in one call; a refused row alone is refused, with its reason", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 1_500 }),
        fc.integer({ min: 2, max: 9 }),
        async (contacts, refuseEvery) => {
          // The ledger refuses every row numbered a multiple of refuseEvery, and with it the
          // whole call it came in (nothing of a refused call is recorded, as the runtime does).
          const recordedRows: number[] = [];
          let calls = 0;
          const answers: unknown[] = [];
          for await (const line of importRows({
            body: bodyOf(contacts),
            format: "jsonl",
            ledger: {
              handle: (commands) => {
                calls++;
                const rows = commands.map((c) => rowOf(c.command));
                const bad = rows.find((r) => r % refuseEvery === 0);
                if (bad !== undefined) {
                  return Promise.reject(new Error(`row ${String(bad)} refused by the ledger`));
                }
                recordedRows.push(...rows);
                return Promise.resolve();
              },
            },
            clock: () => new Date("2026-12-06T00:00:00Z"),
            recordedBy: "test",
            importId: "import:groups",
          }))
            answers.push(line);
          const refusedLines = answers.filter(
            (l): l is { row: number; reason: string } =>
              typeof l === "object" && l !== null && "status" in l,
          );
          const all = contacts.map((_, i) => i + 1);
          const bad = all.filter((r) => r % refuseEvery === 0);
          expect(refusedLines.map((l) => l.row).sort((a, b) => a - b)).toEqual(bad);
          for (const l of refusedLines)
            expect(l.reason).toBe(`row ${String(l.row)} refused by the ledger`);
          expect([...recordedRows].sort((a, b) => a - b)).toEqual(
            all.filter((r) => r % refuseEvery !== 0),
          );
          expect(answers.at(-1)).toMatchObject({
            done: { rows: contacts.length, recorded: all.length - bad.length, refused: bad.length },
          });
          // Without refusals a contact's rows of a batch take one call: at most one per contact
          // and batch when nothing is refused, so never more calls than rows.
          if (bad.length === 0) {
            const batches = Math.ceil(contacts.length / 500);
            expect(calls).toBeLessThanOrEqual(Math.min(contacts.length, 31 * batches));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("decides each contact's rows in their order, one at a time, whatever the batches hold", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 2_500 }),
        fc.integer({ min: 0, max: 3 }),
        async (contacts, delay) => {
          const seen = new Map<string, number[]>();
          const open = new Set<string>();
          let last: unknown;
          for await (const line of importRows({
            body: bodyOf(contacts),
            format: "jsonl",
            ledger: {
              handle: async (commands) => {
                const key = commands[0]?.key ?? "";
                // One contact per call, its rows in order; never two calls for it at once.
                expect(commands.every((c) => c.key === key)).toBe(true);
                expect(open.has(key)).toBe(false);
                open.add(key);
                for (let i = 0; i < delay; i++) await new Promise((r) => setImmediate(r));
                seen.set(key, [...(seen.get(key) ?? []), ...commands.map((c) => rowOf(c.command))]);
                open.delete(key);
              },
            },
            clock: () => new Date("2026-12-06T00:00:00Z"),
            recordedBy: "test",
            importId: "import:order",
            batchesInFlight: 2,
          }))
            last = line;
          expect(last).toMatchObject({
            done: { rows: contacts.length, recorded: contacts.length },
          });
          for (const rows of seen.values()) expect(rows).toEqual([...rows].sort((a, b) => a - b));
          expect([...seen.values()].flat()).toHaveLength(contacts.length);
        },
      ),
      { numRuns: 30 },
    );
  });
});
