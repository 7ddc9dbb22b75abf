import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { scanLogs } from "./log-scan.js";

const SECRET = "chaos-graph-token-3f9a1c";
const PHONE = "16505700042";
const dir = mkdtempSync(join(tmpdir(), "log-scan-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("scanLogs", () => {
  it("finds each planted secret and whole phone number, and nothing in clean or masked logs", () => {
    let run = 0;
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 80 }), { maxLength: 20 }),
        fc.constantFrom("none", "secret", "phone", "masked"),
        (lines, plant) => {
          const sub = join(dir, String(run++));
          rmSync(sub, { recursive: true, force: true });
          // Random text cannot hold the planted values by chance: digits are cut to 9.
          const clean = lines.map((l) => l.replace(/\d{10,}/g, "123456789").replaceAll(SECRET, ""));
          const planted = {
            none: [],
            secret: [`{"level":30,"msg":"calling graph","auth":"Bearer ${SECRET}"}`],
            phone: [`{"level":50,"to":"+${PHONE}"}`],
            masked: [`{"level":30,"to":"+1650*****42"}`],
          }[plant];
          mkdirSync(sub, { recursive: true });
          writeFileSync(join(sub, "sender-1.log"), [...clean, ...planted].join("\n"));
          writeFileSync(join(sub, "notes.txt"), `${SECRET} ${PHONE}`);
          const scan = scanLogs(sub, [SECRET], new Set([PHONE]));
          expect(scan.files).toBe(1);
          const expected =
            plant === "secret"
              ? ["sender-1.log: the secret chaos-…"]
              : plant === "phone"
                ? ["sender-1.log: the phone number 1650… unmasked"]
                : [];
          expect(scan.findings).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
